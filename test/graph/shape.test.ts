// Forward tests of the layout ops (reshape with 0/-1/symbolic, transpose, (un)squeeze, slice with
// negative/Infinity bounds, concat incl. symbolic sizes, split, pad, expand, gather, gatherND,
// scatterNDAdd, oneHot, zerosLike, dimSize, expandAs/reshapeAs, detach) against float64 references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, concat } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { assertClose, evaluate, feed } from './harness.ts';
import * as R from './ref.ts';

const same = (res: R.Arr, want: R.Arr, msg: string) => assertClose(res, want, {}, msg);

test('reshape with 0 (copy), -1 (infer) and symbolic dims', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', ['B', 'L', 6]);
  const a = x.reshape([0, 0, 2, 3]);
  const b = x.reshape([-1, 6]);
  const c = x.reshape(['B', -1]);
  const d = x.reshape(['B*L', 3, 2]);
  const e = x.reshape(['L', 'B', 6]); // a reinterpretation, not a transpose
  assert.deepEqual(a.shape, ['B', 'L', 2, 3]);
  assert.deepEqual(b.shape, ['B*L', 6]);
  assert.deepEqual(c.shape, ['B', '6*L']);
  assert.deepEqual(d.shape, ['B*L', 3, 2]);
  const xv = R.rand([2, 3, 6], 1);
  const res = await evaluate({ a, b, c, d, e }, { x: feed(xv) });
  for (const [k, shape] of [['a', [2, 3, 2, 3]], ['b', [6, 6]], ['c', [2, 18]], ['d', [6, 3, 2]], ['e', [3, 2, 6]]] as const) {
    same(res[k], { shape: [...shape], data: xv.data }, `reshape ${k}`);
  }
  const g2 = new Graph();
  const y = g2.input('y', 'float64', [4, 6]);
  assert.deepEqual(y.reshape([2, -1, 3]).shape, [2, 4, 3]);
  assert.deepEqual(y.reshape([0, 2, -1]).shape, [4, 2, 3]);
});

test('transpose, unsqueeze and squeeze (negative axes)', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 3, 4]);
  const xv = R.rand([2, 3, 4], 2);
  const u = x.unsqueeze([0, -1]);
  assert.deepEqual(u.shape, [1, 2, 3, 4, 1]);
  const s = u.squeeze([-1, 0]);
  const res = await evaluate({ t: x.transpose([2, 0, 1]), mt: x.mT(), u, s }, { x: feed(xv) });
  same(res.t, R.transpose(xv, [2, 0, 1]), 'transpose');
  same(res.mt, R.transpose(xv, [0, 2, 1]), 'mT');
  same(res.u, { shape: [1, 2, 3, 4, 1], data: xv.data }, 'unsqueeze');
  same(res.s, xv, 'squeeze');
});

test('slice with negative starts/ends, Infinity, several axes, out-of-range clamping', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [4, 5, 6]);
  const xv = R.rand([4, 5, 6], 3);
  const cases: [number[], number[], number[]][] = [
    [[0], [1], [3]],
    [[2], [-2], [Infinity]],
    [[1], [0], [-1]],
    [[0, 2], [-3, 1], [-1, 100]],
    [[-1, 1], [2, -4], [Infinity, -2]],
    [[1], [-100], [2]],
    [[2], [0], [-Infinity]],
  ];
  const outs: Record<string, Tensor> = {};
  cases.forEach(([ax, st, en], i) => (outs[`s${i}`] = x.slice(ax, st, en)));
  const parts = x.split(2, [1, 2, 3]);
  parts.forEach((p, i) => (outs[`p${i}`] = p));
  const res = await evaluate(outs, { x: feed(xv) });
  cases.forEach(([ax, st, en], i) => {
    const want = R.slice(xv, ax, st, en);
    assert.deepEqual(outs[`s${i}`].shape, want.shape, `inferred shape of case ${i}`);
    same(res[`s${i}`], want, `slice case ${i}`);
  });
  [[0, 1], [1, 3], [3, 6]].forEach(([s, e], i) => same(res[`p${i}`], R.slice(xv, [2], [s], [e]), `split ${i}`));
});

