// Weight work done at emission (src/graph/onnx/fold-weights.ts, EmitOptions.foldWeights): casts of
// float16/bfloat16 weights become float32 initializers and Linear weights feeding MatMuls are used
// as stored through FusedMatMul(transB), with the same outputs as the plain graph; transposes used
// any other way, and training graphs (weights as inputs), are left as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, emitOnnx } from '../../src/graph/index.ts';
import { float32ToBfloat16Array, float32ToFloat16Array } from '../../src/io/dtypes.ts';
import { runtime } from './harness.ts';

/** Op types of the model's nodes, from their names (`${opType}_${output}`). */
function opTypes(bytes: Uint8Array): Record<string, number> {
  const text = Buffer.from(bytes).toString('latin1');
  const out: Record<string, number> = {};
  for (const op of ['FusedMatMul', 'MatMul', 'Transpose', 'Cast']) out[op] = text.match(new RegExp(`[^A-Za-z]${op}_`, 'g'))?.length ?? 0;
  return out;
}

function build() {
  const r = (k: number) => Math.sin(k * 12.9898) * 0.5;
  const g = new Graph();
  const x = g.input('x', 'float32', ['B', 3, 8]);
  // a bfloat16 Linear weight [out 5, in 8]: Cast → Transpose → MatMul
  const W = g.param('W', [5, 8], float32ToBfloat16Array(Array.from({ length: 40 }, (_, k) => r(k))), 'bfloat16');
  // a float16 weight used transposed in a product and also as it is (the cast folds once; the transpose still fuses)
  const V = g.param('V', [5, 8], float32ToFloat16Array(Array.from({ length: 40 }, (_, k) => r(k + 100))), 'float16');
  const Vf = V.cast('float32');
  // a float32 weight transposed into the left operand of a product: not a Linear, left alone
  const U = g.param('U', [8, 4], Float32Array.from({ length: 32 }, (_, k) => r(k + 200)));
  const y = x.matmul(W.cast('float32').mT()).add(x.matmul(Vf.mT()));
  const z = U.mT().matmul(x.reshape([-1, 8]).mT());
  const s = Vf.sum([0, 1]);
  return { outputs: { y, z, s }, x: { dtype: 'float32' as const, shape: [2, 3, 8], data: Float32Array.from({ length: 48 }, (_, k) => Math.cos(k)) } };
}

test('foldWeights: weight casts and Linear transposes are done at emission, same outputs', async () => {
  const { outputs, x } = build();
  const plain = emitOnnx({ outputs, foldWeights: false });
  const castsOnly = emitOnnx({ outputs });
  const fused = emitOnnx({ outputs, linearWeights: 'fused' });
  assert.deepEqual(opTypes(plain.bytes), { FusedMatMul: 0, MatMul: 3, Transpose: 4, Cast: 2 });
  assert.deepEqual(opTypes(castsOnly.bytes), { FusedMatMul: 0, MatMul: 3, Transpose: 4, Cast: 0 });
  // both Linear products use their weight as stored; U's transpose (a left operand) and x's stay
  assert.deepEqual(opTypes(fused.bytes), { FusedMatMul: 2, MatMul: 1, Transpose: 2, Cast: 0 });
  const text = Buffer.from(fused.bytes).toString('latin1');
  assert.ok(text.includes('W:float32') && text.includes('V:float32'), 'the float32 weights are named after the stored ones');
  const b = await (await runtime.load(plain)).run({ x });
  for (const m of [castsOnly, fused]) {
    const a = await (await runtime.load(m)).run({ x });
    for (const k of ['y', 'z', 's']) {
      const p = a[k].data as Float32Array, q = b[k].data as Float32Array;
      assert.deepEqual(a[k].shape, b[k].shape);
      for (let i = 0; i < q.length; i++) assert.ok(Math.abs(p[i] - q[i]) <= 1e-6 * (1 + Math.abs(q[i])), `${k}[${i}]: ${p[i]} vs ${q[i]}`);
    }
  }
});

test('foldWeights: training graphs (weights as inputs) are emitted as recorded', () => {
  const { outputs } = build();
  assert.deepEqual(opTypes(emitOnnx({ outputs, paramsAsInputs: true }).bytes), { FusedMatMul: 0, MatMul: 3, Transpose: 4, Cast: 2 });
  assert.throws(() => emitOnnx({ outputs, paramsAsInputs: true, foldWeights: true }), /foldWeights needs the weights as initializers/);
});
