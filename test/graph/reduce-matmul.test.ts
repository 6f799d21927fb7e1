// Forward tests of matmul (batch broadcasting, symbolic batch), reductions (axes, negative axes,
// keepdims), argmax, softmax and log-softmax against float64 references in plain TypeScript; top-k
// values and cumulative sums (no gradient).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, grad } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { assertClose, evaluate, feed } from './harness.ts';
import * as R from './ref.ts';

const TIGHT = { atol: 1e-14, rtol: 1e-13 };

test('matmul broadcasts batch dims like numpy', async () => {
  const g = new Graph();
  const cases: [number[], number[]][] = [
    [[3, 4], [4, 5]],
    [[2, 1, 3, 4], [5, 4, 2]],
    [[3, 4], [2, 4, 5]],
    [[2, 3, 4], [1, 4, 2]],
    [[1, 3, 1, 4], [2, 1, 4, 3]],
  ];
  const outs: Record<string, Tensor> = {}, feeds: Record<string, ReturnType<typeof feed>> = {};
  const want: Record<string, R.Arr> = {};
  cases.forEach(([sa, sb], i) => {
    const av = R.rand(sa, 10 + i), bv = R.rand(sb, 20 + i);
    outs[`c${i}`] = g.input(`a${i}`, 'float64', sa).matmul(g.input(`b${i}`, 'float64', sb));
    feeds[`a${i}`] = feed(av);
    feeds[`b${i}`] = feed(bv);
    want[`c${i}`] = R.matmul(av, bv);
  });
  assert.deepEqual(outs.c1.shape, [2, 5, 3, 2]);
  const res = await evaluate(outs, feeds);
  for (const k of Object.keys(want)) assertClose(res[k], want[k], TIGHT, k);
});

test('matmul with a symbolic batch and a weight', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', ['B', 'L', 4]);
  const w = g.param('w', [4, 3], R.uniform(12, 5));
  const y = x.matmul(w).matmul(w.mT());
  assert.deepEqual(y.shape, ['B', 'L', 4]);
  const xv = R.rand([2, 5, 4], 6);
  const wv = R.arr([4, 3], R.uniform(12, 5));
  const res = await evaluate({ y }, { x: feed(xv) });
  assertClose(res.y, R.matmul(R.matmul(xv, wv), R.transpose(wv, [1, 0])), TIGHT, 'x w wT');
});

test('sum / mean / max over axes, negative axes, keepdims, no axes', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 3, 4]);
  const xv = R.rand([2, 3, 4], 11);
  const cases: [number[], boolean][] = [[[0], false], [[1], true], [[-1], false], [[0, 2], true], [[2, 0], false], [[0, 1, 2], false], [[0, 1, 2], true]];
  const outs: Record<string, Tensor> = {};
  cases.forEach(([axes, keep], i) => {
    outs[`sum${i}`] = x.sum(axes, keep);
    outs[`mean${i}`] = x.mean(axes, keep);
    outs[`max${i}`] = x.max(axes, keep);
  });
  outs.none = x.sum([]);
  outs.noneMean = x.mean([], true);
  const res = await evaluate(outs, { x: feed(xv) });
  cases.forEach(([axes, keep], i) => {
    for (const kind of ['sum', 'mean', 'max'] as const) {
      const want = R.reduce(xv, axes, keep, kind);
      assert.deepEqual(outs[`${kind}${i}`].shape, want.shape, `${kind} ${axes} inferred shape`);
      assertClose(res[`${kind}${i}`], want, TIGHT, `${kind} axes ${axes} keepdims ${keep}`);
    }
  });
  // Reducing over no axes is the identity (as shape inference says), not ONNX's reduce-all.
  assertClose(res.none, xv, {}, 'sum([])');
  assertClose(res.noneMean, xv, {}, 'mean([])');
});

