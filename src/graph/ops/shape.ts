// Layout ops: reshape, transpose, (un)squeeze, slice, concat, pad, expand, gather, scatter-add,
// one-hot, zeros-like and run-time dim products, with VJPs.
import type { Dim } from '../dims.ts';
import { addDims, divDims, fmtShape, prodDims, subDims } from '../dims.ts';
import { isFloat } from '../dtype.ts';
import { broadcastShapes, sumToShape } from '../broadcast.ts';
import { normAxes } from './reduce.ts';
import type { EmitContext, Tensor } from '../tensor.ts';
import { defineOp } from '../tensor.ts';

const INT64_MAX = 9223372036854775807n;

/** Builds a 1-D int64 shape tensor for `dims`, using symbolic-dim values where needed. */
function shapeTensor(ctx: EmitContext, dims: Dim[], like?: Dim[]): string {
  if (dims.every((d) => typeof d === 'number')) return ctx.constInt64(dims as number[]);
  const parts = dims.map((d, i) => {
    if (typeof d === 'number') return ctx.constInt64([d]);
    if (like && like[i] === d) return ctx.constInt64([0]);
    return ctx.dimValue(d);
  });
  const out = ctx.fresh('shape');
  ctx.node('Concat', parts, [out], { axis: 0 });
  return out;
}

defineOp({
  name: 'Reshape',
  infer: ([x], { shape }) => {
    const target = shape as Dim[];
    const out: Dim[] = target.map((d, i) => (d === 0 ? x.shape[i] : d));
    const inferred = out.indexOf(-1);
    if (out.filter((d) => d === -1).length > 1) throw new Error('at most one -1 in a reshape');
    if (target.some((d, i) => d === 0 && i >= x.rank)) throw new Error('0 (copy) beyond the input rank');
    const total = prodDims(x.shape);
    if (inferred >= 0) {
      const rest = prodDims(out.filter((_, i) => i !== inferred));
      const q = divDims(total, rest);
      if (q === undefined && typeof total === 'number' && typeof rest === 'number') {
        throw new Error(`cannot reshape ${fmtShape(x.shape)} to ${fmtShape(target)}`);
      }
      out[inferred] = q ?? `reshape(${total}/${rest})`;
    } else {
      const p = prodDims(out);
      if (typeof p === 'number' && typeof total === 'number' && p !== total) {
        throw new Error(`cannot reshape ${fmtShape(x.shape)} (${total} elements) to ${fmtShape(target)} (${p})`);
      }
    }
    return [{ dtype: x.dtype, shape: out }];
  },
  emit: (ctx, node) => {
    const x = node.inputs[0];
    const target = (node.attrs.shape as Dim[]).map((d, i) => (typeof d === 'string' && x.shape[i] === d ? 0 : d));
    ctx.node('Reshape', [ctx.name(x), shapeTensor(ctx, target)], [ctx.name(node.outputs[0])]);
  },
  vjp: (node, [g]) => [g && g.reshapeAs(node.inputs[0])],
});

/** Reshape to another tensor's run-time shape (used by gradients, so symbolic dims never need solving). */
defineOp({
  name: 'ReshapeAs',
  infer: ([x, like]) => [{ dtype: x.dtype, shape: [...like.shape] }],
  emit: (ctx, node) => {
    const shape = ctx.fresh('shape');
    ctx.node('Shape', [ctx.name(node.inputs[1])], [shape]);
    ctx.node('Reshape', [ctx.name(node.inputs[0]), shape], [ctx.name(node.outputs[0])]);
  },
  vjp: (node, [g]) => [g && g.reshapeAs(node.inputs[0]), null],
});

/** Broadcast to another tensor's run-time shape. */
defineOp({
  name: 'ExpandAs',
  infer: ([x, like]) => [{ dtype: x.dtype, shape: broadcastShapes(x.shape, like.shape) }],
  emit: (ctx, node) => {
    const shape = ctx.fresh('shape');
    ctx.node('Shape', [ctx.name(node.inputs[1])], [shape]);
    ctx.node('Expand', [ctx.name(node.inputs[0]), shape], [ctx.name(node.outputs[0])]);
  },
  vjp: (node, [g]) => [g && sumToShape(g, node.inputs[0].shape), null],
});

