// Order statistics without gradients: the k largest values along the last axis (sorted, largest
// first) and the cumulative sum along an axis. Training uses them on detached logits to sample
// token indices with top-k / top-p filtering inside the step graph (sampled-index.ts). No gradient
// flows through either (as through ArgMax); their Tensor methods detach the input to say so.
import { isFloat } from '../dtype.ts';
import { defineOp } from '../tensor.ts';
import { normAxes } from './reduce.ts';

defineOp({
  name: 'TopKValues',
  infer: ([x], attrs) => {
    const k = attrs.k as number;
    if (!isFloat(x.dtype)) throw new Error('TopKValues needs a float tensor');
    if (x.rank < 1) throw new Error('TopKValues needs at least one axis');
    const last = x.shape[x.rank - 1];
    if (!Number.isInteger(k) || k < 1 || (typeof last === 'number' && k > last)) throw new Error(`TopKValues: k ${k} must be in 1 … ${String(last)}`);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, -1), k] }];
  },
  emit: (ctx, node) => {
    ctx.node('TopK', [ctx.name(node.inputs[0]), ctx.constInt64([node.attrs.k as number])], [ctx.name(node.outputs[0]), ctx.fresh('topk_indices')], {
      axis: -1, largest: 1, sorted: 1,
    });
  },
  vjp: () => [null],
});

defineOp({
  name: 'CumSum',
  infer: ([x], attrs) => {
    const [axis] = normAxes([attrs.axis as number], x.rank);
    attrs.axis = axis;
    if (!isFloat(x.dtype)) throw new Error('CumSum needs a float tensor');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  emit: (ctx, node) => {
    ctx.node('CumSum', [ctx.name(node.inputs[0]), ctx.constScalar(node.attrs.axis as number, 'int64')], [ctx.name(node.outputs[0])], {
      exclusive: node.attrs.exclusive ? 1 : 0,
    });
  },
  vjp: () => [null],
});
