// Forward tests of conv2d (stride, asymmetric padding, groups, depthwise, dilation, symbolic sizes),
// nearest ×2 upsampling (src/nn) and resampling by the PyTorch-exact matrices of src/tables/resample.ts
// applied in the graph as matmuls, against direct per-pixel float64 computations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { upsampleNearest2x } from '../../src/nn/layers.ts';
import { areaMatrix, bicubicMatrix } from '../../src/tables/resample.ts';
import { assertClose, evaluate, feed } from './harness.ts';
import * as R from './ref.ts';

// Conv is float32-only in ONNX Runtime's CPU provider; sums of ≤ 50 products of values in [-1, 1]
// carry float32 rounding of a few 1e-7, so 2e-6 absolute is a tight bound.
const F32 = { atol: 2e-6, rtol: 1e-6 };

test('conv2d: stride, padding (asymmetric), groups, depthwise, dilation, bias', async () => {
  const cases: { x: number[]; w: number[]; bias: boolean; o: R.ConvRefOpts }[] = [
    { x: [2, 3, 7, 6], w: [4, 3, 3, 3], bias: true, o: {} },
    { x: [1, 3, 8, 8], w: [5, 3, 3, 3], bias: true, o: { strides: [2, 2], pads: [0, 0, 1, 1] } }, // VQGAN Downsample
    { x: [2, 2, 5, 7], w: [3, 2, 3, 2], bias: false, o: { strides: [1, 2], pads: [1, 0, 2, 1] } },
    { x: [1, 4, 6, 6], w: [6, 2, 3, 3], bias: true, o: { group: 2, pads: [1, 1, 1, 1] } },
    { x: [2, 3, 6, 5], w: [6, 1, 3, 3], bias: false, o: { group: 3, pads: [1, 1, 1, 1] } }, // depthwise ×2
    { x: [1, 2, 9, 9], w: [2, 2, 3, 3], bias: true, o: { dilations: [2, 2], pads: [2, 2, 2, 2] } },
    { x: [1, 2, 9, 8], w: [4, 2, 2, 3], bias: true, o: { strides: [3, 2], dilations: [2, 1], pads: [1, 0, 0, 2] } },
    { x: [2, 3, 4, 4], w: [2, 3, 1, 1], bias: true, o: {} },
  ];
  const g = new Graph();
  const outs: Record<string, Tensor> = {}, feeds: Record<string, ReturnType<typeof feed>> = {};
  const want: Record<string, R.Arr> = {};
  cases.forEach((c, i) => {
    const xv = R.rand(c.x, 30 + i), wv = R.rand(c.w, 40 + i), bv = R.rand([c.w[0]], 50 + i);
    const x = g.input(`x${i}`, 'float32', c.x), w = g.input(`w${i}`, 'float32', c.w);
    const b = c.bias ? g.input(`b${i}`, 'float32', [c.w[0]]) : undefined;
    outs[`y${i}`] = x.conv2d(w, b, c.o);
    feeds[`x${i}`] = feed(xv, 'float32');
    feeds[`w${i}`] = feed(wv, 'float32');
    if (b) feeds[`b${i}`] = feed(bv, 'float32');
    want[`y${i}`] = R.conv2d(xv, wv, c.bias ? bv : null, c.o);
    assert.deepEqual(outs[`y${i}`].shape, want[`y${i}`].shape, `inferred shape of case ${i}`);
  });
  const res = await evaluate(outs, feeds);
  for (const k of Object.keys(want)) assertClose(res[k], want[k], F32, k);
});