defineOp({
  name: 'Transpose',
  infer: ([x], { perm }) => {
    const p = perm as number[];
    if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
      throw new Error(`perm [${p}] is not a permutation of rank ${x.rank}`);
    }
    return [{ dtype: x.dtype, shape: p.map((i) => x.shape[i]) }];
  },
  emit: (ctx, node) =>
    ctx.node('Transpose', [ctx.name(node.inputs[0])], [ctx.name(node.outputs[0])], { perm: node.attrs.perm as number[] }),
  vjp: (node, [g]) => {
    if (!g) return [null];
    const p = node.attrs.perm as number[];
    const inv = p.map((_, i) => p.indexOf(i));
    return [g.transpose(inv)];
  },
});

defineOp({
  name: 'Unsqueeze',
  infer: ([x], attrs) => {
    const axes = normAxes(attrs.axes as number[], x.rank + (attrs.axes as number[]).length);
    attrs.axes = axes;
    const out: Dim[] = [...x.shape];
    for (const a of axes) out.splice(a, 0, 1);
    return [{ dtype: x.dtype, shape: out }];
  },
  emit: (ctx, node) =>
    ctx.node('Unsqueeze', [ctx.name(node.inputs[0]), ctx.constInt64(node.attrs.axes as number[])], [ctx.name(node.outputs[0])]),
  vjp: (node, [g]) => [g && g.squeeze(node.attrs.axes as number[])],
});

