// Tests for src/random/philox.ts: Random123 known-answer vectors, a BigInt reference port,
// addressing (offset independence, determinism) and moments of every distribution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Philox, philox4x32, stream, categorical, gumbelFromUniform } from '../../src/random/philox.ts';

const hex = (a: Uint32Array) => Array.from(a, (x) => x.toString(16).padStart(8, '0')).join(' ');

test('Philox4x32-10 matches the Random123 known-answer vectors', () => {
  assert.equal(hex(philox4x32([0, 0, 0, 0], [0, 0])), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
  const f = 0xffffffff;
  assert.equal(hex(philox4x32([f, f, f, f], [f, f])), '408f276d 41c83b0e a20bc7c6 6d5451fd');
  assert.equal(
    hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    'd16cfe09 94fdcceb 5001e420 24126ea1',
  );
});

// Independent reference: Philox4x32-10 written with BigInt arithmetic.
function philoxBig(ctr: number[], key: number[]): number[] {
  const m = 0xffffffffn;
  let [c0, c1, c2, c3] = ctr.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c0, p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ k0, p1 & m, (p0 >> 32n) ^ c3 ^ k1, p0 & m];
    k0 = (k0 + 0x9e3779b9n) & m;
    k1 = (k1 + 0xbb67ae85n) & m;
  }
  return [c0, c1, c2, c3].map(Number);
}

test('Philox4x32-10 agrees with a BigInt reference on random counters and keys', () => {
  let s = 12345;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) ^ (Math.imul(s, 2654435761) >>> 0);
  for (let t = 0; t < 300; t++) {
    const ctr = [next() >>> 0, next() >>> 0, next() >>> 0, next() >>> 0];
    const key = [next() >>> 0, next() >>> 0];
    assert.deepEqual(Array.from(philox4x32(ctr, key)), philoxBig(ctr, key));
  }
});

test('addressing: key = seed (lo, hi), counter = [block lo, block hi, stream lo, stream hi]', () => {
  const seed = 0x1234_5678_9abc_def0n;
  const g = new Philox(seed);
  const st = stream(7, 0xfedcba98);
  const offset = 4 * (2 ** 33 + 5) + 2; // block 2^33+5, lane 2
  const got = g.uint32(st, offset, 6);
  const b0 = philoxBig([5, 2, 0xfedcba98, 7], [0x9abcdef0, 0x12345678]);
  const b1 = philoxBig([6, 2, 0xfedcba98, 7], [0x9abcdef0, 0x12345678]);
  assert.deepEqual(Array.from(got), [b0[2], b0[3], b1[0], b1[1], b1[2], b1[3]]);
  assert.deepEqual(Array.from(new Philox(0).uint32(0, 0, 4)), philoxBig([0, 0, 0, 0], [0, 0]));
  assert.deepEqual(new Philox(42).key, new Philox(42n).key);
  assert.throws(() => new Philox(-1));
  assert.throws(() => new Philox(1n << 64n));
  assert.throws(() => stream(2 ** 21, 0));
});

test('draws are deterministic and independent of how a range is split', () => {
  const g = new Philox(2024);
  const st = stream(3, 1);
  for (const kind of ['uint32', 'uniform', 'normal', 'exponential', 'gumbel'] as const) {
    const whole = g[kind](st, 0, 10);
    const again = new Philox(2024)[kind](st, 0, 10);
    assert.deepEqual(whole, again, kind);
    const parts = [...g[kind](st, 0, 5), ...g[kind](st, 5, 5)];
    assert.deepEqual(Array.from(whole), parts, kind);
    const odd = [...g[kind](st, 0, 3), ...g[kind](st, 3, 4), ...g[kind](st, 7, 3)];
    assert.deepEqual(Array.from(whole), odd, kind);
  }
  assert.notDeepEqual(g.uniform(stream(3, 1), 0, 8), g.uniform(stream(3, 2), 0, 8));
  assert.notDeepEqual(g.uniform(st, 0, 8), new Philox(2025).uniform(st, 0, 8));
});

