// End-to-end training: a small MLP (gradient graph + host AdamW) and a small conv net (one compiled
// step with in-graph AdamW) learn known functions to a loss threshold within a few seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, emitOnnx, grad } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { AdamW, EMA, clipGradNorm, decayMatricesOnly, warmupCosine } from '../../src/train/optim.ts';
import { GraphTrainer } from '../../src/train/adamw-graph.ts';
import { hostTensor } from '../../src/runtime/host-tensor.ts';
import { runtime } from '../graph/harness.ts';
import * as R from '../graph/ref.ts';

/** torch.nn.Linear / Conv2d default init: U(−1/√fan_in, 1/√fan_in), deterministic here. */
function init(shape: number[], fanIn: number, seed: number): Float32Array {
  const b = 1 / Math.sqrt(fanIn);
  return Float32Array.from(R.uniform(R.numel(shape), seed, -b, b));
}

test('an MLP learns sin(2x)·cos(y) + xy/2 (gradient graph, host AdamW, warmup-cosine, clipping, EMA)', async () => {
  const N = 256;
  const xs = R.uniform(2 * N, 1, -1.5, 1.5);
  const f = (a: number, b: number) => Math.sin(2 * a) * Math.cos(b) + 0.5 * a * b;
  const ys = Float32Array.from({ length: N }, (_, i) => f(xs[2 * i], xs[2 * i + 1]));
  let variance = 0;
  const mean = ys.reduce((s, v) => s + v, 0) / N;
  for (const v of ys) variance += (v - mean) ** 2 / N;

  const g = new Graph();
  const x = g.input('x', 'float32', ['B', 2]);
  const y = g.input('y', 'float32', ['B', 1]);
  const H = 32;
  const layer = (h: Tensor, i: number, fanIn: number, out: number) =>
    h.matmul(g.param(`l${i}.weight`, [fanIn, out], init([fanIn, out], fanIn, 10 + i))).add(g.param(`l${i}.bias`, [out], init([out], fanIn, 20 + i)));
  const h1 = layer(x, 0, 2, H).tanh();
  const h2 = layer(h1, 1, H, H).silu();
  const pred = layer(h2, 2, H, 1);
  const loss = pred.sub(y).pow(2).mean([0, 1]);
  const params = g.params;
  const grads = grad(loss, params);
  const outs: Record<string, Tensor> = { loss };
  grads.forEach((t, i) => (outs[`g${i}`] = t));
  const session = await runtime.load(emitOnnx({ outputs: outs, paramsAsInputs: true }));

  const state = params.map((p) => ({ name: p.name!, shape: p.shape as number[], data: Float32Array.from(p.value as Float32Array) }));
  const opt = new AdamW(state, { lr: 1e-2, weightDecay: 1e-4, decay: decayMatricesOnly });
  const ema = new EMA(state.map((s) => s.data), 0.9);
  const steps = 600;
  const lr = warmupCosine({ lr: 2e-2, warmupSteps: 20, totalSteps: steps, minLr: 1e-3 });
  const feeds = { x: hostTensor(Float32Array.from(xs), [N, 2]), y: hostTensor(ys, [N, 1]) };
  const paramFeeds = () => Object.fromEntries(state.map((s) => [s.name, hostTensor(s.data, s.shape)]));
  const t0 = Date.now();
  let first = NaN, last = NaN;
  for (let s = 0; s < steps; s++) {
    const r = await session.run({ ...feeds, ...paramFeeds() });
    last = (r.loss.data as Float32Array)[0];
    if (s === 0) first = last;
    const gs = params.map((_, i) => r[`g${i}`].data as Float32Array);
    clipGradNorm(gs, 1);
    opt.step(gs, lr(s));
    ema.update(state.map((p) => p.data));
  }
  const ms = Date.now() - t0;
  // the EMA weights, evaluated, are as good (smoothed over the last ~10 steps of a converged run)
  ema.copyTo(state.map((p) => p.data));
  const emaLoss = ((await session.run({ ...feeds, ...paramFeeds() })).loss.data as Float32Array)[0];
  assert.ok(first > 0.3 * variance, `initial loss ${first} should be near the variance ${variance}`);
  assert.ok(last < 0.01 * variance, `final loss ${last} vs variance ${variance} (first ${first}), ${ms} ms`);
  assert.ok(emaLoss < 0.01 * variance, `EMA weights' loss ${emaLoss}`);
});

test('a conv net learns a fixed 3×3 filter + tanh (compiled step with in-graph AdamW)', async () => {
  const N = 16, S = 8;
  const K = R.rand([2, 1, 3, 3], 5, -0.8, 0.8);
  const xv = R.rand([N, 1, S, S], 6);
  const target = R.map(Math.tanh, R.conv2d(xv, K, null, { pads: [1, 1, 1, 1] }));
  let variance = 0;
  for (const v of target.data) variance += v * v / target.data.length;

  const g = new Graph();
  const x = g.input('x', 'float32', ['N', 1, S, S]);
  const y = g.input('y', 'float32', ['N', 2, S, S]);
  const conv = (h: Tensor, name: string, o: number, c: number, k: number, opts: { pads?: number[]; group?: number } = {}) => {
    const cg = c / (opts.group ?? 1);
    const w = g.param(`${name}.weight`, [o, cg, k, k], init([o, cg, k, k], cg * k * k, name.length * 7 + o));
    const b = g.param(`${name}.bias`, [o], init([o], cg * k * k, name.length * 11 + o));
    return h.conv2d(w, b, opts);
  };
  let h = conv(x, 'c1', 8, 1, 3, { pads: [1, 1, 1, 1] }).silu();
  h = conv(h, 'c2', 8, 8, 3, { pads: [1, 1, 1, 1], group: 2 }).silu();
  const pred = conv(h, 'c3', 2, 8, 1);
  const loss = pred.sub(y).pow(2).mean([0, 1, 2, 3]);
  const trainer = new GraphTrainer(loss, g.params, { lr: 1e-2, weightDecay: 0, maxGradNorm: 1 });
  await trainer.load(runtime);
  const feeds = { x: hostTensor(Float32Array.from(xv.data), xv.shape), y: hostTensor(Float32Array.from(target.data), target.shape) };
  const steps = 1000;
  const lr = warmupCosine({ lr: 2e-2, warmupSteps: 20, totalSteps: steps, minLr: 5e-4 });
  const t0 = Date.now();
  let first = NaN, last = NaN;
  for (let s = 0; s < steps; s++) {
    const out = await trainer.step(feeds, lr(s));
    last = (out.loss.data as Float32Array)[0];
    if (s === 0) first = last;
  }
  const ms = Date.now() - t0;
  assert.ok(first > 0.5 * variance, `initial loss ${first} vs target power ${variance}`);
  assert.ok(last < 0.01 * variance, `final loss ${last} vs target power ${variance} (first ${first}), ${ms} ms`);
});
