// Training-forward parity: forward() on the fixture's teacher-forced sequence, with the official
// random masking replayed (recorded orders and mask rate) and the recorded condition drop, against
// train_full.* / train_masked.* (block-0 input, last hidden states, logits, level mask); plus a
// finite-difference check that the graph differentiates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitOnnx, grad, Graph } from '../../../src/graph/index.ts';
import { Params } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import type { HostTensor } from '../../../src/runtime/host-tensor.ts';
import {
  forward, forwardInputs, hartDims, lastScaleKeep, levelIds, levelMask, trainingFeeds, trainingRopeTables,
} from '../../../src/models/transformer/index.ts';
import { float32, tensor } from '../../tables/reference.ts';
import { fixtureModel, report } from './helpers.ts';

const TOL = 1e-4;

function batchOf(run: string) {
  const { cfg } = fixtureModel();
  const d = hartDims(cfg);
  const orders = [tensor(`rng.${run}.00.perm`).data, tensor(`rng.${run}.01.perm`).data];
  const keep = lastScaleKeep(orders, tensor(`${run}.mask_rate`).data[0], d.lastScaleTokens);
  const pos = tensor('ctx.context_position_ids').data;
  return {
    context: float32('ctx.context'),
    contextPositionIds: [Array.from(pos.subarray(0, 8)), Array.from(pos.subarray(8, 16))],
    x_BLCv: float32('tf.x_BLCv_wo_first_l'),
    keep,
    dropCondition: Array.from(tensor(`rng.${run}.02.randn`).data, (v) => v < cfg.cond_drop_rate),
  };
}

test('random masking and level ids replay the official ones', () => {
  const { cfg } = fixtureModel();
  const d = hartDims(cfg);
  for (const run of ['train_full', 'train_masked']) {
    const want = tensor(`${run}.kept_last_scale`).data;
    assert.deepEqual(batchOf(run).keep.flat().map(Number), Array.from(want), run);
  }
  assert.deepEqual(Array.from(levelIds(d)), Array.from(tensor('emb.lvl_1L').data));
});

test('training forward matches the official HARTForT2I.forward (full and masked last scale)', async () => {
  const { cfg, store } = fixtureModel();
  const d = hartDims(cfg);
  const g = new Graph();
  const inp = forwardInputs(g, cfg, 8);
  const out = forward(new Params(g, store), cfg, inp, 64);
  const rt = nodeRuntime({ threads: 2 });
  const s = await rt.load(emitOnnx({
    outputs: { logits: out.logits_BLV, hidden: out.hidden_BSC, x0: out.x0_BSC, last: out.lastHidden_BKC, mask: levelMask(inp.lvl_S) },
  }));
  for (const run of ['train_full', 'train_masked']) {
    const batch = batchOf(run);
    const feeds = trainingFeeds(d, 8, batch);
    // Our RoPE tables (tables/rope.ts) against the recorded ones.
    const rope = trainingRopeTables(d, batch.contextPositionIds, batch.keep);
    assert.ok(report(`${run} rope_cos`, rope.cos, float32(`${run}.rope_cos`)) < 1e-6);
    assert.ok(report(`${run} rope_sin`, rope.sin, float32(`${run}.rope_sin`)) < 1e-6);
    const r = await s.run(feeds as Record<string, HostTensor>);
    assert.deepEqual(r.logits.shape, tensor(`${run}.logits`).shape);
    const e = {
      x0: report(`${run} block0_input`, r.x0.data as Float32Array, float32(`${run}.block0_input`)),
      hidden: report(`${run} hidden`, r.hidden.data as Float32Array, float32(`${run}.hidden_last_layer`)),
      logits: report(`${run} logits`, r.logits.data as Float32Array, float32(`${run}.logits`)),
    };
    console.log(`  ${run} max |diff|: block0_input ${e.x0.toExponential(2)}, hidden ${e.hidden.toExponential(2)}, logits ${e.logits.toExponential(2)}`);
    assert.ok(e.x0 < TOL && e.hidden < TOL && e.logits < TOL, JSON.stringify(e));
    // Kept last-scale hidden states are the tail of the sequence.
    const K = r.last.shape[1], S = r.hidden.shape[1];
    assert.equal(K, run === 'train_full' ? 64 : 32);
    const hid = r.hidden.data as Float32Array, last = r.last.data as Float32Array;
    for (let b = 0; b < 2; b++) {
      assert.deepEqual(last.subarray(b * K * 64, (b + 1) * K * 64), hid.subarray((b * S + S - K) * 64, (b + 1) * S * 64));
    }
    // The block-causal mask equals the official attn_bias (recorded for train_full) on its top-left S×S block.
    const bias = tensor('train_full.attn_bias').data, m = r.mask.data as Float32Array;
    const N = Math.round(Math.sqrt(bias.length));
    for (let q = 0; q < S; q++) for (let k = 0; k < S; k++) assert.equal(m[q * S + k], bias[q * N + k]);
  }
  await rt.dispose();
});