test('conv2d with symbolic batch and size: stride 1 keeps H, W symbolic so residual adds work', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['N', 3, 'H', 'W']);
  const wv = R.rand([3, 3, 3, 3], 60), w2v = R.rand([4, 3, 3, 3], 61);
  const w = g.param('w', [3, 3, 3, 3], Float32Array.from(wv.data));
  const w2 = g.param('w2', [4, 3, 3, 3], Float32Array.from(w2v.data));
  const y = x.add(x.conv2d(w, undefined, { pads: [1, 1, 1, 1] }));
  assert.deepEqual(y.shape, ['N', 3, 'H', 'W']);
  const valid = x.conv2d(w, undefined, {});
  assert.deepEqual(valid.shape, ['N', 3, '(H-2)', '(W-2)']);
  const down = x.pad([0, 0, 0, 0, 0, 0, 1, 1]).conv2d(w2, undefined, { strides: [2, 2] });
  assert.equal(down.shape[0], 'N');
  assert.equal(down.shape[1], 4);
  for (const [N, H, W] of [[1, 5, 6], [2, 8, 8]]) {
    const xv = R.rand([N, 3, H, W], N * H + W);
    const res = await evaluate({ y, valid, down }, { x: feed(xv, 'float32') });
    assertClose(res.y, R.map((a, b) => a + b, xv, R.conv2d(xv, wv, null, { pads: [1, 1, 1, 1] })), F32, `residual ${N}x${H}x${W}`);
    assertClose(res.valid, R.conv2d(xv, wv, null), F32, 'valid');
    assertClose(res.down, R.conv2d(R.pad(xv, [0, 0, 0, 0, 0, 0, 1, 1]), w2v, null, { strides: [2, 2] }), F32, 'downsample');
  }
});

/** Nearest ×2 of [N, C, H, W], pixel by pixel. */
function nearest2x(a: R.Arr): R.Arr {
  const [N, C, H, W] = a.shape;
  const out = new Float64Array(N * C * 4 * H * W);
  for (let p = 0; p < N * C; p++) for (let i = 0; i < 2 * H; i++) for (let j = 0; j < 2 * W; j++) {
    out[(p * 2 * H + i) * 2 * W + j] = a.data[(p * H + (i >> 1)) * W + (j >> 1)];
  }
  return { shape: [N, C, 2 * H, 2 * W], data: out };
}

test('nearest ×2 upsampling (src/nn) repeats each pixel 2×2, static and symbolic, float64 (Expand) and float32 (Resize)', async () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const g = new Graph();
    const x = g.input('x', dtype, [2, 3, 4, 5]);
    const s = g.input('s', dtype, ['N', 2, 'H', 'W']);
    const xv = R.rand([2, 3, 4, 5], 70), sv = R.rand([1, 2, 3, 2], 71);
    const up = upsampleNearest2x(x), ups = upsampleNearest2x(s);
    assert.deepEqual(up.shape, [2, 3, 8, 10]);
    assert.deepEqual(ups.shape, ['N', 2, '2*H', '2*W']);
    const res = await evaluate({ up, ups }, { x: feed(xv, dtype), s: feed(sv, dtype) });
    // copies, so exact in either dtype (the float32 reference is the float64 one rounded)
    const round = (a: R.Arr) => (dtype === 'float32' ? { shape: a.shape, data: Float64Array.from(Float32Array.from(a.data)) } : a);
    assertClose(res.up, round(nearest2x(xv)), { atol: 0, rtol: 0 }, `static ${dtype}`);
    assertClose(res.ups, round(nearest2x(sv)), { atol: 0, rtol: 0 }, `symbolic ${dtype}`);
  }
});

// ---- resampling: per-pixel formulas of PyTorch's F.interpolate, written independently ----------

const A = -0.75;
function cubic(t: number): number {
  const a = Math.abs(t);
  if (a <= 1) return ((A + 2) * a - (A + 3)) * a * a + 1;
  if (a < 2) return ((A * a - 5 * A) * a + 8 * A) * a - 4 * A;
  return 0;
}

/** F.interpolate(x, (oH, oW), mode='bicubic', align_corners=False) on one [H, W] plane, per output pixel. */
function bicubicPixel(x: Float64Array, H: number, W: number, oH: number, oW: number): Float64Array {
  const out = new Float64Array(oH * oW);
  const px = (i: number, j: number) => x[Math.min(Math.max(i, 0), H - 1) * W + Math.min(Math.max(j, 0), W - 1)];
  for (let oy = 0; oy < oH; oy++) for (let ox = 0; ox < oW; ox++) {
    const sy = (oy + 0.5) * (H / oH) - 0.5, sx = (ox + 0.5) * (W / oW) - 0.5;
    const y0 = Math.floor(sy), x0 = Math.floor(sx);
    let s = 0;
    for (let m = -1; m <= 2; m++) for (let n = -1; n <= 2; n++) s += px(y0 + m, x0 + n) * cubic(sy - (y0 + m)) * cubic(sx - (x0 + n));
    out[oy * oW + ox] = s;
  }
  return out;
}

