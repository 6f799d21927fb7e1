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
    return [sumToShape(g.matmul(b.mT()), a.shape), sumToShape(a.mT().matmul(g), b.shape)];
  },
});
