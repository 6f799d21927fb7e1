// Every vector-Jacobian rule against central finite differences in float64 (checkGrads: loss Σ y·r
// for a random r, every input and parameter element perturbed). Float32-only kernels (Conv, Erf)
// are checked against finite differences of a float64 TypeScript reference instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, concat, emitOnnx, grad } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { MapWeightStore, Params } from '../../src/nn/params.ts';
import type { StoredTensor } from '../../src/nn/params.ts';
import { groupNorm, layerNorm, linear, rmsNorm } from '../../src/nn/layers.ts';
import { attention } from '../../src/nn/attention.ts';
import { areaMatrix, bicubicMatrix } from '../../src/tables/resample.ts';
import { assertClose, checkGrads, evaluate, feed, runtime } from './harness.ts';
import * as R from './ref.ts';

const away = (shape: number[], seed: number, lo: number, hi: number) => ({ shape, data: R.uniform(R.numel(shape), seed, lo, hi) });
const I64 = (g: Graph, v: number[], shape: number[]) => g.constant(BigInt64Array.from(v.map(BigInt)), shape);

test('unary rules', async () => {
  const signed = (s: number) => {
    // values in ±[0.2, 1.5]: away from the kinks of abs and relu at 0
    const d = R.uniform(12, s, 0.2, 1.5);
    return d.map((v, i) => (i % 2 ? -v : v));
  };
  const cases: [string, (x: Tensor) => Tensor, ArrayLike<number>][] = [
    ['neg', (x) => x.neg(), R.uniform(12, 1)],
    ['abs', (x) => x.abs(), signed(2)],
    ['sqrt', (x) => x.sqrt(), R.uniform(12, 3, 0.2, 2)],
    ['rsqrt', (x) => x.rsqrt(), R.uniform(12, 3, 0.2, 2)],
    ['exp', (x) => x.exp(), R.uniform(12, 4)],
    ['log', (x) => x.log(), R.uniform(12, 5, 0.2, 2)],
    ['tanh', (x) => x.tanh(), R.uniform(12, 6, -2, 2)],
    ['sigmoid', (x) => x.sigmoid(), R.uniform(12, 7, -3, 3)],
    ['sin', (x) => x.sin(), R.uniform(12, 8, -3, 3)],
    ['cos', (x) => x.cos(), R.uniform(12, 9, -3, 3)],
    ['reciprocal', (x) => x.reciprocal(), signed(10)],
    ['relu', (x) => x.relu(), signed(11)],
    ['silu', (x) => x.silu(), R.uniform(12, 12, -3, 3)],
    ['gelu tanh', (x) => x.gelu('tanh'), R.uniform(12, 13, -3, 3)],
    ['pow by a number', (x) => x.pow(3), R.uniform(12, 14, -2, 2)],
    ['chain', (x) => x.mul(x).add(1).log().tanh().mul(x.exp()), R.uniform(12, 15)],
  ];
  for (const [name, f, data] of cases) {
    await assert.doesNotReject(checkGrads((_, [x]) => f(x), [{ name: 'x', shape: [3, 4], data }]), name);
  }
});

test('float32-only unary kernels (erf, exact gelu) against a float64 reference', async () => {
  // float32 gradients of O(1) values: relative error ~1e-7, well inside 1e-5.
  const xs = [{ name: 'x', shape: [10], data: R.uniform(10, 20, -2.5, 2.5) }];
  await checkGrads((_, [x]) => x.erf(), xs, { dtype: 'float32', reference: ([x]) => R.map(R.erf, x), rtol: 1e-5, atol: 1e-6 });
  await checkGrads((_, [x]) => x.gelu(), xs, {
    dtype: 'float32', reference: ([x]) => R.map((v) => 0.5 * v * (1 + R.erf(v / Math.SQRT2)), x), rtol: 1e-5, atol: 1e-6,
  });
});

