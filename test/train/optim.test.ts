// AdamW (host and in-graph), global-norm clipping, EMA and the warmup-cosine schedule against
// float64 hand computations of torch.optim.AdamW's documented update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, emitOnnx, grad } from '../../src/graph/index.ts';
import { AdamW, EMA, clipGradNorm, decayMatricesOnly, warmupCosine } from '../../src/train/optim.ts';
import { GraphTrainer } from '../../src/train/adamw-graph.ts';
import { hostTensor } from '../../src/runtime/host-tensor.ts';
import { assertClose, runtime } from '../graph/harness.ts';
import { uniform } from '../graph/ref.ts';

/** torch.optim.AdamW's loop, written out for one tensor in float64, literally as in torch/optim/adamw.py. */
function torchAdamW(
  theta0: number[], grads: number[][], lrs: number[], o: { b1: number; b2: number; eps: number; wd: number },
): number[][] {
  const theta = [...theta0], m = theta.map(() => 0), v = theta.map(() => 0);
  const history: number[][] = [];
  grads.forEach((g, s) => {
    const step = s + 1, lr = lrs[s];
    for (let i = 0; i < theta.length; i++) theta[i] *= 1 - lr * o.wd; // param.mul_(1 - lr * weight_decay)
    for (let i = 0; i < theta.length; i++) {
      m[i] += (g[i] - m[i]) * (1 - o.b1); // exp_avg.lerp_(grad, 1 - beta1)
      v[i] = v[i] * o.b2 + (1 - o.b2) * g[i] * g[i]; // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    }
    const bc1 = 1 - o.b1 ** step, bc2 = 1 - o.b2 ** step;
    const stepSize = lr / bc1, bc2Sqrt = Math.sqrt(bc2);
    for (let i = 0; i < theta.length; i++) {
      const denom = Math.sqrt(v[i]) / bc2Sqrt + o.eps;
      theta[i] += -stepSize * (m[i] / denom); // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
    history.push([...theta]);
  });
  return history;
}

test('AdamW matches torch.optim.AdamW step by step (float64), with decay masks and per-step lr', () => {
  const w0 = [0.5, -1.25, 2, 0.01, -0.3, 0.7], b0 = [0.1, -0.2];
  const gw = [[0.3, -0.1, 0.02, 1.5, -2, 0], [-0.2, 0.4, 0.02, -1, 1e-5, 0.1], [0.05, 0.05, -3, 0.5, 0.3, -0.2], [1, -1, 1, -1, 1, -1]];
  const gb = [[0.5, -0.5], [0.25, 0], [-0.1, 0.2], [0.3, 0.3]];
  const lrs = [0.01, 0.02, 0.005, 0.01];
  const o = { b1: 0.8, b2: 0.95, eps: 1e-6, wd: 0.1 };
  const w = Float64Array.from(w0), b = Float64Array.from(b0);
  const opt = new AdamW([{ name: 'w', shape: [2, 3], data: w }, { name: 'b', shape: [2], data: b }], {
    lr: 0.01, betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd, decay: decayMatricesOnly,
  });
  assert.deepEqual(opt.decays, [true, false]);
  const wantW = torchAdamW(w0, gw, lrs, o), wantB = torchAdamW(b0, gb, lrs, { ...o, wd: 0 });
  for (let s = 0; s < 4; s++) {
    if (s % 2) opt.step({ b: Float64Array.from(gb[s]), w: Float64Array.from(gw[s]) }, lrs[s]);
    else opt.step([Float64Array.from(gw[s]), Float64Array.from(gb[s])], lrs[s]);
    assertClose(w, wantW[s], { rtol: 1e-14, atol: 1e-16 }, `w after step ${s + 1}`);
    assertClose(b, wantB[s], { rtol: 1e-14, atol: 1e-16 }, `b after step ${s + 1}`);
  }
  assert.equal(opt.t, 4);
});

test('AdamW: the first step moves each weight by lr·g/(|g| + eps) after decay; float32 state', () => {
  const theta = Float32Array.from([1, -2, 0.5]);
  const opt = new AdamW([{ name: 'p', shape: [3], data: theta }], { lr: 0.1, weightDecay: 0.5 }); // torch defaults otherwise
  opt.step([Float32Array.from([0.2, -3, 1e-3])]);
  const want = [1 * 0.95 - 0.1 * (0.2 / (0.2 + 1e-8)), -2 * 0.95 + 0.1 * (3 / (3 + 1e-8)), 0.5 * 0.95 - 0.1 * (1e-3 / (1e-3 + 1e-8))];
  assertClose(theta, want, { rtol: 1e-7 }, 'first step');
  assert.ok(opt.m[0] instanceof Float32Array && opt.v[0] instanceof Float32Array);
  assertClose(opt.m[0], [0.02, -0.3, 1e-4], { rtol: 1e-7 }, 'm');
  assertClose(opt.v[0], [0.2 ** 2 * 1e-3, 9e-3, 1e-9], { rtol: 1e-6 }, 'v');
  assert.throws(() => opt.step([new Float32Array(2)]), /2 values/);
  assert.throws(() => opt.step({}), /no gradient for p/);
});

test('clipGradNorm scales all gradients to the global norm like clip_grad_norm_', () => {
  const a = Float32Array.from([3, 0]), b = Float64Array.from([0, 4]);
  const n = clipGradNorm([a, b], 1);
  assert.equal(n, 5);
  const c = 1 / (5 + 1e-6);
  assertClose(a, [3 * c, 0], { rtol: 1e-7 }, 'a');
  assertClose(b, [0, 4 * c], { rtol: 1e-15 }, 'b');
  const d = Float64Array.from([0.3, -0.4]);
  assert.equal(clipGradNorm([d], 1), 0.5);
  assert.deepEqual(Array.from(d), [0.3, -0.4], 'below the limit: untouched');
});

test('EMA of weights and the warmup-cosine schedule', () => {
  const p = Float64Array.from([1, 2]);
  const ema = new EMA([p], 0.9);
  p.set([2, 0]);
  ema.update([p]);
  assertClose(ema.shadow[0], [0.9 * 1 + 0.1 * 2, 0.9 * 2], { rtol: 1e-15 }, 'one update');
  p.set([0, 0]);
  ema.update([p]);
  assertClose(ema.shadow[0], [0.9 * 1.1, 0.9 * 1.8], { rtol: 1e-15 }, 'two updates');
  const q = new Float64Array(2);
  ema.copyTo([q]);
  assert.deepEqual(q, ema.shadow[0]);
  assert.equal(ema.updates, 2);

  const f = warmupCosine({ lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 });
  assert.equal(f(0), 0);
  assertClose([f(5), f(10), f(60), f(110), f(500)], [5e-4, 1e-3, 5.5e-4, 1e-4, 1e-4], { rtol: 1e-12 }, 'schedule');
  assertClose([f(35)], [1e-4 + 9e-4 * 0.5 * (1 + Math.cos(Math.PI / 4))], { rtol: 1e-12 }, 'quarter of the cosine');
  const noWarm = warmupCosine({ lr: 2, warmupSteps: 0, totalSteps: 4 });
  assertClose([0, 1, 2, 3, 4].map(noWarm), [2, 1 + Math.SQRT1_2, 1, 1 - Math.SQRT1_2, 0], { atol: 1e-15 }, 'no warmup');
});

test('in-graph AdamW (with clipping) equals host AdamW on the same gradients', async () => {
  // least squares with a linear layer; float64 so the two paths agree to rounding
  const build = () => {
    const g = new Graph();
    const x = g.input('x', 'float64', ['B', 3]);
    const y = g.input('y', 'float64', ['B', 2]);
    const w = g.param('w', [3, 2], uniform(6, 1));
    const b = g.param('b', [2], uniform(2, 2));
    const frozen = g.param('scale', [1], Float64Array.from([1.5]));
    const loss = x.matmul(w).add(b).mul(frozen).sub(y).pow(2).mean([0, 1]);
    return { g, loss, w, b };
  };
  const batches = [0, 1, 2].map((s) => ({
    x: hostTensor(uniform(12, 10 + s, -2, 2), [4, 3]), y: hostTensor(uniform(8, 20 + s, -2, 2), [4, 2]),
  }));
  const lrs = [0.1, 0.05, 0.2];
  const opts = { lr: 0.1, betas: [0.9, 0.99] as [number, number], eps: 1e-8, weightDecay: 0.3, decay: decayMatricesOnly, maxGradNorm: 0.5 };

  const a = build();
  const trainer = new GraphTrainer(a.loss, [a.w, a.b], opts);
  await trainer.load(runtime);

  const h = build();
  const [gw, gb] = grad(h.loss, [h.w, h.b]);
  const gradSession = await runtime.load(emitOnnx({ outputs: { loss: h.loss, gw, gb }, paramsAsInputs: true }));
  const w = Float64Array.from(h.w.value as Float64Array), b = Float64Array.from(h.b.value as Float64Array);
  const host = new AdamW([{ name: 'w', shape: [3, 2], data: w }, { name: 'b', shape: [2], data: b }], opts);

  for (let s = 0; s < 3; s++) {
    const out = await trainer.step(batches[s], lrs[s]);
    const r = await gradSession.run({ ...batches[s], w: hostTensor(w, [3, 2]), b: hostTensor(b, [2]), scale: hostTensor(Float64Array.from([1.5]), [1]) });
    assertClose(out.loss.data as Float64Array, r.loss.data as Float64Array, { rtol: 1e-14 }, `loss ${s}`);
    const grads = [Float64Array.from(r.gw.data as Float64Array), Float64Array.from(r.gb.data as Float64Array)];
    const norm = clipGradNorm(grads, opts.maxGradNorm);
    assert.ok(norm > opts.maxGradNorm, 'the test exercises clipping');
    assertClose(out['adamw.grad_norm'].data as Float64Array, [norm], { rtol: 1e-14 }, 'grad norm');
    host.step(grads, lrs[s]);
    assertClose(trainer.get('w'), w, { rtol: 1e-13, atol: 1e-15 }, `w after step ${s + 1}`);
    assertClose(trainer.get('b'), b, { rtol: 1e-13, atol: 1e-15 }, `b after step ${s + 1}`);
  }
  assert.equal(trainer.t, 3);
  assert.ok(trainer.model.paramNames.includes('scale'), 'frozen parameters are fed');
});