defineOp({
  name: 'Squeeze',
  infer: ([x], attrs) => {
    const axes = normAxes(attrs.axes as number[], x.rank);
    attrs.axes = axes;
    for (const a of axes) if (x.shape[a] !== 1) throw new Error(`axis ${a} has size ${x.shape[a]}, not 1`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  },
  emit: (ctx, node) =>
    ctx.node('Squeeze', [ctx.name(node.inputs[0]), ctx.constInt64(node.attrs.axes as number[])], [ctx.name(node.outputs[0])]),
  vjp: (node, [g]) => [g && g.unsqueeze(node.attrs.axes as number[])],
});

function sliceDim(d: Dim, start: number, end: number): Dim {
  if (typeof d === 'number') {
    const s = Math.min(Math.max(start < 0 ? start + d : start, 0), d);
    const e = Math.min(Math.max(end < 0 ? end + d : end, 0), d);
    return Math.max(e - s, 0);
  }
  // Symbolic: assume the run-time size is at least what the bounds reach (as PyTorch code does).
  if (start >= 0 && end === Infinity) return subDims(d, start);
  if (start < 0 && end === Infinity) return -start;
  if (start >= 0 && end >= start && Number.isFinite(end)) return end - start;
  if (start >= 0 && end < 0) return subDims(d, start - end);
  if (start < 0 && end < 0 && end >= start) return end - start;
  return `slice(${d},${start},${end})`;
}

defineOp({
  name: 'Slice',
  infer: ([x], attrs) => {
    // Normalized in place, not sorted: starts[k] and ends[k] belong to axes[k].
    const given = attrs.axes as number[];
    const axes = given.map((a) => normAxes([a], x.rank)[0]);
    if (new Set(axes).size !== axes.length) throw new Error(`repeated axes ${given}`);
    const starts = attrs.starts as number[], ends = attrs.ends as number[];
    if (starts.length !== axes.length || ends.length !== axes.length) {
      throw new Error(`${axes.length} axes but ${starts.length} starts and ${ends.length} ends`);
    }
    const out = [...x.shape];
    axes.forEach((a, k) => (out[a] = sliceDim(x.shape[a], starts[k], ends[k])));
    attrs.axes = axes;
    return [{ dtype: x.dtype, shape: out }];
  },
  emit: (ctx, node) => {
    const big = (v: number) => (v === Infinity ? INT64_MAX : v === -Infinity ? -INT64_MAX : BigInt(v));
    const starts = (node.attrs.starts as number[]).map(big);
    const ends = (node.attrs.ends as number[]).map(big);
    ctx.node('Slice', [
      ctx.name(node.inputs[0]),
      ctx.constInt64(starts),
      ctx.constInt64(ends),
      ctx.constInt64(node.attrs.axes as number[]),
    ], [ctx.name(node.outputs[0])]);
  },
  vjp: (node, [g]) => {
    if (!g) return [null];
    const x = node.inputs[0];
    const axes = node.attrs.axes as number[];
    const starts = node.attrs.starts as number[], ends = node.attrs.ends as number[];
    const before = new Array(x.rank).fill(0), after = new Array(x.rank).fill(0);
    axes.forEach((a, k) => {
      const d = x.shape[a];
      if (typeof d === 'number') {
        const s = Math.min(Math.max(starts[k] < 0 ? starts[k] + d : starts[k], 0), d);
        const e = Math.min(Math.max(ends[k] < 0 ? ends[k] + d : ends[k], 0), d);
        before[a] = s;
        after[a] = d - Math.max(e, s);
      } else if (starts[k] >= 0 && (ends[k] === Infinity || ends[k] < 0)) {
        before[a] = starts[k];
        after[a] = ends[k] === Infinity ? 0 : -ends[k];
      } else {
        throw new Error(`slice gradient along symbolic axis ${a} (${d}) needs start >= 0 and a negative or no end`);
      }
    });
    return [g.pad([...before, ...after])];
  },
});

defineOp({
  name: 'Concat',
  infer: (xs, attrs) => {
    if (xs.length === 0) throw new Error('concat of nothing');
    const [axis] = normAxes([attrs.axis as number], xs[0].rank);
    attrs.axis = axis;
    let size: Dim = 0;
    for (const t of xs) {
      if (t.dtype !== xs[0].dtype) throw new Error(`dtype mismatch ${t.dtype} vs ${xs[0].dtype}`);
      if (t.rank !== xs[0].rank) throw new Error(`rank mismatch ${fmtShape(t.shape)} vs ${fmtShape(xs[0].shape)}`);
      t.shape.forEach((d, i) => {
        if (i !== axis && d !== xs[0].shape[i]) {
          throw new Error(`shapes ${xs.map((u) => fmtShape(u.shape)).join(', ')} differ off axis ${axis}`);
        }
      });
      size = addDims(size, t.shape[axis]);
    }
    const out = [...xs[0].shape];
    out[axis] = size;
    return [{ dtype: xs[0].dtype, shape: out }];
  },
  emit: (ctx, node) =>
    ctx.node('Concat', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])], { axis: node.attrs.axis as number }),
  vjp: (node, [g]) => {
    if (!g) return node.inputs.map(() => null);
    const axis = node.attrs.axis as number;
    if (node.inputs.every((t) => typeof t.shape[axis] === 'number')) {
      let start = 0;
      return node.inputs.map((t) => g.slice([axis], [start], [(start += t.shape[axis] as number)]));
    }
    // Symbolic sizes: slice at run-time offsets taken from the inputs' own shapes.
    let start: Tensor = g.graph.constant(new BigInt64Array([0n]), [1]);
    return node.inputs.map((t) => {
      const end = start.add(t.dimSize([axis]).reshape([1]));
      const r = g.graph.apply1('SliceRange', [g, start, end], { axis, dim: t.shape[axis] });
      start = end;
      return r;
    });
  },
});