/** F.interpolate(x, (oH, oW), mode='area') = adaptive_avg_pool2d on one plane, per output pixel. */
function areaPixel(x: Float64Array, H: number, W: number, oH: number, oW: number): Float64Array {
  const out = new Float64Array(oH * oW);
  for (let oy = 0; oy < oH; oy++) for (let ox = 0; ox < oW; ox++) {
    const ys = Math.floor((oy * H) / oH), ye = Math.ceil(((oy + 1) * H) / oH);
    const xs = Math.floor((ox * W) / oW), xe = Math.ceil(((ox + 1) * W) / oW);
    let s = 0;
    for (let i = ys; i < ye; i++) for (let j = xs; j < xe; j++) s += x[i * W + j];
    out[oy * oW + ox] = s / ((ye - ys) * (xe - xs));
  }
  return out;
}

/** The graph resize of x [N, C, H, W]: M_h · x · M_wᵀ, two matmuls broadcasting over N, C. */
function resizeGraph(x: Tensor, mH: Float64Array, oH: number, mW: Float64Array, oW: number): Tensor {
  const [, , H, W] = x.shape as number[];
  const g = x.graph;
  const Mh = g.constant(Float64Array.from(mH), [oH, H]);
  const MwT = g.constant(Float64Array.from(mW), [oW, W]).mT();
  return Mh.matmul(x).matmul(MwT);
}

test('resampling by bicubic/area matrices in the graph equals the per-pixel PyTorch formulas', async () => {
  const sizes: [number, number][] = [[3, 8], [36, 48], [64, 21], [8, 3]];
  const g = new Graph();
  const outs: Record<string, Tensor> = {}, feeds: Record<string, ReturnType<typeof feed>> = {};
  const want: Record<string, R.Arr> = {};
  sizes.forEach(([n, m], i) => {
    // non-square: H goes n -> m, W goes (n+1) -> (m-1), over N=2, C=2 planes
    const [H, W, oH, oW] = [n, n + 1, m, m - 1];
    const xv = R.rand([2, 2, H, W], 80 + i);
    const x = g.input(`x${i}`, 'float64', [2, 2, H, W]);
    feeds[`x${i}`] = feed(xv);
    outs[`cub${i}`] = resizeGraph(x, bicubicMatrix(H, oH, 'float64'), oH, bicubicMatrix(W, oW, 'float64'), oW);
    outs[`cub32_${i}`] = resizeGraph(x, bicubicMatrix(H, oH), oH, bicubicMatrix(W, oW), oW);
    outs[`area${i}`] = resizeGraph(x, areaMatrix(H, oH), oH, areaMatrix(W, oW), oW);
    const planes = (f: typeof areaPixel) => {
      const out = new Float64Array(4 * oH * oW);
      for (let p = 0; p < 4; p++) out.set(f(xv.data.subarray(p * H * W, (p + 1) * H * W), H, W, oH, oW), p * oH * oW);
      return { shape: [2, 2, oH, oW], data: out };
    };
    want[`cub${i}`] = planes(bicubicPixel);
    want[`area${i}`] = planes(areaPixel);
  });
  const res = await evaluate(outs, feeds);
  sizes.forEach(([n, m], i) => {
    assertClose(res[`cub${i}`], want[`cub${i}`], { atol: 1e-13 }, `bicubic ${n}->${m} (float64 matrices)`);
    // PyTorch's float32 kernel (the default matrices) rounds scale = in/out to float32 and the source
    // coordinate scale·(o + 0.5) − 0.5 with it, shifting taps by up to ~48 ulp-scale steps (~3e-6 px);
    // with cubic weights of slope ≤ ~1.5 and values in [-1, 1] that bounds the gap at ~2e-5.
    assertClose(res[`cub32_${i}`], want[`cub${i}`], { atol: 2e-5 }, `bicubic ${n}->${m} (float32 matrices)`);
    assertClose(res[`area${i}`], want[`area${i}`], { atol: 1e-14 }, `area ${n}->${m}`);
  });
});
