// Tests for src/tables/resample.ts against independent float64 ports of PyTorch's per-pixel loops
// (legacy upsample_bicubic2d_out_frame with the textbook Keys kernel, adaptive_avg_pool2d).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bicubicMatrix, areaMatrix, resizePlanes } from '../../src/tables/resample.ts';

const A = -0.75;
function keys(x: number): number {
  const a = Math.abs(x);
  if (a <= 1) return (A + 2) * a ** 3 - (A + 3) * a ** 2 + 1;
  if (a < 2) return A * a ** 3 - 5 * A * a ** 2 + 8 * A * a - 4 * A;
  return 0;
}

// Per-pixel bicubic, align_corners=False: source = (dst + 0.5)·in/out − 0.5, taps clamped to the border.
function bicubicRef(x: Float64Array, H: number, W: number, oH: number, oW: number): Float64Array {
  const out = new Float64Array(oH * oW);
  const at = (y: number, xx: number) => x[Math.min(Math.max(y, 0), H - 1) * W + Math.min(Math.max(xx, 0), W - 1)];
  for (let oy = 0; oy < oH; oy++) {
    const ry = ((oy + 0.5) * H) / oH - 0.5, iy = Math.floor(ry), ty = ry - iy;
    for (let ox = 0; ox < oW; ox++) {
      const rx = ((ox + 0.5) * W) / oW - 0.5, ix = Math.floor(rx), tx = rx - ix;
      let s = 0;
      for (let a = -1; a <= 2; a++) {
        let row = 0;
        for (let b = -1; b <= 2; b++) row += at(iy + a, ix + b) * keys(b - tx);
        s += row * keys(a - ty);
      }
      out[oy * oW + ox] = s;
    }
  }
  return out;
}

// Per-pixel adaptive average pooling.
function areaRef(x: Float64Array, H: number, W: number, oH: number, oW: number): Float64Array {
  const out = new Float64Array(oH * oW);
  for (let oy = 0; oy < oH; oy++) {
    const y0 = Math.floor((oy * H) / oH), y1 = Math.ceil(((oy + 1) * H) / oH);
    for (let ox = 0; ox < oW; ox++) {
      const x0 = Math.floor((ox * W) / oW), x1 = Math.ceil(((ox + 1) * W) / oW);
      let s = 0;
      for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) s += x[y * W + xx];
      out[oy * oW + ox] = s / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

function randomPlane(n: number, seed: number): Float64Array {
  const a = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const CASES: [number, number][] = [
  [1, 8], [3, 8], [5, 8], [6, 8], [8, 3], [8, 5], [36, 48], [64, 21], [48, 64], [1, 64], [7, 64], [27, 64], [12, 64], [8, 8],
];

test('bicubic matrices reproduce the per-pixel PyTorch formula', () => {
  for (const [n, m] of CASES) {
    // non-square: H follows the case, W uses a second ratio
    const [n2, m2] = [5, 8];
    const x = randomPlane(n * n2, n * 100 + m);
    const ref = bicubicRef(x, n, n2, m, m2);
    const got64 = resizePlanes(x, 1, n, n2, bicubicMatrix(n, m, 'float64'), m, bicubicMatrix(n2, m2, 'float64'), m2);
    assert.ok(maxAbs(got64, ref) < 1e-14, `${n}->${m} float64: ${maxAbs(got64, ref)}`);
    const got32 = resizePlanes(x, 1, n, n2, bicubicMatrix(n, m), m, bicubicMatrix(n2, m2), m2);
    assert.ok(maxAbs(got32, ref) < 5e-6, `${n}->${m} float32: ${maxAbs(got32, ref)}`);
  }
});

test('bicubic rows sum to 1; identity when sizes match', () => {
  for (const [n, m] of CASES) {
    for (const prec of ['float32', 'float64'] as const) {
      const M = bicubicMatrix(n, m, prec);
      for (let o = 0; o < m; o++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += M[o * n + i];
        assert.ok(Math.abs(s - 1) < (prec === 'float32' ? 5e-6 : 1e-14), `${n}->${m} ${prec} row ${o}: ${s}`);
      }
    }
  }
  const I = bicubicMatrix(6, 6);
  for (let o = 0; o < 6; o++) for (let i = 0; i < 6; i++) assert.equal(I[o * 6 + i], o === i ? 1 : 0);
  // 1 -> n is a broadcast (all taps clamp to the single input)
  assert.deepEqual(Array.from(bicubicMatrix(1, 4)), [1, 1, 1, 1]);
  // dyadic scales (pn -> 64 in HART) give exact real coordinates, so both precisions agree to float32 rounding
  const a = bicubicMatrix(5, 64), b = bicubicMatrix(5, 64, 'float64');
  assert.ok(maxAbs(a, b) <= 2 ** -23);
  // a negative weight at the border (A = -0.75), not clamped away
  assert.ok(bicubicMatrix(3, 8)[0 * 3 + 1] < 0 && bicubicMatrix(3, 8)[0] > 1);
});

test('area matrices reproduce adaptive_avg_pool2d', () => {
  for (const [n, m] of CASES) {
    const [n2, m2] = [8, 5];
    const x = randomPlane(n * n2 * 3, n * 7 + m);
    const got = resizePlanes(x, 3, n, n2, areaMatrix(n, m), m, areaMatrix(n2, m2), m2);
    for (let p = 0; p < 3; p++) {
      const ref = areaRef(x.subarray(p * n * n2, (p + 1) * n * n2), n, n2, m, m2);
      assert.ok(maxAbs(got.subarray(p * m * m2, (p + 1) * m * m2), ref) < 1e-15, `${n}->${m}`);
    }
    const M = areaMatrix(n, m);
    for (let o = 0; o < m; o++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += M[o * n + i];
      assert.ok(Math.abs(s - 1) < 1e-15);
    }
  }
  const I = areaMatrix(7, 7);
  for (let o = 0; o < 7; o++) for (let i = 0; i < 7; i++) assert.equal(I[o * 7 + i], o === i ? 1 : 0);
  // 64 -> 21 windows overlap: window 0 = [0, 4), window 1 = [3, 7)
  const M = areaMatrix(64, 21);
  assert.deepEqual(Array.from(M.subarray(0, 8)), [0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(M.subarray(64, 72)), [0, 0, 0, 0.25, 0.25, 0.25, 0.25, 0]);
  assert.throws(() => areaMatrix(0, 3));
});
