// dtypes: float16/bfloat16 conversions against known bit patterns, an exhaustive float64 formula,
// and a brute-force nearest-value search (round half to even) as independent references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bfloat16BitsToFloat32, float16BitsToFloat32, float16ToFloat32Array, float32ToBfloat16Bits, float32ToFloat16Bits,
  float32ToFloat16Array, bfloat16ToFloat32Array, float32ToBfloat16Array, fromSafetensorsDType, toSafetensorsDType, toFloat32,
  DTYPES, DTYPE_BYTES, viewAs,
} from '../../src/io/dtypes.ts';
import { rng } from './build-torch.ts';

const f32 = (x: number) => Math.fround(x);
const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

test('dtype names and sizes', () => {
  for (const d of DTYPES) assert.equal(fromSafetensorsDType(toSafetensorsDType(d)), d);
  assert.equal(fromSafetensorsDType('BF16'), 'bfloat16');
  assert.equal(DTYPE_BYTES.int64, 8);
  assert.equal(DTYPE_BYTES.bool, 1);
  assert.throws(() => fromSafetensorsDType('F8_E4M3'), /unsupported safetensors dtype "F8_E4M3"/);
  assert.throws(() => fromSafetensorsDType('toString'), /unsupported/);
});

test('float16 -> float32 known patterns', () => {
  const cases: [number, number][] = [
    [0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24],
    [0x7c00, Infinity], [0xfc00, -Infinity], [0x3555, 0.333251953125], [0x0000, 0],
  ];
  for (const [h, v] of cases) assert.equal(float16BitsToFloat32(h), v, `0x${h.toString(16)}`);
  assert.ok(Object.is(float16BitsToFloat32(0x8000), -0));
  assert.ok(Number.isNaN(float16BitsToFloat32(0x7e00)));
  assert.ok(Number.isNaN(float16BitsToFloat32(0xfc01)));
});

test('float16 -> float32 exhaustive against the float64 formula', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const arr = float16ToFloat32Array(all);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
    const ref = e === 31 ? (m ? NaN : s * Infinity) : e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
    if (Number.isNaN(ref)) assert.ok(Number.isNaN(arr[h]));
    else assert.ok(Object.is(arr[h], ref), `0x${h.toString(16)}: ${arr[h]} vs ${ref}`);
    // round trip is the identity on every non-NaN pattern, and NaN stays NaN
    const back = float32ToFloat16Bits(arr[h]);
    if (Number.isNaN(ref)) assert.ok((back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0, `NaN 0x${h.toString(16)}`);
    else assert.equal(back, h);
  }
});

test('float32 -> float16 rounds to nearest even (known cases)', () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-1e6, 0xfc00],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2 ** -25, 0x0000], [f32(2 ** -25 * (1 + 2 ** -20)), 0x0001],
    [3 * 2 ** -25, 0x0002], [1.5 * 2 ** -24, 0x0002], [1e-10, 0x0000], [-1e-10, 0x8000], [0.1, 0x2e66],
    [1023.5 * 2 ** -24, 0x0400], [2 ** -14, 0x0400], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00], [2 ** -149, 0],
  ];
  for (const [x, h] of cases) assert.equal(float32ToFloat16Bits(x), h, `${x}`);
  const nan = float32ToFloat16Bits(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
});

test('float32 -> float16 matches a brute-force nearest search on random float32s', () => {
  // Sorted non-negative finite halves; the nearest one with ties to even mantissa is the reference.
  const vals: number[] = [];
  for (let h = 0; h < 0x7c00; h++) vals.push(float16BitsToFloat32(h));
  const ref = (x: number): number => {
    const a = Math.abs(x), sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
    if (a >= 65520) return sign | 0x7c00; // halfway to 2^16 and beyond round to Inf
    let lo = 0, hi = vals.length - 1;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (vals[mid] <= a) lo = mid; else hi = mid; }
    const dl = a - vals[lo], dh = vals[hi] - a;
    return sign | (dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi);
  };
  const r = rng(7);
  const u = new Uint32Array(1), f = new Float32Array(u.buffer);
  for (let i = 0; i < 20000; i++) {
    // random exponents in the half range (plus some beyond), random mantissas; every 4th exactly halfway
    const e = 127 - 28 + Math.floor(r() * 46);
    let mant = Math.floor(r() * 2 ** 23);
    if (i % 4 === 0) mant = (mant & ~0x1fff) | 0x1000;
    u[0] = ((r() < 0.5 ? 1 : 0) << 31) | (e << 23) | mant;
    const x = f[0];
    assert.equal(float32ToFloat16Bits(x), ref(x), `x=${x} bits=0x${u[0].toString(16)}`);
  }
  assert.deepEqual([...float32ToFloat16Array([1, -2, 65504])], [0x3c00, 0xc000, 0x7bff]);
});

test('bfloat16 <-> float32', () => {
  assert.equal(bfloat16BitsToFloat32(0x3f80), 1);
  assert.equal(bfloat16BitsToFloat32(0xc000), -2);
  assert.equal(bfloat16BitsToFloat32(0x0001), 2 ** -133);
  assert.equal(bfloat16BitsToFloat32(0xff80), -Infinity);
  assert.ok(Number.isNaN(bfloat16BitsToFloat32(0x7fc0)));
  const cases: [number, number][] = [
    [1, 0x3f80], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [3.4028234663852886e38, 0x7f80], [-0, 0x8000], [Infinity, 0x7f80], [2 ** -133, 0x0001], [2 ** -134, 0], [3 * 2 ** -134, 0x0002],
  ];
  for (const [x, h] of cases) assert.equal(float32ToBfloat16Bits(x), h, `${x}`);
  const nan = float32ToBfloat16Bits(NaN);
  assert.ok((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0);
  // a NaN whose payload lives only in the low 16 bits must not become Inf
  const n2 = float32ToBfloat16Bits(new Float32Array(new Uint32Array([0x7f800001]).buffer)[0]);
  assert.ok((n2 & 0x7f80) === 0x7f80 && (n2 & 0x7f) !== 0);
  // exhaustive round trip of every non-NaN pattern
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = float32ToBfloat16Array(bfloat16ToFloat32Array(all));
  for (let h = 0; h < 65536; h++) if (!Number.isNaN(bfloat16BitsToFloat32(h))) assert.equal(back[h], h);
  assert.equal(bitsOf(bfloat16ToFloat32Array(new Uint16Array([0x4049]))[0]), 0x40490000);
});

test('toFloat32 and viewAs', () => {
  assert.deepEqual([...toFloat32('int64', new BigInt64Array([-3n, 5n]))], [-3, 5]);
  assert.deepEqual([...toFloat32('bool', new Uint8Array([0, 1]))], [0, 1]);
  assert.deepEqual([...toFloat32('float16', new Uint16Array([0x3c00, 0xc000]))], [1, -2]);
  assert.deepEqual([...toFloat32('bfloat16', new Uint16Array([0x3f80]))], [1]);
  assert.throws(() => toFloat32('float32', new Float64Array(1)), /float32 cannot be stored in a Float64Array/);
  const raw = new Uint8Array(9);
  // an aligned view shares memory, an unaligned one is copied
  const v = viewAs('float32', raw.subarray(1, 9));
  assert.equal(v.length, 2);
  assert.notEqual(v.buffer, raw.buffer);
  assert.equal(viewAs('float32', raw.subarray(4, 8)).buffer, raw.buffer);
  assert.throws(() => viewAs('float32', raw.subarray(0, 3)), /not a whole number/);
});
