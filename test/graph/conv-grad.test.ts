// The conv gradient lowerings (src/graph/ops/conv-lowering.ts: weight gradient over im2col taps per
// image or as one GEMM, input gradient as a flipped-kernel Conv or ConvTranspose; conv.ts' 'legacy'
// lowering) against direct float64 loops of the adjoint sums (dx[n,c,·] = Σ w·g, dw[o,c,i,j] =
// Σ g·x_pad), at sizes that take both weight-gradient branches (Ho·Wo below and above 256), with
// strides, asymmetric padding (also wider than the kernel's reach), dilation, groups, 1×1 kernels and
// a symbolic batch; plus finite differences of the float64 reference at one larger size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, grad } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import type { ConvAttrs } from '../../src/graph/ops/conv.ts';
import { im2col } from '../../src/graph/ops/conv-lowering.ts';
import { assertClose, checkGrads, evaluate, feed } from './harness.ts';
import * as R from './ref.ts';

interface Case { x: number[]; w: number[]; o: R.ConvRefOpts }

const attrsOf = (o: R.ConvRefOpts): ConvAttrs => ({
  strides: o.strides ?? [1, 1], pads: o.pads ?? [0, 0, 0, 0], dilations: o.dilations ?? [1, 1], group: o.group ?? 1,
});

/** Input position (or -1 in the padding) read by output (oh, ow) at kernel tap (i, j). */
function tap(a: ConvAttrs, H: number, W: number, oh: number, ow: number, i: number, j: number): [number, number] | null {
  const ih = oh * a.strides[0] - a.pads[0] + i * a.dilations[0], iw = ow * a.strides[1] - a.pads[1] + j * a.dilations[1];
  return ih < 0 || ih >= H || iw < 0 || iw >= W ? null : [ih, iw];
}

/** dL/dx and dL/dw of L = Σ conv(x, w)·g, by direct float64 loops over every (n, o, oh, ow, c, i, j). */
function adjoints(x: R.Arr, w: R.Arr, g: R.Arr, o: R.ConvRefOpts): { dx: R.Arr; dw: R.Arr } {
  const a = attrsOf(o);
  const [N, C, H, W] = x.shape, [O, Cg, kh, kw] = w.shape, [, , Ho, Wo] = g.shape;
  const Og = O / a.group;
  const dx = new Float64Array(x.data.length), dw = new Float64Array(w.data.length);
  for (let n = 0; n < N; n++) for (let oc = 0; oc < O; oc++) {
    const grp = Math.floor(oc / Og);
    for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
      const gv = g.data[((n * O + oc) * Ho + oh) * Wo + ow];
      for (let c = 0; c < Cg; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        const p = tap(a, H, W, oh, ow, i, j);
        if (!p) continue;
        const xi = ((n * C + grp * Cg + c) * H + p[0]) * W + p[1], wi = ((oc * Cg + c) * kh + i) * kw + j;
        dx[xi] += w.data[wi] * gv;
        dw[wi] += x.data[xi] * gv;
      }
    }
  }
  return { dx: { shape: x.shape, data: dx }, dw: { shape: w.shape, data: dw } };
}

const CASES: Case[] = [
  // Ho·Wo ≥ 256: one product per image, summed over the batch
  { x: [3, 4, 18, 17], w: [5, 4, 3, 3], o: { pads: [1, 1, 1, 1] } },
  { x: [2, 3, 34, 33], w: [4, 3, 3, 3], o: { strides: [2, 2], pads: [0, 0, 1, 1] } }, // VQGAN Downsample
  { x: [2, 4, 20, 19], w: [6, 2, 3, 2], o: { group: 2, dilations: [2, 1], pads: [2, 0, 1, 1] } },
  { x: [2, 6, 16, 16], w: [3, 6, 1, 1], o: {} }, // 1×1: no patches, x itself
  // Ho·Wo < 256: one GEMM over (n, h, w)
  { x: [3, 4, 6, 7], w: [5, 4, 3, 3], o: { pads: [1, 1, 1, 1] } },
  { x: [2, 4, 9, 8], w: [4, 2, 2, 3], o: { strides: [2, 3], dilations: [1, 2], pads: [0, 1, 1, 0], group: 2 } },
  { x: [2, 3, 7, 6], w: [3, 1, 3, 3], o: { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] } }, // depthwise, odd remainder
  { x: [2, 5, 4, 4], w: [2, 5, 1, 1], o: { strides: [2, 2] } },
  { x: [2, 3, 5, 4], w: [2, 3, 1, 1], o: { pads: [1, 0, 1, 2] } }, // pad beyond the kernel: ConvTranspose
];

// float32 gradients sum up to N·Ho·Wo ≈ 2300 products of values in [-1, 1] (dw) or ≤ 54 (dx):
// rounding grows like √n·2^-24·|partial sums| ≈ 1e-5 at most here, so 1e-4 absolute is a bound
// with margin that still catches any wrong tap, channel or batch term (each is O(1)).
const TOL = { atol: 1e-4, rtol: 1e-5 };