/** Slice along one axis with run-time [start, end) (1-element int64 tensors); `dim` is the result size. */
defineOp({
  name: 'SliceRange',
  infer: ([x, s, e], attrs) => {
    const [axis] = normAxes([attrs.axis as number], x.rank);
    attrs.axis = axis;
    if (s.dtype !== 'int64' || e.dtype !== 'int64') throw new Error('start/end must be int64');
    const out = [...x.shape];
    out[axis] = attrs.dim as Dim;
    return [{ dtype: x.dtype, shape: out }];
  },
  emit: (ctx, node) => {
    const [x, s, e] = node.inputs;
    ctx.node('Slice', [ctx.name(x), ctx.name(s), ctx.name(e), ctx.constInt64([node.attrs.axis as number])],
      [ctx.name(node.outputs[0])]);
  },
});

defineOp({
  name: 'Pad',
  infer: ([x], { pads, value }) => {
    const p = pads as number[];
    if (p.length !== 2 * x.rank) throw new Error(`pads has ${p.length} entries, need ${2 * x.rank}`);
    void value;
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => addDims(d, p[i] + p[i + x.rank])) }];
  },
  emit: (ctx, node) => {
    const x = node.inputs[0];
    const inputs = [ctx.name(x), ctx.constInt64(node.attrs.pads as number[])];
    const v = (node.attrs.value as number | undefined) ?? 0;
    if (v !== 0) inputs.push(ctx.constScalar(v, x.dtype));
    ctx.node('Pad', inputs, [ctx.name(node.outputs[0])], { mode: 'constant' });
  },
  vjp: (node, [g]) => {
    if (!g) return [null];
    const x = node.inputs[0];
    const p = node.attrs.pads as number[];
    const axes = [...x.shape.keys()];
    return [g.slice(axes, axes.map((a) => p[a]), axes.map((a) => (p[a + x.rank] === 0 ? Infinity : -p[a + x.rank])))];
  },
});

defineOp({
  name: 'Expand',
  infer: ([x], { shape }) => [{ dtype: x.dtype, shape: broadcastShapes(x.shape, shape as Dim[]) }],
  emit: (ctx, node) => {
    const x = node.inputs[0];
    const target = node.attrs.shape as Dim[];
    const like = target.map((d, i) => {
      const k = i - (target.length - x.rank);
      return k >= 0 && x.shape[k] === d ? d : undefined;
    });
    const dims = target.map((d, i) => (like[i] !== undefined && typeof d === 'string' ? 1 : d));
    ctx.node('Expand', [ctx.name(x), shapeTensor(ctx, dims)], [ctx.name(node.outputs[0])]);
  },
  vjp: (node, [g]) => [g && sumToShape(g, node.inputs[0].shape)],
});

defineOp({
  name: 'Gather',
  infer: ([x, idx], attrs) => {
    const [axis] = normAxes([attrs.axis as number], x.rank);
    attrs.axis = axis;
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error(`indices must be int64/int32, got ${idx.dtype}`);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
  emit: (ctx, node) =>
    ctx.node('Gather', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])], { axis: node.attrs.axis as number }),
  vjp: (node, [g]) => {
    if (!g) return [null, null];
    const [x, idx] = node.inputs;
    const axis = node.attrs.axis as number;
    // Move the gathered axis to the front, scatter-add rows, move it back.
    const front = (r: number) => [axis, ...[...Array(r).keys()].filter((i) => i !== axis)];
    const xT = axis === 0 ? x : x.transpose(front(x.rank));
    const gq = idx.rank;
    const gPerm = [...Array(gq).keys()].map((i) => i + axis)
      .concat([...Array(axis).keys()], [...Array(x.rank - axis - 1).keys()].map((i) => i + axis + gq));
    const gT = axis === 0 ? g : g.transpose(gPerm);
    const rows = gT.reshape([-1, ...xT.shape.slice(1).map((d, i) => (typeof d === 'string' ? d : d))]);
    const flatIdx = idx.reshape([-1, 1]);
    const acc = xT.zerosLike().scatterNDAdd(flatIdx.cast('int64'), rows);
    const back = axis === 0 ? acc : acc.transpose(front(x.rank).map((_, i) => front(x.rank).indexOf(i)));
    return [back, null];
  },
});

