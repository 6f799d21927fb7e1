// Forward tests of the elementwise ops (unary, binary with broadcasting incl. symbolic dims bound
// at run time, comparisons, logic, Where, Clip, Cast) against float64 references in plain TypeScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { assertClose, evaluate, feed } from './harness.ts';
import * as R from './ref.ts';

const TIGHT = { atol: 1e-14, rtol: 1e-13 };

test('unary ops in float64 match Math.*', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [3, 4]);
  const pos = g.input('pos', 'float64', [3, 4]);
  const xv = R.rand([3, 4], 1, -2, 2), pv = R.rand([3, 4], 2, 0.1, 3);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const cases: [string, Tensor, (v: number, p: number) => number][] = [
    ['neg', x.neg(), (v) => -v],
    ['abs', x.abs(), (v) => Math.abs(v)],
    ['sign', x.sign(), (v) => Math.sign(v)],
    ['sqrt', pos.sqrt(), (_, p) => Math.sqrt(p)],
    ['rsqrt', pos.rsqrt(), (_, p) => 1 / Math.sqrt(p)],
    ['exp', x.exp(), (v) => Math.exp(v)],
    ['log', pos.log(), (_, p) => Math.log(p)],
    ['tanh', x.tanh(), (v) => Math.tanh(v)],
    ['sigmoid', x.sigmoid(), sig],
    ['sin', x.sin(), (v) => Math.sin(v)],
    ['cos', x.cos(), (v) => Math.cos(v)],
    ['reciprocal', pos.reciprocal(), (_, p) => 1 / p],
    ['relu', x.relu(), (v) => Math.max(v, 0)],
    ['floor', x.floor(), (v) => Math.floor(v)],
    ['silu', x.silu(), (v) => v * sig(v)],
    ['gelu_tanh', x.gelu('tanh'), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
  ];
  const outs: Record<string, Tensor> = {};
  for (const [name, t] of cases) outs[name] = t;
  const res = await evaluate(outs, { x: feed(xv), pos: feed(pv) });
  for (const [name, , fn] of cases) {
    assertClose(res[name], R.map(fn, xv, pv), { atol: 1e-15, rtol: 1e-14 }, name);
    assert.equal(res.raw[name].dtype, 'float64');
  }
});

test('erf and exact gelu (float32-only kernels) match a float64 erf to float32 precision', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [20]);
  const xv = R.rand([20], 3, -4, 4);
  const res = await evaluate({ erf: x.erf(), gelu: x.gelu() }, { x: feed(xv, 'float32') });
  const x32 = R.map((v) => Math.fround(v), xv);
  assertClose(res.erf, R.map(R.erf, x32), { atol: 3e-7 }, 'erf');
  assertClose(res.gelu, R.map((v) => 0.5 * v * (1 + R.erf(v / Math.SQRT2)), x32), { atol: 1e-6, rtol: 1e-6 }, 'gelu');
  // the float64 reference erf itself, at known values
  assert.ok(Math.abs(R.erf(0.5) - 0.5204998778130465) < 1e-15);
  assert.ok(Math.abs(R.erf(-3.5) + 0.9999992569016276) < 1e-15);
});

test('binary arithmetic broadcasts like numpy, with numbers as scalars', async () => {
  const g = new Graph();
  const a = g.input('a', 'float64', [2, 1, 4]);
  const b = g.input('b', 'float64', [3, 1]);
  const c = g.input('c', 'float64', [4]);
  const av = R.rand([2, 1, 4], 4, 0.5, 2), bv = R.rand([3, 1], 5, 0.5, 2), cv = R.rand([4], 6, -1, 1);
  const res = await evaluate({
    add: a.add(b), sub: a.sub(b), mul: a.mul(b), div: a.div(b), pow: a.pow(b),
    max: a.maximum(c), min: b.minimum(c), s1: a.mul(3).sub(0.5), s2: c.div(2).pow(2),
  }, { a: feed(av), b: feed(bv), c: feed(cv) });
  assertClose(res.add, R.map((x, y) => x + y, av, bv), TIGHT, 'add');
  assert.deepEqual(res.add.shape, [2, 3, 4]);
  assertClose(res.sub, R.map((x, y) => x - y, av, bv), TIGHT, 'sub');
  assertClose(res.mul, R.map((x, y) => x * y, av, bv), TIGHT, 'mul');
  assertClose(res.div, R.map((x, y) => x / y, av, bv), TIGHT, 'div');
  assertClose(res.pow, R.map((x, y) => x ** y, av, bv), TIGHT, 'pow');
  assertClose(res.max, R.map(Math.max, av, cv), TIGHT, 'maximum');
  assertClose(res.min, R.map(Math.min, bv, cv), TIGHT, 'minimum');
  assertClose(res.s1, R.map((x) => x * 3 - 0.5, av), TIGHT, 'scalar ops');
  assertClose(res.s2, R.map((x) => (x / 2) ** 2, cv), TIGHT, 'scalar pow');
});