test('conv gradients (both lowerings, every branch) equal direct float64 adjoint sums', async () => {
  for (const lowering of ['im2col', 'legacy'] as const) {
    const g = new Graph();
    const outs: Record<string, Tensor> = {}, feeds: Record<string, ReturnType<typeof feed>> = {};
    const want: Record<string, R.Arr> = {};
    CASES.forEach((c, k) => {
      // a symbolic batch for half the cases: the lowering must not depend on N
      const x = g.input(`x${k}`, 'float32', k % 2 ? ['N', ...c.x.slice(1)] : c.x);
      const w = g.input(`w${k}`, 'float32', c.w);
      const y = x.conv2d(w, undefined, c.o);
      (y.node!.attrs as unknown as ConvAttrs).gradLowering = lowering;
      const yRef = R.conv2d(R.rand(c.x, 1), R.rand(c.w, 2), null, c.o);
      const gy = g.input(`g${k}`, 'float32', [...y.shape]);
      const [dx, dw] = grad(y, [x, w], gy);
      outs[`dx${k}`] = dx;
      outs[`dw${k}`] = dw;
      const xv = R.rand(c.x, 100 + k), wv = R.rand(c.w, 200 + k), gv = R.rand(yRef.shape, 300 + k);
      feeds[`x${k}`] = feed(xv, 'float32');
      feeds[`w${k}`] = feed(wv, 'float32');
      feeds[`g${k}`] = feed(gv, 'float32');
      const ref = adjoints(xv, wv, gv, c.o);
      want[`dx${k}`] = ref.dx;
      want[`dw${k}`] = ref.dw;
    });
    const res = await evaluate(outs, feeds);
    CASES.forEach((c, k) => {
      assertClose(res[`dx${k}`], want[`dx${k}`], TOL, `${lowering} dx ${JSON.stringify(c)}`);
      assertClose(res[`dw${k}`], want[`dw${k}`], TOL, `${lowering} dw ${JSON.stringify(c)}`);
    });
  }
});

test('im2col rows are (c, i, j), columns (h, w), holding the padded input at h·s + i·d, w·s + j·d', async () => {
  const cases: Case[] = [
    { x: [2, 3, 6, 5], w: [1, 3, 3, 3], o: { pads: [1, 1, 1, 1] } },
    { x: [1, 2, 9, 8], w: [1, 2, 2, 3], o: { strides: [3, 2], dilations: [2, 1], pads: [1, 0, 0, 2] } },
    { x: [2, 2, 4, 4], w: [1, 2, 1, 1], o: {} },
  ];
  const g = new Graph();
  const outs: Record<string, Tensor> = {}, feeds: Record<string, ReturnType<typeof feed>> = {};
  const want: Record<string, R.Arr> = {};
  cases.forEach((c, k) => {
    const a = attrsOf(c.o);
    const [N, C, H, W] = c.x, [, , kh, kw] = c.w;
    const x = g.input(`x${k}`, 'float32', ['N', C, H, W]);
    outs[`c${k}`] = im2col(x, [kh, kw], a);
    const xv = R.rand(c.x, 400 + k);
    feeds[`x${k}`] = feed(xv, 'float32');
    const [, , Ho, Wo] = R.conv2d(xv, R.rand(c.w, 1), null, c.o).shape;
    const out = new Float64Array(N * C * kh * kw * Ho * Wo);
    for (let n = 0; n < N; n++) for (let ch = 0; ch < C; ch++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
        const p = tap(a, H, W, oh, ow, i, j);
        out[(((n * C + ch) * kh + i) * kw + j) * Ho * Wo + oh * Wo + ow] = p ? xv.data[((n * C + ch) * H + p[0]) * W + p[1]] : 0;
      }
    }
    want[`c${k}`] = { shape: [N, C * kh * kw, Ho * Wo], data: out };
    assert.deepEqual(outs[`c${k}`].shape, ['N', C * kh * kw, Ho * Wo]);
  });
  const res = await evaluate(outs, feeds);
  cases.forEach((_, k) => assertClose(res[`c${k}`], want[`c${k}`], {}, `im2col case ${k}`));
});

test('conv rules at a size that takes the per-image im2col branch, against finite differences of the float64 reference', async () => {
  // Ho·Wo = 256: sums of ≤ 2·256 products; 2e-4 relative / 5e-5 absolute covers their float32 rounding.
  for (const o of [{ pads: [1, 1, 1, 1] }, { strides: [2, 2], pads: [0, 0, 1, 1] }] as R.ConvRefOpts[]) {
    const H = o.strides ? 32 : 16;
    await assert.doesNotReject(checkGrads((_, [x, w, b]) => x.conv2d(w, b, o), [
      { name: 'x', shape: [2, 2, H, H], dims: ['N', 2, H, H] }, { name: 'w', shape: [3, 2, 3, 3] }, { name: 'b', shape: [3] },
    ], { dtype: 'float32', rtol: 2e-4, atol: 5e-5, maxPerTensor: 40, reference: ([x, w, b]) => R.conv2d(x, w, b, o) }), JSON.stringify(o));
  }
});
