// The transformer checkpoint check: the fixture's llm/model.safetensors satisfies its config
// (buffers lvl_1L / attn_bias_for_masking recomputed, diffloss.* left to the diffusion model), and
// missing, unexpected or mis-shaped tensors are reported by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapWeightStore, type StoredTensor } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { checkTransformerWeights, expectedWeights, HartTransformer, inferVocabAndCvae, parseHartConfig } from '../../../src/models/transformer/index.ts';
import { fixtureModel } from './helpers.ts';

test('the fixture checkpoint matches its config', () => {
  const { cfg, weights } = fixtureModel();
  const { V, Cvae } = inferVocabAndCvae((n) => weights.get(n)?.shape);
  assert.deepEqual([V, Cvae], [64, 8]);
  checkTransformerWeights(cfg, weights, V, Cvae);
  const transformerKeys = [...weights.keys()].filter((k) => !k.startsWith('diffloss.') && k !== 'lvl_1L' && k !== 'attn_bias_for_masking');
  assert.deepEqual([...expectedWeights(cfg, V, Cvae).keys()].sort(), transformerKeys.sort());
});

test('mismatches are reported by tensor name', async () => {
  const { cfg, weights } = fixtureModel();
  const broken = new Map<string, StoredTensor>(weights);
  broken.delete('blocks.1.ffn.up_proj.weight');
  broken.set('blocks.0.attn.proj.weight', { dtype: 'float32', shape: [64, 32], data: new Float32Array(2048) });
  broken.set('blocks.0.ada_lin.1.weight', { dtype: 'float32', shape: [384, 64], data: new Float32Array(384 * 64) });
  assert.throws(() => checkTransformerWeights(cfg, broken, 64, 8), (e: Error) =>
    /missing tensor blocks\.1\.ffn\.up_proj\.weight \[256,64\]/.test(e.message) &&
    /blocks\.0\.attn\.proj\.weight has shape \[64,32\], the config implies \[64,64\]/.test(e.message) &&
    /unexpected tensor blocks\.0\.ada_lin\.1\.weight/.test(e.message));
  // A config that disagrees with the checkpoint (patch_nums) is caught through the buffers' shapes.
  const other = parseHartConfig({ ...cfg, patch_nums: [1, 2, 3, 4, 5, 6, 7] });
  assert.throws(() => checkTransformerWeights(other, weights, 64, 8), /lvl_1L has shape \[1,162\], the config implies \[1,147\]/);
  const rt = nodeRuntime({ threads: 1 });
  await assert.rejects(HartTransformer.fromWeights(cfg, new MapWeightStore(broken), rt), /missing tensor blocks\.1\.ffn\.up_proj\.weight/);
  await rt.dispose();
});