test('uniform, exponential and Gumbel are the documented functions of the words', () => {
  const g = new Philox(99);
  const w = g.uint32(5, 0, 64);
  const u = g.uniform(5, 0, 64), e = g.exponential(5, 0, 64), gu = g.gumbel(5, 0, 64);
  const nrm = g.normal(5, 0, 64);
  for (let i = 0; i < 64; i++) {
    assert.equal(u[i], Math.floor(w[i] / 256) / 2 ** 24);
    const v = (Math.floor(w[i] / 256) + 0.5) / 2 ** 24;
    assert.equal(e[i], Math.fround(-Math.log(v)));
    assert.equal(gu[i], Math.fround(-Math.log(-Math.log(v))));
    assert.equal(gumbelFromUniform(v), -Math.log(-Math.log(v)));
  }
  for (let p = 0; p < 32; p++) {
    const r = Math.sqrt(-2 * Math.log((Math.floor(w[2 * p] / 256) + 0.5) / 2 ** 24));
    const th = 2 * Math.PI * (Math.floor(w[2 * p + 1] / 256) / 2 ** 24);
    assert.equal(nrm[2 * p], Math.fround(r * Math.cos(th)));
    assert.equal(nrm[2 * p + 1], Math.fround(r * Math.sin(th)));
  }
});

function moments(x: Float32Array) {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let m2 = 0, m4 = 0;
  for (const v of x) {
    const d = v - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= x.length;
  m4 /= x.length;
  return { mean: m, variance: m2, kurtosis: m4 / (m2 * m2) };
}

test('distribution moments', () => {
  const n = 200_000;
  const g = new Philox(7);
  const u = moments(g.uniform(stream(1), 0, n));
  assert.ok(Math.abs(u.mean - 0.5) < 0.005 && Math.abs(u.variance - 1 / 12) < 0.002, JSON.stringify(u));
  const nn = moments(g.normal(stream(2), 0, n));
  assert.ok(Math.abs(nn.mean) < 0.01 && Math.abs(nn.variance - 1) < 0.015 && Math.abs(nn.kurtosis - 3) < 0.06, JSON.stringify(nn));
  const e = moments(g.exponential(stream(3), 0, n));
  assert.ok(Math.abs(e.mean - 1) < 0.01 && Math.abs(e.variance - 1) < 0.03, JSON.stringify(e));
  const gu = moments(g.gumbel(stream(4), 0, n));
  const euler = 0.5772156649015329;
  assert.ok(Math.abs(gu.mean - euler) < 0.01 && Math.abs(gu.variance - Math.PI ** 2 / 6) < 0.04, JSON.stringify(gu));
  // uniform range is [0, 1); Gumbel/exponential are finite everywhere
  const extremes = new Uint32Array([0, 0xff, 0xffffff00, 0xffffffff]);
  for (const w of extremes) {
    const v = (Math.floor(w / 256) + 0.5) / 2 ** 24;
    assert.ok(v > 0 && v < 1 && Number.isFinite(gumbelFromUniform(v)));
    assert.ok(Math.floor(w / 256) / 2 ** 24 < 1);
  }
});

test('categorical: inverse CDF of one uniform', () => {
  const p = [0, 0.2, 0, 0.5, 0.3];
  assert.equal(categorical(p, 0), 1);
  assert.equal(categorical(p, 0.1999), 1);
  assert.equal(categorical(p, 0.2), 3);
  assert.equal(categorical(p, 0.6999), 3);
  assert.equal(categorical(p, 0.7), 4);
  assert.equal(categorical(p, 0.9999999), 4);
  assert.equal(categorical([2, 6, 0], 0.3), 1); // unnormalised weights
  assert.equal(categorical([9, 9, 0, 1, 3, 0], 0.5, 2, 6), 2); // row [0,1,3,0]: 0.5*4=2 -> index 2
  assert.throws(() => categorical([0, 0], 0.5));
  assert.throws(() => categorical([1, -1], 0.5));
  // empirical frequencies over Philox uniforms
  const probs = [0.1, 0.25, 0.05, 0.6];
  const u = new Philox(11).uniform(stream(9), 0, 100_000);
  const counts = [0, 0, 0, 0];
  for (const x of u) counts[categorical(probs, x)]++;
  probs.forEach((q, k) => assert.ok(Math.abs(counts[k] / u.length - q) < 0.006, `${k}: ${counts[k]}`));
});