defineOp({
  name: 'ScatterNDAdd',
  infer: ([data, idx, upd]) => {
    if (idx.dtype !== 'int64') throw new Error('indices must be int64');
    if (upd.dtype !== data.dtype) throw new Error(`dtype mismatch ${upd.dtype} vs ${data.dtype}`);
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
  emit: (ctx, node) =>
    ctx.node('ScatterND', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])], { reduction: 'add' }),
  vjp: (node, [g]) => {
    if (!g) return [null, null, null];
    const idx = node.inputs[1];
    return [g, null, g.gatherND(idx)];
  },
});

defineOp({
  name: 'GatherND',
  infer: ([x, idx]) => {
    const k = idx.shape[idx.rank - 1];
    if (typeof k !== 'number') throw new Error('last index dim must be static');
    return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(k)] }];
  },
  emit: (ctx, node) => ctx.node('GatherND', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])]),
  vjp: (node, [g]) => [g && node.inputs[0].zerosLike().scatterNDAdd(node.inputs[1], g), null],
});

defineOp({
  name: 'OneHot',
  infer: ([idx], { depth, dtype }) => {
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error('indices must be integers');
    if (!isFloat(dtype as never)) throw new Error('one-hot output must be float');
    return [{ dtype: dtype as never, shape: [...idx.shape, depth as number] }];
  },
  // Lowered as cast(idx[..., None] == arange(depth)) rather than ONNX OneHot, whose CPU kernel has
  // no float64/float16 variant; negative indices count from the end, as in ONNX OneHot.
  emit: (ctx, node) => {
    const idx = node.inputs[0];
    const depth = node.attrs.depth as number;
    const it = idx.dtype;
    const range = ctx.fresh('onehot_range'), neg = ctx.fresh('onehot_neg'), wrapped = ctx.fresh('onehot_wrapped');
    const fixed = ctx.fresh('onehot_idx'), col = ctx.fresh('onehot_col'), hit = ctx.fresh('onehot_hit');
    ctx.node('Range', [ctx.constScalar(0, it), ctx.constScalar(depth, it), ctx.constScalar(1, it)], [range]);
    ctx.node('Less', [ctx.name(idx), ctx.constScalar(0, it)], [neg]);
    ctx.node('Add', [ctx.name(idx), ctx.constScalar(depth, it)], [wrapped]);
    ctx.node('Where', [neg, wrapped, ctx.name(idx)], [fixed]);
    ctx.node('Unsqueeze', [fixed, ctx.constInt64([-1])], [col]);
    ctx.node('Equal', [col, range], [hit]);
    ctx.node('Cast', [hit], [ctx.name(node.outputs[0])], { to: { dtype: node.outputs[0].dtype } });
  },
  vjp: () => [null],
});

defineOp({
  name: 'ZerosLike',
  infer: ([x]) => [{ dtype: x.dtype, shape: [...x.shape] }],
  emit: (ctx, node) => {
    const x = node.inputs[0];
    const shape = ctx.fresh('shape');
    ctx.node('Shape', [ctx.name(x)], [shape]);
    ctx.node('ConstantOfShape', [shape], [ctx.name(node.outputs[0])], { value: { zeroOf: x.dtype } });
  },
  vjp: () => [null],
});

/** Product of some axes' sizes, as an int64 scalar computed at run time. */
defineOp({
  name: 'DimProd',
  infer: ([x], attrs) => {
    attrs.axes = normAxes(attrs.axes as number[], x.rank);
    return [{ dtype: 'int64', shape: [] }];
  },
  emit: (ctx, node) => {
    const shape = ctx.fresh('shape'), picked = ctx.fresh('dims');
    ctx.node('Shape', [ctx.name(node.inputs[0])], [shape]);
    ctx.node('Gather', [shape, ctx.constInt64(node.attrs.axes as number[])], [picked], { axis: 0 });
    ctx.node('ReduceProd', [picked], [ctx.name(node.outputs[0])], { keepdims: 0 });
  },
  vjp: () => [null],
});

export type { Tensor };
