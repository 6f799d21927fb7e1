// SimpleMLPAdaLN against the official forward / forward_with_cfg (fixture diffhead.*) and the
// TimestepEmbedder sinusoid and output against emb.diff_time_*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, emitOnnx } from '../../../src/graph/index.ts';
import { Params } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { DiffusionSampler, timestepEmbedder, timestepEmbedding } from '../../../src/models/diffusion/index.ts';
import { timestepFrequencies } from '../../../src/tables/schedules.ts';
import { float32, maxAbsDiff, tensor } from '../../tables/reference.ts';
import { llmWeights, tinyConfig } from './weights.ts';

const runtime = nodeRuntime({ threads: 2 });

test('config: sizes from llm/config.json and tokenizer/config.json', () => {
  assert.deepEqual(tinyConfig(), {
    in_channels: 8, width: 64, depth: 2, z_channels: 64, num_sampling_steps: '8',
    diffusion_batch_mul: 4, vae_scale: 0.6, diffusion_steps: 1000,
  });
});

test('timestep sinusoid and time_embed match emb.diff_time_* (float32 frequency order)', async () => {
  const freqs = timestepFrequencies(256);
  // torch computes exp(float32(-ln 1e4)·i / 128) in float32; i = 0 and the first steps are exact.
  assert.equal(freqs[0], 1);
  assert.equal(freqs[64], Math.fround(0.01)); // 10^-2, correctly rounded
  const g = new Graph();
  const t = g.input('t', 'int64', ['N']);
  const p = new Params(g, llmWeights(), 'diffloss.net.time_embed');
  const model = emitOnnx({ outputs: { sin: timestepEmbedding(t), emb: timestepEmbedder(p, t, 64) } });
  const s = await runtime.load(model);
  const ts = tensor('diff.table.timestep_map').data;
  const out = await s.run({ t: { dtype: 'int64', shape: [8], data: BigInt64Array.from(ts, (v) => BigInt(v)) } });
  const dSin = maxAbsDiff(out.sin.data as Float32Array, float32('emb.diff_time_sinusoid'));
  const dEmb = maxAbsDiff(out.emb.data as Float32Array, float32('emb.diff_time_embed'));
  console.log(`time sinusoid max |Δ| ${dSin.toExponential(2)}, time_embed max |Δ| ${dEmb.toExponential(2)}`);
  // cos/sin of ONNX Runtime and of torch each lie within an ulp or so of the true values
  assert.ok(dSin < 3e-7, `sinusoid ${dSin}`);
  assert.ok(dEmb < 5e-6, `time_embed ${dEmb}`);
});

test('SimpleMLPAdaLN.forward and forward_with_cfg match diffhead.out / diffhead.out_cfg', async () => {
  const sampler = await DiffusionSampler.create(runtime, llmWeights(), tinyConfig());
  const x = float32('diffhead.x'), c = float32('diffhead.c');
  const t = tensor('diffhead.t').data;
  const out = await sampler.forward(x, t, c);
  const dOut = maxAbsDiff(out, float32('diffhead.out'));
  const cfgOut = await sampler.forwardWithCfg(x, t, c, 3.75);
  const dCfg = maxAbsDiff(cfgOut, float32('diffhead.out_cfg'));
  console.log(`diffhead.out max |Δ| ${dOut.toExponential(2)}, diffhead.out_cfg max |Δ| ${dCfg.toExponential(2)}`);
  assert.ok(dOut < 1e-5 && dCfg < 3e-5, `${dOut} ${dCfg}`);
});
