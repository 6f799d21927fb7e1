// The transformer checkpoint check: the fixture's llm/model.safetensors satisfies its config
// (buffers lvl_1L / attn_bias_for_masking recomputed, diffloss.* left to the diffusion model), and
// missing, unexpected or mis-shaped tensors are reported by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTorchBin } from '../../../src/io/torch-bin.ts';
import { bytesAccess } from '../../../src/io/tensor-source.ts';
import { safetensorsSource } from '../../../src/io/safetensors.ts';
import { MapWeightStore, type StoredTensor } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import {
  checkTransformerWeights, expectedWeights, HartTransformer, inferVocabAndCvae, loadTransformerWeights, parseHartConfig,
} from '../../../src/models/transformer/index.ts';
import { fixtureDir } from '../../fixtures.ts';
import { float32 } from '../../tables/reference.ts';
import { fixtureModel, hostF32, report } from './helpers.ts';

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

test('loads llm/ema_model.bin (torch.save zip) through io/torch-bin.ts: same tensors, same first step', async () => {
  const { cfg, weights } = fixtureModel();
  const bytes = new Uint8Array(readFileSync(join(fixtureDir(), 'llm', 'ema_model.bin')));
  const ckpt = await openTorchBin(bytesAccess(bytes), 'llm/ema_model.bin');
  assert.ok(ckpt.names().includes('attn_bias_for_masking') && ckpt.names().includes('lvl_1L'));
  const { store, V, Cvae } = await loadTransformerWeights(cfg, ckpt);
  assert.deepEqual([V, Cvae], [64, 8]);
  assert.equal(store.map.has('attn_bias_for_masking'), false, 'recomputed buffers are not read');
  for (const [name, t] of store.map) assert.deepEqual(t.data, weights.get(name)!.data, name);
  // The same loader on the safetensors file.
  const st = await loadTransformerWeights(cfg, await safetensorsSource(new Uint8Array(readFileSync(join(fixtureDir(), 'llm', 'model.safetensors')))));
  assert.equal(st.store.map.size, store.map.size);
  const rt = nodeRuntime({ threads: 1 });
  const t = await HartTransformer.fromWeights(cfg, store, rt);
  const gen = await t.begin(hostF32('ctx.context'), [[0, 1, 2, 3, 4, 5, 5, 5], [0, 1, 2, 2, 2, 2, 2, 2]]);
  const out = await t.step(gen);
  assert.ok(report('ema s0 logits', out.logits_BlV.data as Float32Array, float32('infer.s0.logits_raw')) < 1e-4);
  await rt.dispose();
});