test('training forward differentiates (directional derivative vs central differences)', async () => {
  const { cfg, store, weights } = fixtureModel();
  const d = hartDims(cfg);
  const g = new Graph();
  const inp = forwardInputs(g, cfg, 8);
  const p = new Params(g, store);
  const out = forward(p, cfg, inp, 64);
  const R = g.input('R', 'float32', out.logits_BLV.shape);
  const loss = out.logits_BLV.mul(R).sum([0, 1, 2]).add(out.lastHidden_BKC.mul(out.lastHidden_BKC).sum([0, 1, 2]).mul(0.01));
  const names = ['blocks.0.attn.qkv_proj.weight', 'lvl_embed.mlp.0.weight', 'context_norm.weight', 'blocks.1.ffn.up_proj.weight'];
  const wrt = names.map((n) => g.params.find((t) => t.name === n)!);
  const grads = grad(loss, wrt);
  const model = emitOnnx({ outputs: { loss, ...Object.fromEntries(grads.map((t, i) => [`g${i}`, t])) }, paramsAsInputs: true });
  const rt = nodeRuntime({ threads: 2 });
  const s = await rt.load(model);
  const feeds = trainingFeeds(d, 8, batchOf('train_masked')) as Record<string, HostTensor>;
  feeds.R = { dtype: 'float32', shape: [2, 123, 64], data: Float32Array.from({ length: 2 * 123 * 64 }, (_, i) => Math.sin(i * 0.37)) };
  const run = async (override?: Map<string, Float32Array>) => {
    const f: Record<string, HostTensor> = { ...feeds };
    for (const n of model.paramNames) {
      const w = weights.get(n)!;
      f[n] = { dtype: 'float32', shape: w.shape, data: override?.get(n) ?? (w.data as Float32Array) };
    }
    return s.run(f);
  };
  const base = await run();
  for (let i = 0; i < names.length; i++) {
    const w = weights.get(names[i])!.data as Float32Array;
    const dir = Float32Array.from(w, (_, k) => Math.cos(k * 1.3 + i));
    const gi = base[`g${i}`].data as Float32Array;
    let analytic = 0;
    for (let k = 0; k < w.length; k++) analytic += gi[k] * dir[k];
    const eps = 1e-2;
    const at = async (sgn: number) => (await run(new Map([[names[i], Float32Array.from(w, (v, k) => v + sgn * eps * dir[k])]]))).loss.data[0] as number;
    const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
    const rel = Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric));
    if (process.env.HART_TEST_VERBOSE) console.log(`  ${names[i]}: analytic ${analytic}, numeric ${numeric}, rel ${rel.toExponential(1)}`);
    assert.ok(rel < 2e-2, `${names[i]}: analytic ${analytic}, numeric ${numeric}`);
  }
  await rt.dispose();
});
