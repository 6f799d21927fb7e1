// HARTForT2IConfig parsing: the fixture's config.json, the official code defaults, strict
// rejection of unknown fields and wrong types, and the derived sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertSupported, hartDims, HART_T2I_DEFAULTS, parseHartConfig } from '../../../src/models/transformer/config.ts';
import { fixtureDir } from '../../fixtures.ts';

const fixtureJson = () => JSON.parse(readFileSync(join(fixtureDir(), 'llm', 'config.json'), 'utf8'));

test('parses the fixture llm/config.json', () => {
  const cfg = parseHartConfig(fixtureJson());
  assert.equal(cfg.embed_dim, 64);
  assert.equal(cfg.disable_aln, true);
  assert.deepEqual(cfg.patch_nums, [1, 2, 3, 4, 5, 6, 8]);
  assert.equal(cfg.num_sampling_steps, '8');
  assert.equal(cfg.vae_path, null);
  const d = hartDims(cfg);
  assert.equal(d.headDim, 32);
  assert.equal(d.ffnHidden, 256);
  assert.equal(d.L, 155);
  assert.equal(d.seqLen, 162);
  assert.equal(d.lastScaleStart, 98);
  assert.equal(d.attnScale, 0.25 / Math.sqrt(32));
  assertSupported(cfg);
});

test('code defaults fill absent fields; the released model sizes derive as in spec §3', () => {
  const cfg = parseHartConfig({});
  assert.deepEqual(cfg, { ...HART_T2I_DEFAULTS });
  const big = parseHartConfig({
    context_token: 300, context_dim: 1536, depth: 24, embed_dim: 1536, num_heads: 24, mlp_type: 'llama', attn_type: 'llama',
    patch_nums: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64], disable_aln: true, use_timestep_embed: true, use_context_norm: true,
  });
  const d = hartDims(big);
  assert.equal(d.ffnHidden, 4096);
  assert.equal(d.L, 9451);
  assert.equal(d.seqLen, 9750);
  assert.equal(d.headDim, 64);
});

test('rejects unknown fields, wrong types and other model types; tolerates HF bookkeeping', () => {
  assert.throws(() => parseHartConfig({ ...fixtureJson(), embed_dims: 64 }), /unknown field "embed_dims"/);
  assert.throws(() => parseHartConfig({ ...fixtureJson(), depth: '2' }), /"depth" must be an integer/);
  assert.throws(() => parseHartConfig({ ...fixtureJson(), mlp_type: 'swiglu' }), /"mlp_type" must be one of "llama", "gpt2"/);
  assert.throws(() => parseHartConfig({ ...fixtureJson(), model_type: 'hart_autoencoder_with_disc' }), /model_type/);
  assert.throws(() => parseHartConfig({ ...fixtureJson(), num_heads: 3 }), /not divisible by num_heads/);
  const cfg = parseHartConfig({ ...fixtureJson(), transformers_version: '4.42.2', _name_or_path: 'x/llm', torch_dtype: 'float16' });
  assert.equal(cfg.depth, 2);
  assert.throws(() => assertSupported(parseHartConfig({ ...fixtureJson(), mlp_type: 'gpt2', use_cross_attn: true })),
    /unsupported config: mlp_type "gpt2".*use_cross_attn/);
});