test('slice along symbolic axes', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', ['B', 'L', 3]);
  const a = x.slice([1], [1], [Infinity]);
  const b = x.slice([1], [0], [-1]);
  const c = x.slice([1], [-2], [Infinity]);
  const d = x.slice([0, 1], [0, 1], [1, 3]);
  assert.deepEqual(a.shape, ['B', '(L-1)', 3]);
  assert.deepEqual(b.shape, ['B', '(L-1)', 3]);
  assert.deepEqual(c.shape, ['B', 2, 3]);
  assert.deepEqual(d.shape, [1, 2, 3]);
  const xv = R.rand([2, 5, 3], 4);
  // a and b have the same symbolic size, so they add; the sum needs no run-time shape arithmetic
  const res = await evaluate({ a, b, c, d, ab: a.add(b) }, { x: feed(xv) });
  same(res.a, R.slice(xv, [1], [1], [Infinity]), 'a');
  same(res.b, R.slice(xv, [1], [0], [-1]), 'b');
  same(res.c, R.slice(xv, [1], [-2], [Infinity]), 'c');
  same(res.d, R.slice(xv, [0, 1], [0, 1], [1, 3]), 'd');
  same(res.ab, R.map((p, q) => p + q, R.slice(xv, [1], [1], [Infinity]), R.slice(xv, [1], [0], [-1])), 'a + b');
});

test('concat with static and symbolic axis sizes; the symbolic sum is computed at run time', async () => {
  const g = new Graph();
  const a = g.input('a', 'float64', ['B', 'L', 4]);
  const b = g.input('b', 'float64', ['B', 'P', 4]);
  const c = g.input('c', 'float64', ['B', 2, 4]);
  const s = concat([a, b, c], 1);
  assert.deepEqual(s.shape, ['B', '((L+P)+2)', 4]);
  const ones = g.constant(new Float64Array([1, 2, 3, 4]), [1, 1, 4]);
  const e = ones.expand(s.shape); // needs the run-time value of ((L+P)+2) to build Expand's shape
  const right = concat([a, concat([b, b], 1)], 1); // a right-nested sum
  assert.deepEqual(right.shape, ['B', '(L+(P+P))', 4]);
  assert.deepEqual(concat([c, concat([a, b], 1)], 1).shape, s.shape, 'constant offsets fold into one form');
  const er = ones.expand(right.shape);
  const st = concat([a.slice([1], [0], [2]), c], -1);
  assert.deepEqual(st.shape, ['B', 2, 8]);
  const av = R.rand([2, 3, 4], 5), bv = R.rand([2, 1, 4], 6), cv = R.rand([2, 2, 4], 7);
  const res = await evaluate({ s, e, er, st }, { a: feed(av), b: feed(bv), c: feed(cv) });
  same(res.s, R.concat([av, bv, cv], 1), 'concat');
  same(res.e, R.map((v) => v, R.map((o, z) => o + 0 * z, R.arr([1, 1, 4], [1, 2, 3, 4]), R.concat([av, bv, cv], 1))), 'expand to symbolic sum');
  assert.deepEqual(res.er.shape, [2, 5, 4]);
  same(res.st, R.concat([R.slice(av, [1], [0], [2]), cv], -1), 'concat last axis');
});

test('pad (constant value), keeping symbolic sizes symbolic', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 3]);
  const y = g.input('y', 'float64', ['N', 2, 'H', 'W']);
  const xv = R.rand([2, 3], 8), yv = R.rand([3, 2, 4, 5], 9);
  const py = y.pad([0, 0, 1, 0, 0, 0, 2, 1]);
  assert.deepEqual(py.shape, ['N', 2, '(H+3)', '(W+1)']);
  const back = py.slice([2, 3], [1, 0], [-2, -1]);
  assert.deepEqual(back.shape, ['N', 2, 'H', 'W'], 'slicing the padding off gives the original symbolic dims');
  const res = await evaluate({ a: x.pad([1, 0, 2, 3]), b: x.pad([0, 2, 1, 0], -1.5), py, d: back.sub(y) }, { x: feed(xv), y: feed(yv) });
  same(res.a, R.pad(xv, [1, 0, 2, 3]), 'pad zeros');
  same(res.b, R.pad(xv, [0, 2, 1, 0], -1.5), 'pad value');
  same(res.py, R.pad(yv, [0, 0, 1, 0, 0, 0, 2, 1]), 'pad symbolic');
  same(res.d, R.map(() => 0, yv), 'unpad');
});

test('expand, expandAs, reshapeAs, zerosLike, dimSize, detach', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [3, 1]);
  const z = g.input('z', 'float64', ['B', 3, 4]);
  const xv = R.rand([3, 1], 10), zv = R.rand([2, 3, 4], 11);
  const res = await evaluate({
    e: x.expand([2, 3, 4]), e2: x.expand(['B', 3, 4]), ea: x.expandAs(z), ra: z.reshape([-1]).reshapeAs(z),
    zl: z.zerosLike(), n: z.dimSize([0, 2]), det: z.detach().mul(2),
  }, { x: feed(xv), z: feed(zv) });
  const bx = R.map((v, w) => v + 0 * w, xv, zv);
  same(res.e, bx, 'expand');
  same(res.e2, bx, 'expand symbolic');
  same(res.ea, bx, 'expandAs');
  same(res.ra, zv, 'reshapeAs');
  same(res.zl, R.map(() => 0, zv), 'zerosLike');
  assert.equal(res.raw.n.dtype, 'int64');
  assert.deepEqual(Array.from(res.n.data), [8]);
  same(res.det, R.map((v) => 2 * v, zv), 'detach');
});