test('binary rules with broadcasting on both sides', async () => {
  const ops: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ['add', (a, b) => a.add(b)], ['sub', (a, b) => a.sub(b)], ['mul', (a, b) => a.mul(b)], ['div', (a, b) => a.div(b)],
    ['pow', (a, b) => a.pow(b)], ['maximum', (a, b) => a.maximum(b)], ['minimum', (a, b) => a.minimum(b)],
  ];
  const shapes: [number[], number[]][] = [[[2, 3, 4], [3, 1]], [[4], [2, 3, 1]], [[2, 1, 4], []]];
  for (const [name, f] of ops) {
    for (const [sa, sb] of shapes) {
      // positive operands keep pow and div smooth
      await assert.doesNotReject(checkGrads((_, [a, b]) => f(a, b), [
        { name: 'a', shape: sa, data: R.uniform(R.numel(sa), 30, 0.5, 2) },
        { name: 'b', shape: sb, data: R.uniform(R.numel(sb), 31, 0.5, 2) },
      ]), `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
    }
  }
});

test('where, clamp, cast, detach', async () => {
  await checkGrads((g, [a, b]) => {
    const c = g.constant(Uint8Array.from([1, 0, 0, 1, 1, 0]), [2, 3, 1], 'bool');
    return c.where(a, b);
  }, [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [1, 4] }]);
  await checkGrads((_, [x]) => x.gt(0).where(x.mul(x), x.neg()), [{ name: 'x', shape: [8], data: R.uniform(8, 2).map((v) => v + Math.sign(v) * 0.1) }]);
  await checkGrads((_, [x]) => x.clamp(-0.5, 0.3), [{ name: 'x', shape: [10], data: [-0.9, -0.6, -0.4, 0, 0.1, 0.25, 0.35, 0.9, -0.45, 0.28] }]);
  // Cast to float32 and back has derivative 1 but rounds x to 24 bits (~6e-8·|x|); with a step of
  // 1e-2 that rounding shifts the difference quotient by < 1e-5 relative.
  await checkGrads((_, [x]) => x.cast('float32').mul(x.cast('float32')).cast('float64'), [{ name: 'x', shape: [6] }], { eps: 1e-2, rtol: 1e-4, atol: 1e-6 });
  // detach: y = x · stop(x) has gradient stop(x) = x, not 2x
  const g = new Graph();
  const x = g.input('x', 'float64', [5]);
  const [gx] = grad(x.mul(x.detach()).sum([0]), [x]);
  const xv = R.rand([5], 3);
  const res = await evaluate({ gx }, { x: feed(xv) });
  assertClose(res.gx, xv, {}, 'detach');
});

test('matmul rules with batch broadcasting and symbolic batch', async () => {
  for (const [sa, sb] of [[[3, 4], [4, 2]], [[2, 1, 3, 4], [5, 4, 2]], [[3, 4], [2, 4, 5]], [[2, 3, 4], [1, 4, 2]]]) {
    await assert.doesNotReject(checkGrads((_, [a, b]) => a.matmul(b), [{ name: 'a', shape: sa }, { name: 'b', shape: sb }]), `${sa} @ ${sb}`);
  }
  await checkGrads((_, [a, b]) => a.matmul(b).matmul(b.mT()), [
    { name: 'a', shape: [2, 3, 4], dims: ['B', 'L', 4] }, { name: 'b', shape: [4, 3] },
  ]);
});

test('reduction rules (keepdims, several axes, symbolic mean) and broadcasting back', async () => {
  const x = [{ name: 'x', shape: [2, 3, 4] }];
  for (const [axes, keep] of [[[0], false], [[1], true], [[-1], false], [[0, 2], true], [[0, 1, 2], false]] as [number[], boolean][]) {
    await assert.doesNotReject(checkGrads((_, [t]) => t.sum(axes, keep), x), `sum ${axes}`);
    await assert.doesNotReject(checkGrads((_, [t]) => t.mean(axes, keep), x), `mean ${axes}`);
    await assert.doesNotReject(checkGrads((_, [t]) => t.max(axes, keep), x), `max ${axes}`);
  }
  await checkGrads((_, [t]) => t.sub(t.mean([-1], true)).div(t.mul(t).sum([0], true).add(1)), x);
  await checkGrads((_, [t]) => t.mean([1]).mul(t.max([1, 2], true).squeeze([1, 2]).unsqueeze([1])), [
    { name: 'x', shape: [2, 5, 3], dims: ['B', 'L', 3] },
  ]);
});

test('softmax and log-softmax rules', async () => {
  for (const axis of [0, 1, -1]) {
    await assert.doesNotReject(checkGrads((_, [t]) => t.softmax(axis), [{ name: 'x', shape: [3, 4, 2] }]), `softmax ${axis}`);
    await assert.doesNotReject(checkGrads((_, [t]) => t.logSoftmax(axis), [{ name: 'x', shape: [3, 4, 2] }]), `logSoftmax ${axis}`);
  }
  // cross-entropy through one-hot targets
  await checkGrads((g, [t]) => t.logSoftmax(-1).mul(I64(g, [2, 0, 3], [3]).oneHot(5, 'float64')).sum([0, 1]).neg(), [{ name: 'logits', shape: [3, 5] }]);
});

test('layout rules: reshape, transpose, (un)squeeze, slice, split, concat, pad, expand', async () => {
  const x = [{ name: 'x', shape: [2, 3, 4] }];
  const cases: [string, (t: Tensor) => Tensor][] = [
    ['reshape', (t) => t.reshape([0, -1]).mul(t.reshape([4, 6]).mT().reshape([2, 12]))],
    ['transpose', (t) => t.transpose([2, 0, 1]).mul(t.transpose([2, 0, 1]))],
    ['unsqueeze/squeeze', (t) => t.unsqueeze([0, 3]).mul(t.unsqueeze([3]).exp()).squeeze([0])],
    ['slice', (t) => t.slice([2, 0], [-3, 1], [Infinity, 2]).mul(t.slice([1], [0], [-1]).sum([1], true).slice([2], [1], [Infinity]))],
    ['split', (t) => { const [a, b] = t.split(-1, [1, 3]); return a.mul(b); }],
    ['concat', (t) => concat([t, t.mul(t), t.slice([1], [1], [2])], 1)],
    ['pad', (t) => t.pad([1, 0, 0, 0, 2, 1], 0.5).mul(t.pad([1, 0, 0, 0, 2, 1]))],
    ['expand', (t) => t.slice([1], [0], [1]).expand([2, 3, 4]).mul(t)],
    ['expandAs/reshapeAs', (t) => t.sum([1], true).expandAs(t).mul(t).reshape([-1]).reshapeAs(t)],
  ];
  for (const [name, f] of cases) await assert.doesNotReject(checkGrads((_, [t]) => f(t), x), name);
  // symbolic axes: reshape with 0/-1, slices, concat and pad along symbolic sizes
  await checkGrads((_, [a, b]) => {
    const c = concat([a, b.mul(b)], 1);
    return c.reshape([0, -1]).softmax(-1).reshapeAs(c).slice([1], [1], [-1]).pad([0, 1, 0, 0, 1, 0]).mul(c);
  }, [{ name: 'a', shape: [2, 3, 2], dims: ['B', 'L', 2] }, { name: 'b', shape: [2, 2, 2], dims: ['B', 'P', 2] }]);
});

test('gather (embedding with repeats, several axes), gatherND, scatterNDAdd rules', async () => {
  const x = [{ name: 'x', shape: [4, 3, 5] }];
  await checkGrads((g, [t]) => t.gather(I64(g, [1, 3, 1, 0, 1, 2], [2, 3]), 0), x);
  await checkGrads((g, [t]) => t.gather(I64(g, [2, 2, 0], [3]), 1), x);
  await checkGrads((g, [t]) => t.gather(I64(g, [4, 0, 4, -1], [2, 2]), -1), x);
  await checkGrads((g, [t]) => t.gather(g.constant(Int32Array.from([3, 3]), [2]), 0), x);
  await checkGrads((g, [t]) => t.gatherND(I64(g, [1, 2, 1, 2, 3, 0], [3, 2])), x);
  await checkGrads((g, [t, u]) => t.scatterNDAdd(I64(g, [2, 0, 2], [3, 1]), u), [{ name: 'x', shape: [3, 4] }, { name: 'u', shape: [3, 4] }]);
  // embedding with a symbolic number of tokens, ids fed at run time
  await checkGrads((g, [t, w]) => w.gather(g.input('ids', 'int64', ['T']), 0).mul(t), [
    { name: 'x', shape: [5, 4], dims: ['T', 4] }, { name: 'w', shape: [6, 4] },
  ], { feeds: { ids: feed(R.arr([5], [5, 0, 5, 2, 0]), 'int64') } });
});

// ---- conv2d: float32 kernels, checked against a float64 direct-loop reference -----------------

// float32 convolutions sum ≤ 50 products in [-1, 1]; their gradients carry ~1e-6 relative error.
const CONV_TOL = { dtype: 'float32' as const, rtol: 1e-4, atol: 2e-5 };

test('conv2d rules: input, weight, bias; stride 2 with VQGAN padding; groups; depthwise; dilation', async () => {
  const cases: { x: number[]; w: number[]; bias: boolean; o: R.ConvRefOpts }[] = [
    { x: [2, 3, 5, 5], w: [4, 3, 3, 3], bias: true, o: { pads: [1, 1, 1, 1] } },
    { x: [1, 3, 8, 8], w: [4, 3, 3, 3], bias: true, o: { strides: [2, 2], pads: [0, 0, 1, 1] } }, // Downsample
    { x: [1, 2, 7, 6], w: [3, 2, 3, 3], bias: false, o: { strides: [2, 2], pads: [1, 1, 1, 1] } }, // odd remainder
    { x: [2, 4, 5, 5], w: [6, 2, 3, 3], bias: true, o: { group: 2 } },
    { x: [2, 3, 5, 4], w: [3, 1, 3, 3], bias: false, o: { group: 3, pads: [1, 1, 1, 1] } },
    { x: [1, 2, 7, 7], w: [2, 2, 3, 3], bias: true, o: { dilations: [2, 2], pads: [1, 2, 1, 0] } },
    { x: [1, 4, 6, 7], w: [4, 2, 2, 3], bias: true, o: { strides: [2, 3], dilations: [1, 2], pads: [0, 1, 1, 0], group: 2 } },
  ];
  for (const c of cases) {
    const inputs = [{ name: 'x', shape: c.x }, { name: 'w', shape: c.w }, ...(c.bias ? [{ name: 'b', shape: [c.w[0]] }] : [])];
    await assert.doesNotReject(checkGrads((_, [x, w, b]) => x.conv2d(w, b, c.o), inputs, {
      ...CONV_TOL, reference: ([x, w, b]) => R.conv2d(x, w, b ?? null, c.o),
    }), JSON.stringify(c));
  }
});

test('conv2d rules with a symbolic batch (the weight gradient convolves over the batch)', async () => {
  for (const o of [{ pads: [1, 1, 1, 1] }, { group: 2, strides: [2, 2] }] as R.ConvRefOpts[]) {
    await assert.doesNotReject(checkGrads((_, [x, w, b]) => x.conv2d(w, b, o), [
      { name: 'x', shape: [3, 4, 5, 5], dims: ['N', 4, 5, 5] }, { name: 'w', shape: [2, 4 / (o.group ?? 1), 3, 3] }, { name: 'b', shape: [2] },
    ], { ...CONV_TOL, reference: ([x, w, b]) => R.conv2d(x, w, b, o) }), JSON.stringify(o));
  }
});

// ---- src/nn norms, linear, attention; resampling matrices -------------------------------------

function params64(g: Graph, weights: Record<string, number[]>): Params {
  const m = new Map<string, StoredTensor>();
  let seed = 100;
  for (const [name, shape] of Object.entries(weights)) {
    m.set(name, { dtype: 'float64', shape, data: R.uniform(R.numel(shape), seed++, 0.5, 1.5) });
  }
  return new Params(g, new MapWeightStore(m), '', 'float64');
}

test('norm rules from src/nn: rmsNorm, layerNorm, groupNorm (inputs and affine weights)', async () => {
  await checkGrads((g, [x]) => rmsNorm(params64(g, { weight: [6] }), x, 1e-6), [{ name: 'x', shape: [2, 3, 6] }]);
  await checkGrads((g, [x]) => layerNorm(params64(g, { weight: [6], bias: [6] }), x, 1e-6), [{ name: 'x', shape: [4, 6] }]);
  await checkGrads((_, [x]) => layerNorm(null, x, 1e-6), [{ name: 'x', shape: [2, 5], dims: ['B', 5] }]);
  await checkGrads((g, [x]) => groupNorm(params64(g, { weight: [4], bias: [4] }), x, 2, 1e-6), [{ name: 'x', shape: [2, 4, 3, 2] }]);
});

test('float32-only image ops (ops/image.ts): GroupNormalize and UpsampleNearest against float64 references', async () => {
  // GroupNormalize: (x − μ)/√(σ² + ε) per sample and group of C/G channels × H × W values
  const groupNormRef = ([x]: R.Arr[], G: number, eps: number): R.Arr => {
    const [N, C] = x.shape, per = (C / G) * (R.numel(x.shape) / (N * C));
    const out = new Float64Array(x.data.length);
    for (let k = 0; k < N * G; k++) {
      let mu = 0, v = 0;
      for (let i = 0; i < per; i++) mu += x.data[k * per + i] / per;
      for (let i = 0; i < per; i++) v += (x.data[k * per + i] - mu) ** 2 / per;
      for (let i = 0; i < per; i++) out[k * per + i] = (x.data[k * per + i] - mu) / Math.sqrt(v + eps);
    }
    return { shape: x.shape, data: out };
  };
  // float32 normalised values of O(1): relative error ~1e-6 on the gradient
  const opts = { dtype: 'float32' as const, rtol: 2e-4, atol: 2e-5 };
  await checkGrads((_, [x]) => x.groupNormalize(2, 1e-6), [{ name: 'x', shape: [2, 4, 3, 2] }], { ...opts, reference: (xs) => groupNormRef(xs, 2, 1e-6) });
  await checkGrads((_, [x]) => x.groupNormalize(3, 1e-2), [{ name: 'x', shape: [1, 6, 2, 3] }], { ...opts, reference: (xs) => groupNormRef(xs, 3, 1e-2) });
  // the same as the primitive spelling groupNorm uses for other dtypes (float64 here)
  await checkGrads((g, [x]) => groupNorm(params64(g, { weight: [6], bias: [6] }), x, 3, 1e-2), [{ name: 'x', shape: [1, 6, 2, 3] }]);
  // UpsampleNearest: copies, so the gradient of each input pixel is its block's sum
  const upRef = ([x]: R.Arr[], s: number): R.Arr => {
    const [N, C, H, W] = x.shape;
    const out = new Float64Array(N * C * s * s * H * W);
    for (let p = 0; p < N * C; p++) for (let i = 0; i < s * H; i++) for (let j = 0; j < s * W; j++) {
      out[(p * s * H + i) * s * W + j] = x.data[(p * H + Math.floor(i / s)) * W + Math.floor(j / s)];
    }
    return { shape: [N, C, s * H, s * W], data: out };
  };
  await checkGrads((_, [x]) => x.upsampleNearest(2), [{ name: 'x', shape: [2, 2, 3, 2] }], { ...opts, reference: (xs) => upRef(xs, 2) });
  await checkGrads((_, [x]) => x.upsampleNearest(3), [{ name: 'x', shape: [1, 2, 2, 3] }], { ...opts, reference: (xs) => upRef(xs, 3) });
  assert.throws(() => new Graph().input('x', 'float64', [1, 2, 2, 2]).upsampleNearest(2), /float32 only/);
  assert.throws(() => new Graph().input('x', 'float32', [1, 6, 2, 2]).groupNormalize(4, 1e-6), /not divisible by 4 groups/);
});

test('linear and attention (src/nn) rules', async () => {
  await checkGrads((g, [x]) => linear(params64(g, { weight: [3, 4], bias: [3] }), x, 3).silu(), [{ name: 'x', shape: [2, 5, 4] }]);
  await checkGrads((g, [q, k, v]) => {
    const mask = g.constant(Float64Array.from([0, -1e9, 0, 0, 0, -1e9, 0, 0, 0, 0, 0, 0]), [3, 4]);
    return attention(q, k, v, 0.5, mask);
  }, [{ name: 'q', shape: [1, 2, 3, 4] }, { name: 'k', shape: [1, 2, 4, 4] }, { name: 'v', shape: [1, 2, 4, 4] }]);
});

test('resampling by matrices (bicubic up, area down) rules', async () => {
  const resize = (x: Tensor, mH: Float64Array, oH: number, mW: Float64Array, oW: number) => {
    const [, , H, W] = x.shape as number[];
    return x.graph.constant(mH, [oH, H]).matmul(x).matmul(x.graph.constant(mW, [oW, W]).mT());
  };
  await checkGrads((_, [x]) => resize(x, bicubicMatrix(3, 8, 'float64'), 8, bicubicMatrix(4, 6, 'float64'), 6), [{ name: 'x', shape: [1, 2, 3, 4] }]);
  await checkGrads((_, [x]) => resize(x, areaMatrix(9, 4), 4, areaMatrix(7, 3), 3), [{ name: 'x', shape: [2, 1, 9, 7] }]);
});

test('maximum / minimum split the gradient at ties (torch.maximum semantics)', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [4]);
  const zero = g.scalar(0, 'float64');
  const [gmax] = grad(x.maximum(zero).sum([0]), [x]);
  const [gmin] = grad(x.minimum(x).sum([0]), [x]);
  const res = await evaluate({ gmax, gmin }, { x: feed(R.arr([4], [-1, 0, 2, 0])) });
  assert.deepEqual(Array.from(res.gmax.data), [0, 0.5, 1, 0.5]);
  assert.deepEqual(Array.from(res.gmin.data), [1, 1, 1, 1]);
});

test('grad: unused inputs get zeros, a seed replaces the scalar loss, dtypes are kept', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 3]);
  const unused = g.input('u', 'float64', [4]);
  const y = x.mul(x);
  const seed = g.input('seed', 'float64', [2, 3]);
  const [gx, gu] = grad(y, [x, unused], seed);
  const xv = R.rand([2, 3], 1), sv = R.rand([2, 3], 2);
  const res = await evaluate({ gx, gu }, { x: feed(xv), u: feed(R.rand([4], 3)), seed: feed(sv) });
  assertClose(res.gx, R.map((a, s) => 2 * a * s, xv, sv), { atol: 1e-15 }, 'seeded gradient');
  assertClose(res.gu, R.map(() => 0, R.rand([4], 3)), {}, 'unused');
  assert.throws(() => grad(y, [x]), /not a scalar/);
  // gradient models run as their own graphs too (emitted with the forward pass)
  const m = emitOnnx({ outputs: { gx }, paramsAsInputs: true });
  assert.deepEqual(m.inputNames.sort(), ['seed', 'x']);
  await runtime.load(m);
});
