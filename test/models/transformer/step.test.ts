// Inference parity: HartTransformer (KV-cached step graph) driven scale by scale on the recorded
// teacher inputs of the official autoregressive_infer_cfg run (fixture infer.*), with RoPE tables
// from tables/rope.ts, against the recorded block-0 inputs, hidden states and raw logits; and the
// diffusion condition against infer.diff.cond_z.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { HartTransformer, stepRopeTables, hartDims } from '../../../src/models/transformer/index.ts';
import { float32, tensor } from '../../tables/reference.ts';
import { fixtureModel, hostF32, report } from './helpers.ts';

const TOL = 1e-4;

async function runAll(t: HartTransformer) {
  const pos = tensor('ctx.context_position_ids');
  const gen = await t.begin(hostF32('ctx.context'), [Array.from(pos.data.subarray(0, 8)), Array.from(pos.data.subarray(8, 16))]);
  report('cond_BD', gen.cond_BD.data as Float32Array, float32('infer.cond_BD'));
  assert.ok(report('s0 block0_input', gen.prefix_BTC!.data as Float32Array, float32('infer.s0.block0_input')) < 1e-5);
  const errs = { logits: 0, hidden: 0 };
  let last;
  for (let si = 0; si < 7; si++) {
    const out = await t.step(gen, si === 0 ? undefined : hostF32(`infer.s${si - 1}.next_input`));
    assert.deepEqual(out.logits_BlV.shape, tensor(`infer.s${si}.logits_raw`).shape);
    errs.logits = Math.max(errs.logits, report(`s${si} logits`, out.logits_BlV.data as Float32Array, float32(`infer.s${si}.logits_raw`)));
    errs.hidden = Math.max(errs.hidden, report(`s${si} hidden`, out.hidden_BlC.data as Float32Array, float32(`infer.s${si}.hidden_last_layer`)));
    last = out;
  }
  assert.equal(gen.si, 7);
  assert.deepEqual(Object.keys(gen.past), [], 'caches are released after the last scale');
  await assert.rejects(t.step(gen), /finished/);
  return { errs, last: last! };
}

test('HartTransformer steps match the official KV-cached inference at every scale', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 2 });
  const t = await HartTransformer.fromWeights(cfg, store, rt);
  assert.equal(t.dims.V, 64);
  assert.equal(t.dims.Cvae, 8);
  const { errs, last } = await runAll(t);
  console.log(`  infer max |diff|: logits ${errs.logits.toExponential(2)}, hidden ${errs.hidden.toExponential(2)}`);
  assert.ok(errs.logits < TOL && errs.hidden < TOL, JSON.stringify(errs));

  // Diffusion condition: decoder_norm(hidden + word_embed(codebook[idx])) for both CFG halves.
  const codebook = float32('vae.quantize.embedding.weight', 'tokenizer/model.safetensors'); // [64, 8]
  const idx = tensor('infer.s6.idx').data; // [2, 64]
  const e = new Float32Array(2 * 64 * 8);
  idx.forEach((v, k) => e.set(codebook.subarray(v * 8, v * 8 + 8), k * 8));
  const z = await t.diffusionCondition(last.hidden_BlC, { dtype: 'float32', shape: [2, 64, 8], data: e });
  assert.deepEqual(z.shape, [4, 64, 64]);
  const zErr = report('diffusion cond_z', z.data as Float32Array, float32('infer.diff.cond_z'));
  console.log(`  diffusion condition max |diff| ${zErr.toExponential(2)}`);
  assert.ok(zErr < TOL);
  await rt.dispose();
});

test('attention variants (head groups, query chunks, com.microsoft MultiHeadAttention) and one graph per block give the same steps', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 2 });
  // queryChunk 16: 4 chunks at the last scale (64 tokens), empty ones at the small scales
  for (const opts of [{ headGroups: 2 }, { kernel: 'mha' as const }, { maxSegmentBytes: 1 }, { headGroups: 2, queryChunk: 16 }]) {
    const t = await HartTransformer.fromWeights(cfg, store, rt, opts);
    if ('maxSegmentBytes' in opts) assert.equal(t.segmentCount, cfg.depth);
    const { errs } = await runAll(t);
    console.log(`  ${JSON.stringify(opts)}: logits ${errs.logits.toExponential(2)}, hidden ${errs.hidden.toExponential(2)}`);
    assert.ok(errs.logits < TOL && errs.hidden < TOL, `${JSON.stringify(opts)}: ${JSON.stringify(errs)}`);
  }
  await rt.dispose();
});

test('step RoPE tables equal the official ones (both CFG halves)', () => {
  const { cfg } = fixtureModel();
  const d = hartDims(cfg);
  const pos = tensor('ctx.context_position_ids').data;
  const rows = [Array.from(pos.subarray(0, 8)), Array.from(pos.subarray(8, 16))];
  let worst = 0;
  for (let si = 0; si < 7; si++) {
    const r = stepRopeTables(d, si, rows);
    worst = Math.max(worst, report(`s${si} cos`, r.cos, float32(`infer.s${si}.rope_cos`)), report(`s${si} sin`, r.sin, float32(`infer.s${si}.rope_sin`)));
  }
  // Correctly rounded here vs SLEEF in PyTorch: at most a float32 ulp or so.
  assert.ok(worst < 1e-6, `worst ${worst}`);
});

test('step input validation', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 1 });
  const t = await HartTransformer.fromWeights(cfg, store, rt);
  await assert.rejects(t.begin({ dtype: 'float32', shape: [1, 7, 32], data: new Float32Array(224) }, [[0, 1, 2, 3, 4, 5, 6]]), /context must be \[B, 8, 32\]/);
  const gen = await t.begin(hostF32('ctx.context'), [[0, 1, 2, 3, 4, 5, 5, 5], [0, 1, 2, 2, 2, 2, 2, 2]]);
  await assert.rejects(t.step(gen, hostF32('infer.s0.next_input')), /scale 0 runs on the context prefix/);
  await t.step(gen);
  await assert.rejects(t.step(gen, hostF32('infer.s1.next_input')), /scale 1 input must be \[2, 8, 2, 2\]/);
  await rt.dispose();
});
