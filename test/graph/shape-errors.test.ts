// Shape inference fails at build time, naming the op, the operands' shapes and the caller's file
// and line (the first stack frame outside src/graph), never later inside ONNX Runtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, ShapeError, concat } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';

function expectShapeError(build: () => Tensor, ...parts: (string | RegExp)[]): void {
  assert.throws(build, (e: unknown) => {
    assert.ok(e instanceof ShapeError, `expected a ShapeError, got ${e}`);
    for (const p of parts) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `message lacks "${p}":\n${e.message}`);
      else assert.match(e.message, p);
    }
    // the caller: this file, with a line number
    assert.match(e.message, /shape-errors\.test\.ts:\d+/);
    return true;
  });
}

test('matmul with mismatched inner dims', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]), b = g.input('b', 'float32', [4, 5]);
  expectShapeError(() => a.matmul(b), 'MatMul', '[2, 3]', '[4, 5]', 'inner dims');
  const c = g.input('c', 'float32', [2, 3, 4]), d = g.input('d', 'float32', [5, 4, 2]);
  expectShapeError(() => c.matmul(d), 'MatMul', '[2, 3, 4]', '[5, 4, 2]', 'do not broadcast');
  expectShapeError(() => a.matmul(g.input('v', 'float32', [3])), 'MatMul', 'rank');
});

test('elementwise ops whose shapes do not broadcast, or whose dtypes differ', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]), b = g.input('b', 'float32', [4]);
  expectShapeError(() => a.add(b), 'Add', '[2, 3]', '[4]', 'do not broadcast');
  const s = g.input('s', 'float32', ['B', 'L']), t = g.input('t', 'float32', ['B', 'M']);
  expectShapeError(() => s.mul(t), 'Mul', '[B, L]', '[B, M]', 'L vs M');
  expectShapeError(() => a.add(g.input('d', 'float64', [2, 3])), 'Add', 'dtype mismatch float32 vs float64');
  expectShapeError(() => a.gt(0).where(a, b), 'Where', 'do not broadcast');
});

test('reshape to a different number of elements', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 3, 4]);
  expectShapeError(() => x.reshape([5, 5]), 'Reshape', '[2, 3, 4]', '[5, 5]', '24 elements');
  expectShapeError(() => x.reshape([5, -1]), 'Reshape', '[2, 3, 4]', '[5, -1]');
  expectShapeError(() => x.reshape([-1, -1]), 'Reshape', 'at most one -1');
});

test('concat of shapes that differ off the axis', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]), b = g.input('b', 'float32', [3, 3]);
  expectShapeError(() => concat([a, b], 1), 'Concat', '[2, 3]', '[3, 3]', 'off axis 1');
  expectShapeError(() => concat([a, g.input('c', 'float32', [2, 3, 1])], 0), 'Concat', 'rank mismatch');
});

test('other ops: conv channels, bad axes, bad permutation, squeeze of a non-1 axis', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [1, 3, 8, 8]);
  const w = g.param('w', [4, 2, 3, 3], new Float32Array(72));
  expectShapeError(() => x.conv2d(w), 'Conv', '[1, 3, 8, 8]', '[4, 2, 3, 3]', 'channels');
  expectShapeError(() => x.sum([4]), 'ReduceSum', 'axis 4 out of range');
  expectShapeError(() => x.transpose([0, 1, 1, 2]), 'Transpose', 'not a permutation');
  expectShapeError(() => x.squeeze([1]), 'Squeeze', 'size 3');
  expectShapeError(() => x.pad([1, 1]), 'Pad', 'pads has 2 entries');
});
