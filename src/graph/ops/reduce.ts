// Reductions (sum, mean, max over axes; argmax) and softmax / log-softmax, with VJPs.
import type { Dim } from '../dims.ts';
import { prodDims } from '../dims.ts';
import { isFloat } from '../dtype.ts';
import type { Tensor } from '../tensor.ts';
import { defineOp } from '../tensor.ts';

export function normAxes(axes: number[], rank: number): number[] {
  const out = axes.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) throw new Error(`axis ${a} out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) throw new Error(`repeated axes ${axes}`);
  return out.sort((x, y) => x - y);
}

function reducedShape(shape: Dim[], axes: number[], keepdims: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/** Reinserts size-1 axes removed by a keepdims=false reduction. */
function keepDimsOf(g: Tensor, axes: number[], keepdims: boolean): Tensor {
  return keepdims ? g : g.unsqueeze(axes);
}

for (const name of ['ReduceSum', 'ReduceMean', 'ReduceMax']) {
  defineOp({
    name,
    infer: ([x], attrs) => {
      const axes = normAxes(attrs.axes as number[], x.rank);
      attrs.axes = axes;
      if (!isFloat(x.dtype) && name === 'ReduceMean') throw new Error('ReduceMean needs a float tensor');
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, attrs.keepdims as boolean) }];
    },
    emit: (ctx, node) => {
      const axes = node.attrs.axes as number[];
      const keepdims = node.attrs.keepdims ? 1 : 0;
      const out = [ctx.name(node.outputs[0])];
      const inp = ctx.name(node.inputs[0]);
      // No axes: nothing is reduced (as inferred); ONNX would reduce over every axis instead.
      if (axes.length === 0) { ctx.node('Identity', [inp], out); return; }
      if (name === 'ReduceSum') ctx.node(name, [inp, ctx.constInt64(axes)], out, { keepdims });
      else ctx.node(name, [inp], out, { axes, keepdims });
    },
    vjp: (node, [g]) => {
      if (!g) return [null];
      const x = node.inputs[0];
      const axes = node.attrs.axes as number[];
      const gk = keepDimsOf(g, axes, node.attrs.keepdims as boolean);
      if (name === 'ReduceSum') return [gk.expandAs(x)];
      if (name === 'ReduceMean') {
        const n = prodDims(axes.map((a) => x.shape[a]));
        const scale = typeof n === 'number' ? gk.mul(1 / n) : gk.div(x.dimSize(axes).cast(g.dtype));
        return [scale.expandAs(x)];
      }
      // ReduceMax: gradient to the positions equal to the max (split evenly among ties).
      const y = keepDimsOf(node.outputs[0], axes, node.attrs.keepdims as boolean);
      const mask = x.eq(y).cast(g.dtype);
      const count = mask.sum(axes, true);
      return [mask.div(count).mul(gk)];
    },
  });
}

defineOp({
  name: 'ArgMax',
  infer: ([x], attrs) => {
    const [axis] = normAxes([attrs.axis as number], x.rank);
    attrs.axis = axis;
    return [{ dtype: 'int64', shape: reducedShape(x.shape, [axis], attrs.keepdims as boolean) }];
  },
  emit: (ctx, node) =>
    ctx.node('ArgMax', [ctx.name(node.inputs[0])], [ctx.name(node.outputs[0])], {
      axis: node.attrs.axis as number,
      keepdims: node.attrs.keepdims ? 1 : 0,
      select_last_index: 0,
    }),
  vjp: () => [null],
});

for (const name of ['Softmax', 'LogSoftmax']) {
  defineOp({
    name,
    infer: ([x], attrs) => {
      const [axis] = normAxes([attrs.axis as number], x.rank);
      attrs.axis = axis;
      if (!isFloat(x.dtype)) throw new Error(`${name} needs a float tensor`);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    emit: (ctx, node) =>
      ctx.node(name, [ctx.name(node.inputs[0])], [ctx.name(node.outputs[0])], { axis: node.attrs.axis as number }),
    vjp: (node, [g]) => {
      if (!g) return [null];
      const y = node.outputs[0];
      const axis = node.attrs.axis as number;
      if (name === 'Softmax') return [y.mul(g.sub(g.mul(y).sum([axis], true)))];
      return [g.sub(y.exp().mul(g.sum([axis], true)))];
    },
  });
}