test('gather on several axes, with 2-D, negative and int32 indices', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [4, 3, 5]);
  const xv = R.rand([4, 3, 5], 12);
  const i1 = R.arr([2, 3], [0, 3, 1, 1, 2, -1]);
  const i2 = R.arr([2], [2, 0]);
  const idx1 = g.constant(BigInt64Array.from([0n, 3n, 1n, 1n, 2n, -1n]), [2, 3]);
  const idx2 = g.constant(Int32Array.from([2, 0]), [2]);
  const idxIn = g.input('idx', 'int64', ['K']);
  const outs = {
    a0: x.gather(idx1, 0), a1: x.gather(idx2, 1), a2: x.gather(idx1, -1), a3: x.gather(idxIn, 2),
    scalarIdx: x.gather(g.scalar(2, 'int64'), 1),
  };
  assert.deepEqual(outs.a0.shape, [2, 3, 3, 5]);
  assert.deepEqual(outs.a2.shape, [4, 3, 2, 3]);
  assert.deepEqual(outs.scalarIdx.shape, [4, 5]);
  const iv = R.arr([4], [4, 0, 0, 2]);
  const res = await evaluate(outs, { x: feed(xv), idx: feed(iv, 'int64') });
  same(res.a0, R.gather(xv, i1, 0), 'axis 0');
  same(res.a1, R.gather(xv, i2, 1), 'axis 1 int32');
  same(res.a2, R.gather(xv, i1, -1), 'axis -1');
  same(res.a3, R.gather(xv, iv, 2), 'fed indices');
  same(res.scalarIdx, R.gather(xv, R.arr([], [2]), 1), 'scalar index');
});

test('gatherND and scatterNDAdd (duplicates accumulate)', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [3, 4, 2]);
  const xv = R.rand([3, 4, 2], 13);
  const i1 = R.arr([2, 2], [2, 1, 0, 3]);
  const i2 = R.arr([3, 1], [1, 1, 2]);
  const upd1 = R.rand([2, 2], 14), upd2 = R.rand([3, 4, 2], 15);
  const I = (a: R.Arr) => g.constant(BigInt64Array.from(Array.from(a.data, (v) => BigInt(v))), a.shape);
  const outs = {
    g1: x.gatherND(I(i1)), g2: x.gatherND(I(i2)),
    s1: x.scatterNDAdd(I(i1), g.constant(Float64Array.from(upd1.data), [2, 2])),
    s2: x.scatterNDAdd(I(i2), g.constant(Float64Array.from(upd2.data), [3, 4, 2])),
  };
  assert.deepEqual(outs.g1.shape, [2, 2]);
  assert.deepEqual(outs.g2.shape, [3, 4, 2]);
  const res = await evaluate(outs, { x: feed(xv) });
  same(res.g1, R.gatherND(xv, i1), 'gatherND points');
  same(res.g2, R.gatherND(xv, i2), 'gatherND rows');
  assertClose(res.s1, R.scatterNDAdd(xv, i1, upd1), { atol: 1e-15 }, 'scatter points');
  assertClose(res.s2, R.scatterNDAdd(xv, i2, upd2), { atol: 1e-15 }, 'scatter duplicate rows');
});

test('oneHot in float32 and float64, negative indices counting from the end', async () => {
  const g = new Graph();
  const i = g.input('i', 'int64', ['B', 2]);
  const j = g.input('j', 'int32', [3]);
  const iv = R.arr([2, 2], [0, 3, -1, 2]), jv = R.arr([3], [1, 1, 0]);
  const res = await evaluate({ a: i.oneHot(4), b: i.oneHot(5, 'float64'), c: j.oneHot(2) }, { i: feed(iv, 'int64'), j: feed(jv, 'int32') });
  const oneHot = (idx: R.Arr, depth: number) => ({
    shape: [...idx.shape, depth],
    data: Float64Array.from({ length: idx.data.length * depth }, (_, k) => {
      const v = idx.data[Math.floor(k / depth)];
      return (v < 0 ? v + depth : v) === k % depth ? 1 : 0;
    }),
  });
  assert.equal(res.raw.a.dtype, 'float32');
  assert.equal(res.raw.b.dtype, 'float64');
  same(res.a, oneHot(iv, 4), 'float32');
  same(res.b, oneHot(iv, 5), 'float64');
  same(res.c, oneHot(jv, 2), 'int32 indices');
});