test('mean over a symbolic axis divides by the run-time size', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', ['B', 'L', 3]);
  const y = x.mean([1]).add(x.sum([0, 1], true).mean([-1]));
  for (const [B, L] of [[1, 4], [3, 2]]) {
    const xv = R.rand([B, L, 3], B + L);
    const res = await evaluate({ y }, { x: feed(xv) });
    const want = R.map((a, b) => a + b, R.reduce(xv, [1], false, 'mean'), R.reduce(R.reduce(xv, [0, 1], true, 'sum'), [-1], false, 'mean'));
    assertClose(res.y, want, TIGHT, `B=${B} L=${L}`);
  }
});

test('argmax returns int64 first-maximum indices, with and without keepdims', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [3, 4]);
  const xv = R.arr([3, 4], [1, 5, 5, 2, -1, -3, -1, -2, 0, 0, 0, 9]);
  const res = await evaluate({ a1: x.argmax(1), a0: x.argmax(0, true), an: x.argmax(-1, true) }, { x: feed(xv) });
  assert.equal(res.raw.a1.dtype, 'int64');
  assertClose(res.a1, R.argmax(xv, 1, false), {}, 'axis 1');
  assert.deepEqual(Array.from(res.a1.data), [1, 0, 3]);
  assertClose(res.a0, R.argmax(xv, 0, true), {}, 'axis 0 keepdims');
  assertClose(res.an, R.argmax(xv, -1, true), {}, 'axis -1 keepdims');
});

test('softmax and log-softmax on every axis, stable for large inputs', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 3, 4]);
  const xv = R.rand([2, 3, 4], 12, -3, 3);
  xv.data[5] = 800; // would overflow exp without max subtraction
  const outs: Record<string, Tensor> = {};
  for (const a of [0, 1, 2, -1]) {
    outs[`s${a}`] = x.softmax(a);
    outs[`l${a}`] = x.logSoftmax(a);
  }
  outs.sdef = x.softmax();
  const res = await evaluate(outs, { x: feed(xv) });
  for (const a of [0, 1, 2, -1]) {
    assertClose(res[`s${a}`], R.softmax(xv, a), TIGHT, `softmax ${a}`);
    assertClose(res[`l${a}`], R.softmax(xv, a, true), { atol: 1e-13, rtol: 1e-13 }, `logSoftmax ${a}`);
  }
  assertClose(res.sdef, R.softmax(xv, -1), TIGHT, 'default axis');
});

test('topkValues (largest first) and cumsum (inclusive, exclusive) match plain TypeScript; neither passes a gradient', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3, 6]);
  const data = [0.5, -1, 3, 3, 2, -7, 1, 2, 3, 4, 5, 6, 0, 0, -1, -2, 9, 1];
  const res = await evaluate({ top: x.topkValues(3), inc: x.cumsum(1), exc: x.cumsum(-1, true), col: x.cumsum(0) }, { x: { dtype: 'float32', shape: [3, 6], data: Float32Array.from(data) } });
  const rows = [0, 1, 2].map((r) => data.slice(r * 6, r * 6 + 6));
  assert.deepEqual(Array.from(res.top.data), rows.flatMap((r) => [...r].sort((a, b) => b - a).slice(0, 3)));
  const scan = (r: number[], ex: boolean) => r.map((_, i) => r.slice(0, ex ? i : i + 1).reduce((a, b) => a + b, 0));
  assert.deepEqual(Array.from(res.inc.data), rows.flatMap((r) => scan(r, false)));
  assert.deepEqual(Array.from(res.exc.data), rows.flatMap((r) => scan(r, true)));
  assert.deepEqual(Array.from(res.col.data), [0, 1, 2].flatMap((r) => [0, 1, 2, 3, 4, 5].map((c) => rows.slice(0, r + 1).reduce((a, row) => a + row[c], 0))));
  assert.throws(() => x.topkValues(7), /TopKValues: k 7 must be in 1 … 6/);
  // no gradient flows through them: only the plain sum's ones reach w
  const w = g.param('w', [3, 6], R.uniform(18, 3));
  const dw = grad(w.topkValues(2).sum([0, 1]).add(w.cumsum(1).sum([0, 1])).add(w.sum([0, 1])), [w])[0];
  const r = await evaluate({ dw });
  assert.deepEqual(Array.from(r.dw.data), new Array(18).fill(1));
});
