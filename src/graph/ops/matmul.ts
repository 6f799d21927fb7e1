// Batched matrix product with numpy broadcasting of the batch dims (ONNX MatMul), and its VJP.
import { broadcastShapes, sumToShape } from '../broadcast.ts';
import { fmtShape } from '../dims.ts';
import { defineOp } from '../tensor.ts';

defineOp({
  name: 'MatMul',
  infer: ([a, b]) => {
    if (a.dtype !== b.dtype) throw new Error(`dtype mismatch ${a.dtype} vs ${b.dtype}`);
    if (a.rank < 2 || b.rank < 2) throw new Error('matmul needs rank >= 2 operands');
    const k1 = a.shape[a.rank - 1], k2 = b.shape[b.rank - 2];
    if (k1 !== k2) throw new Error(`inner dims differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ dtype: a.dtype, shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]] }];
  },
  emit: (ctx, node) => ctx.node('MatMul', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])]),
  vjp: (node, [g]) => {
    if (!g) return [null, null];
    const [a, b] = node.inputs;
    const ga = sumToShape(g.matmul(b.mT()), a.shape);
    if (b.rank === 2 && a.rank > 2) {
      // A weight shared by every batch row: one [K, T]·[T, N] product over all T rows, not a batched
      // product summed afterwards (the same FLOPs, but one large GEMM and no [batch, K, N] temporary).
      const K = a.shape[a.rank - 1], N = g.shape[g.rank - 1];
      return [ga, a.reshape([-1, K]).mT().matmul(g.reshape([-1, N]))];
    }
    return [ga, sumToShape(a.mT().matmul(g), b.shape)];
  },
});
