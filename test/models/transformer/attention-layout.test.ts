// The default attention layout (defaultAttentionLayout): the fewest score products per block whose
// largest score tensor fits the budget, at the released model's three official sizes and a tiny one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultAttentionLayout, hartDims, parseHartConfig } from '../../../src/models/transformer/index.ts';

const released = (patch_nums: number[]) => hartDims(parseHartConfig({
  depth: 24, embed_dim: 1536, num_heads: 24, context_token: 300, attn_type: 'llama', mlp_type: 'llama', patch_nums,
}));

test('256 and 512 px compute all heads and queries in one product; 1024 px in 8 groups × 2 chunks of 2048', () => {
  assert.deepEqual(defaultAttentionLayout(released([1, 2, 3, 4, 5, 6, 8, 10, 13, 16])), { headGroups: 1, queryChunk: 300 });
  assert.deepEqual(defaultAttentionLayout(released([1, 2, 3, 4, 6, 9, 13, 18, 24, 32])), { headGroups: 1, queryChunk: 1024 });
  const d1024 = released([1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64]);
  assert.equal(d1024.T + d1024.L - 1, 9750);
  assert.deepEqual(defaultAttentionLayout(d1024), { headGroups: 8, queryChunk: 2048 });
  // 3 heads × 2048 queries × 9,750 keys × CFG 2 × 4 bytes = 479 MB fits 512 MiB, 4 heads would not
  assert.ok(3 * 2048 * 9750 * 8 <= 512 * 2 ** 20 && 4 * 2048 * 9750 * 8 > 512 * 2 ** 20);
});

test('a smaller budget trades products for memory; a budget nothing fits gives one head per group in the smallest chunks', () => {
  const d1024 = released([1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64]);
  // 400 MiB: 24 × 1 chunk, 12 × 2 and 6 × 4 are all 24 products; the larger chunk wins
  assert.deepEqual(defaultAttentionLayout(d1024, 400 * 2 ** 20), { headGroups: 24, queryChunk: 4096 });
  const d512 = released([1, 2, 3, 4, 6, 9, 13, 18, 24, 32]);
  assert.deepEqual(defaultAttentionLayout(d512, 256 * 2 ** 20), { headGroups: 2, queryChunk: 1024 });
  assert.deepEqual(defaultAttentionLayout(d1024, 1), { headGroups: 24, queryChunk: 1024 });
});