test('symbolic dims broadcast and bind at run time; one session serves several shapes', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', ['B', 'L', 4]);
  const bias = g.input('bias', 'float64', ['L', 1]);
  const y = x.mul(bias).add(1);
  assert.deepEqual(y.shape, ['B', 'L', 4]);
  for (const [B, L] of [[2, 3], [5, 1], [1, 7]]) {
    const xv = R.rand([B, L, 4], B * 10 + L), bv = R.rand([L, 1], L);
    const res = await evaluate({ y }, { x: feed(xv), bias: feed(bv) });
    assertClose(res.y, R.map((p, q) => p * q + 1, xv, bv), TIGHT, `B=${B} L=${L}`);
  }
});

test('comparisons and logic give bool tensors', async () => {
  const g = new Graph();
  const a = g.input('a', 'float64', [2, 3]);
  const b = g.input('b', 'float64', [3]);
  const av = R.arr([2, 3], [1, 2, 3, 3, 2, 1]), bv = R.arr([3], [1, 3, 2]);
  const res = await evaluate({
    eq: a.eq(b), lt: a.lt(b), gt: a.gt(b), le: a.le(b), ge: a.ge(b), lt2: a.lt(2),
    and: a.gt(1).and(b.lt(3)), or: a.lt(2).or(b.gt(2)), not: a.eq(b).not(),
  }, { a: feed(av), b: feed(bv) });
  const B = (f: (x: number, y: number) => boolean) => R.map((x, y) => (f(x, y) ? 1 : 0), av, bv);
  assert.equal(res.raw.eq.dtype, 'bool');
  assertClose(res.eq, B((x, y) => x === y), {}, 'eq');
  assertClose(res.lt, B((x, y) => x < y), {}, 'lt');
  assertClose(res.gt, B((x, y) => x > y), {}, 'gt');
  assertClose(res.le, B((x, y) => x <= y), {}, 'le');
  assertClose(res.ge, B((x, y) => x >= y), {}, 'ge');
  assertClose(res.lt2, R.map((x) => (x < 2 ? 1 : 0), av), {}, 'lt scalar');
  assertClose(res.and, B((x, y) => x > 1 && y < 3), {}, 'and');
  assertClose(res.or, B((x, y) => x < 2 || y > 2), {}, 'or');
  assertClose(res.not, B((x, y) => x !== y), {}, 'not');
});

test('where broadcasts condition and branches; clamp; numbers as branches', async () => {
  const g = new Graph();
  const c = g.input('c', 'bool', [2, 1, 3]);
  const a = g.input('a', 'float64', [1, 4, 1]);
  const b = g.input('b', 'float64', [3]);
  const cv = R.arr([2, 1, 3], [1, 0, 1, 0, 0, 1]), av = R.rand([1, 4, 1], 7), bv = R.rand([3], 8);
  const res = await evaluate({
    w: c.where(a, b), wn: c.where(a, -1), wnn: c.where(2, 3).cast('float64'), clip: a.clamp(-0.25, 0.5),
  }, { c: feed(cv, 'bool'), a: feed(av), b: feed(bv) });
  assertClose(res.w, R.map((k, x, y) => (k ? x : y), cv, av, bv), {}, 'where');
  assert.deepEqual(res.w.shape, [2, 4, 3]);
  assertClose(res.wn, R.map((k, x) => (k ? x : -1), cv, av), {}, 'where number');
  assertClose(res.wnn, R.map((k) => (k ? 2 : 3), cv), {}, 'where numbers');
  assertClose(res.clip, R.map((x) => Math.min(Math.max(x, -0.25), 0.5), av), {}, 'clamp');
});

test('cast between float64, float32, int64, int32 and bool', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [6]);
  const i = g.input('i', 'int64', [6]);
  const xv = R.arr([6], [1.1, -1.9, 2.5, 1 / 3, -0.2, 1e10 + 0.5]);
  const iv = R.arr([6], [0, 1, -2, 3, 2 ** 40, -7]);
  const res = await evaluate({
    f32: x.cast('float32'), i64: x.cast('int64'), i32: i.cast('int32'), f: i.cast('float64'),
    b: i.cast('bool'), bf: i.cast('bool').cast('float32'), same: x.cast('float64'),
  }, { x: feed(xv), i: feed(iv, 'int64') });
  assert.equal(res.raw.f32.dtype, 'float32');
  assertClose(res.f32, R.map(Math.fround, xv), {}, 'float32 rounding');
  assertClose(res.i64, R.map(Math.trunc, xv), {}, 'float -> int truncates toward zero');
  assertClose(res.f, iv, {}, 'int64 -> float64');
  assertClose(res.i32, R.map((v) => v | 0, iv), {}, 'int64 -> int32 wraps');
  assertClose(res.bf, R.map((v) => (v !== 0 ? 1 : 0), iv), {}, 'bool');
  assert.equal(res.raw.b.dtype, 'bool');
  assertClose(res.same, xv, {}, 'identity cast');
});
