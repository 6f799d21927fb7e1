// Tests for src/tables/sleef32.ts: fma32 against exact BigInt arithmetic, and the SLEEF emulations
// within one float32 ulp of the correctly rounded functions (bit-exactness against PyTorch is
// checked on the fixture tables in rope.test.ts and schedules.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fma32, expf, sinf, cosf, sinfVec, cosfVec } from '../../src/tables/sleef32.ts';

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const ulp = (x: number) => {
  f32[0] = Math.abs(x);
  const a = f32[0];
  u32[0] += 1;
  return f32[0] - a;
};

// exact value of a float64 as a BigInt numerator over 2^SHIFT
const SHIFT = 400n;
function exact(x: number): bigint {
  if (x === 0) return 0n;
  const m = new DataView(new ArrayBuffer(8));
  m.setFloat64(0, x);
  const bits = m.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n;
  const e = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const mant = e === 0 ? frac : frac | (1n << 52n);
  const exp = BigInt((e === 0 ? 1 : e) - 1075);
  return sign * (SHIFT + exp >= 0n ? mant << (SHIFT + exp) : mant >> -(SHIFT + exp));
}
// round-to-nearest-even of an exact value to float32, by bisection over float32 neighbours
function roundToF32(v: bigint, guess: number): number {
  f32[0] = guess;
  for (let it = 0; it < 4; it++) {
    const r = f32[0];
    const step = (dir: number) => { const t = new Float32Array([r]); const u = new Uint32Array(t.buffer); u[0] += (r >= 0) === dir > 0 ? 1 : -1; return t[0]; };
    const up = step(1), dn = step(-1);
    const er = v - exact(r), eu = v - exact(up), ed = v - exact(dn);
    const abs = (b: bigint) => (b < 0n ? -b : b);
    if (abs(eu) < abs(er)) { f32[0] = up; continue; }
    if (abs(ed) < abs(er)) { f32[0] = dn; continue; }
    if (abs(eu) === abs(er) || abs(ed) === abs(er)) {
      const other = abs(eu) === abs(er) ? up : dn;
      const even = (x: number) => { const t = new Float32Array([x]); return (new Uint32Array(t.buffer)[0] & 1) === 0; };
      return even(r) ? r : other;
    }
    return r;
  }
  return f32[0];
}

test('fma32 rounds a·b + c once, like a hardware FMA', () => {
  let s = 7;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s;
  };
  const cases: [number, number, number][] = [
    [1 + 2 ** -23, 1 + 2 ** -23, -1], // catastrophic cancellation
    [1 + 2 ** -12, 1 + 2 ** -12, 2 ** -50], // product near a float32 midpoint
    [3, 1 / 3, -1],
  ].map(([a, b, c]) => [Math.fround(a), Math.fround(b), Math.fround(c)]);
  for (let i = 0; i < 3000; i++) {
    const r = () => Math.fround(((rnd() / 2 ** 32) * 2 - 1) * 2 ** ((rnd() % 40) - 20));
    cases.push([r(), r(), r()]);
    // products landing exactly on float32 midpoints, plus a tiny c of either sign
    const a = Math.fround(1 + (rnd() % 4096) * 2 ** -12), b = Math.fround(1 + (rnd() % 4096) * 2 ** -12);
    cases.push([a, b, Math.fround((rnd() % 2 ? 1 : -1) * 2 ** -60)]);
  }
  for (const [a, b, c] of cases) {
    const want = roundToF32(exact(a) * exact(b) / (1n << SHIFT) + exact(c), Math.fround(a * b + c));
    assert.equal(fma32(a, b, c), want, `fma32(${a}, ${b}, ${c})`);
  }
});

test('SLEEF expf/sinf/cosf stay within one float32 ulp of the true functions', () => {
  for (let x = -20; x < 20; x += 0.01371) {
    const a = Math.fround(x);
    assert.ok(Math.abs(expf(a) - Math.exp(a)) <= ulp(Math.exp(a)), `expf(${a})`);
  }
  for (let x = -3000; x < 3000; x += 0.7919) {
    const a = Math.fround(x);
    assert.ok(Math.abs(sinf(a) - Math.sin(a)) <= ulp(Math.sin(a)), `sinf(${a})`);
    assert.ok(Math.abs(cosf(a) - Math.cos(a)) <= ulp(Math.cos(a)), `cosf(${a})`);
  }
  assert.equal(expf(0), 1);
  assert.equal(expf(-200), 0);
  assert.equal(expf(200), Infinity);
  assert.ok(Object.is(sinf(-0), -0));
  assert.equal(cosf(0), 1);
});

test('vector forms: 8-lane groups from the buffer start', () => {
  const x = Float32Array.from({ length: 37 }, (_, i) => Math.fround(i * 0.731 - 9));
  assert.deepEqual(cosfVec(x), Float32Array.from(x, cosf));
  assert.deepEqual(sinfVec(x), Float32Array.from(x, sinf));
  // a group with one lane >= 125 takes the Payne–Hanek path in all 8 lanes: still within 1 ulp
  const mixed = Float32Array.from([0.3, 1.7, 2.9, 200, 4.1, 5.3, 6.7, 7.9, 0.5]);
  const c = cosfVec(mixed);
  mixed.forEach((v, i) => assert.ok(Math.abs(c[i] - Math.cos(v)) <= ulp(Math.cos(v))));
  assert.equal(c[8], cosf(mixed[8]));
});
