// Method sugar on Tensor (x.add(y), x.matmul(w), ...) over the primitive ops; numbers become
// scalar constants of the tensor's dtype. Composite functions (silu, gelu, rsqrt, mean of
// squares) are built from primitives, so their gradients come for free.
import type { Dim } from './dims.ts';
import type { DType } from './dtype.ts';
import type { ConvAttrs } from './ops/conv.ts';
import { Tensor } from './tensor.ts';

type Operand = Tensor | number;

declare module './tensor.ts' {
  interface Tensor {
    add(o: Operand): Tensor; sub(o: Operand): Tensor; mul(o: Operand): Tensor; div(o: Operand): Tensor;
    pow(o: Operand): Tensor; maximum(o: Operand): Tensor; minimum(o: Operand): Tensor;
    eq(o: Operand): Tensor; lt(o: Operand): Tensor; gt(o: Operand): Tensor; le(o: Operand): Tensor; ge(o: Operand): Tensor;
    and(o: Tensor): Tensor; or(o: Tensor): Tensor; not(): Tensor;
    neg(): Tensor; abs(): Tensor; sign(): Tensor; sqrt(): Tensor; rsqrt(): Tensor; exp(): Tensor; log(): Tensor;
    tanh(): Tensor; sigmoid(): Tensor; erf(): Tensor; sin(): Tensor; cos(): Tensor; reciprocal(): Tensor;
    relu(): Tensor; floor(): Tensor; silu(): Tensor; gelu(approximate?: 'none' | 'tanh'): Tensor;
    clamp(lo: number, hi: number): Tensor;
    where(a: Operand, b: Operand): Tensor;
    cast(to: DType): Tensor;
    /** Same values, no gradient (PyTorch detach). */
    detach(): Tensor;
    matmul(o: Tensor): Tensor; mT(): Tensor;
    sum(axes: number[], keepdims?: boolean): Tensor; mean(axes: number[], keepdims?: boolean): Tensor;
    max(axes: number[], keepdims?: boolean): Tensor; argmax(axis: number, keepdims?: boolean): Tensor;
    /** The k largest values along the last axis, largest first (ops/sort.ts; detached: no gradient). */
    topkValues(k: number): Tensor;
    /** Cumulative sum along an axis, inclusive or exclusive (ops/sort.ts; detached: no gradient). */
    cumsum(axis: number, exclusive?: boolean): Tensor;
    softmax(axis?: number): Tensor; logSoftmax(axis?: number): Tensor;
    reshape(shape: Dim[]): Tensor; transpose(perm: number[]): Tensor;
    unsqueeze(axes: number[]): Tensor; squeeze(axes: number[]): Tensor;
    slice(axes: number[], starts: number[], ends: number[]): Tensor;
    split(axis: number, sizes: number[]): Tensor[];
    pad(pads: number[], value?: number): Tensor; expand(shape: Dim[]): Tensor;
    expandAs(like: Tensor): Tensor; reshapeAs(like: Tensor): Tensor;
    gather(indices: Tensor, axis?: number): Tensor; gatherND(indices: Tensor): Tensor;
    scatterNDAdd(indices: Tensor, updates: Tensor): Tensor;
    oneHot(depth: number, dtype?: DType): Tensor; zerosLike(): Tensor; dimSize(axes: number[]): Tensor;
    conv2d(w: Tensor, b?: Tensor, opts?: Partial<ConvAttrs>): Tensor;
    /** [N, C, H, W] → [N, C, s·H, s·W], nearest neighbour (ops/image.ts). */
    upsampleNearest(scale: number): Tensor;
    /** GroupNorm's normalisation without the affine part, float32 [N, C, …] (ops/image.ts). */
    groupNormalize(groups: number, eps: number): Tensor;
  }
}

const P = Tensor.prototype;

function operand(t: Tensor, o: Operand): Tensor {
  if (typeof o !== 'number') return o;
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return t.graph.scalar(o, 'float32').cast(t.dtype);
  return t.graph.scalar(o, t.dtype === 'bool' ? 'float32' : t.dtype);
}

const binary: Record<string, string> = {
  add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow', maximum: 'Max', minimum: 'Min',
  eq: 'Equal', lt: 'Less', gt: 'Greater', le: 'LessOrEqual', ge: 'GreaterOrEqual', and: 'And', or: 'Or',
};
for (const [m, op] of Object.entries(binary)) {
  (P as unknown as Record<string, unknown>)[m] = function (this: Tensor, o: Operand) {
    return this.graph.apply1(op, [this, operand(this, o)]);
  };
}
const unary: Record<string, string> = {
  neg: 'Neg', abs: 'Abs', sign: 'Sign', sqrt: 'Sqrt', exp: 'Exp', log: 'Log', tanh: 'Tanh', sigmoid: 'Sigmoid',
  erf: 'Erf', sin: 'Sin', cos: 'Cos', reciprocal: 'Reciprocal', relu: 'Relu', floor: 'Floor', not: 'Not',
};
for (const [m, op] of Object.entries(unary)) {
  (P as unknown as Record<string, unknown>)[m] = function (this: Tensor) {
    return this.graph.apply1(op, [this]);
  };
}

P.rsqrt = function () { return this.sqrt().reciprocal(); };
P.silu = function () { return this.mul(this.sigmoid()); };
P.gelu = function (approximate = 'none') {
  if (approximate === 'tanh') {
    const inner = this.add(this.mul(this).mul(this).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return this.mul(inner.tanh().add(1)).mul(0.5);
  }
  return this.mul(this.mul(Math.SQRT1_2).erf().add(1)).mul(0.5);
};
P.clamp = function (lo, hi) {
  return this.graph.apply1('Clip', [this, operand(this, lo), operand(this, hi)]);
};
P.where = function (a, b) {
  const ta = typeof a === 'number' ? (typeof b === 'number' ? this.graph.scalar(a) : operand(b, a)) : a;
  const tb = operand(ta, b);
  return this.graph.apply1('Where', [this, ta, tb]);
};
P.cast = function (to) { return to === this.dtype ? this : this.graph.apply1('Cast', [this], { to }); };
P.detach = function () { return this.graph.apply1('StopGradient', [this]); };
P.matmul = function (o) { return this.graph.apply1('MatMul', [this, o]); };
P.mT = function () {
  const perm = [...Array(this.rank).keys()];
  [perm[this.rank - 2], perm[this.rank - 1]] = [perm[this.rank - 1], perm[this.rank - 2]];
  return this.transpose(perm);
};
P.sum = function (axes, keepdims = false) { return this.graph.apply1('ReduceSum', [this], { axes, keepdims }); };
P.mean = function (axes, keepdims = false) { return this.graph.apply1('ReduceMean', [this], { axes, keepdims }); };
P.max = function (axes, keepdims = false) { return this.graph.apply1('ReduceMax', [this], { axes, keepdims }); };
P.argmax = function (axis, keepdims = false) { return this.graph.apply1('ArgMax', [this], { axis, keepdims }); };
P.topkValues = function (k) { return this.graph.apply1('TopKValues', [this.detach()], { k }); };
P.cumsum = function (axis, exclusive = false) { return this.graph.apply1('CumSum', [this.detach()], { axis, exclusive }); };
P.softmax = function (axis = -1) { return this.graph.apply1('Softmax', [this], { axis }); };
P.logSoftmax = function (axis = -1) { return this.graph.apply1('LogSoftmax', [this], { axis }); };
P.reshape = function (shape) { return this.graph.apply1('Reshape', [this], { shape: [...shape] }); };
P.transpose = function (perm) { return this.graph.apply1('Transpose', [this], { perm: [...perm] }); };
P.unsqueeze = function (axes) { return this.graph.apply1('Unsqueeze', [this], { axes: [...axes] }); };
P.squeeze = function (axes) { return this.graph.apply1('Squeeze', [this], { axes: [...axes] }); };
P.slice = function (axes, starts, ends) {
  return this.graph.apply1('Slice', [this], { axes: [...axes], starts: [...starts], ends: [...ends] });
};
P.split = function (axis, sizes) {
  let s = 0;
  return sizes.map((n) => this.slice([axis], [s], [(s += n)]));
};
P.pad = function (pads, value = 0) { return this.graph.apply1('Pad', [this], { pads: [...pads], value }); };
P.expand = function (shape) { return this.graph.apply1('Expand', [this], { shape: [...shape] }); };
P.expandAs = function (like) { return this.graph.apply1('ExpandAs', [this, like]); };
P.reshapeAs = function (like) { return this.graph.apply1('ReshapeAs', [this, like]); };
P.gather = function (indices, axis = 0) { return this.graph.apply1('Gather', [this, indices], { axis }); };
P.gatherND = function (indices) { return this.graph.apply1('GatherND', [this, indices]); };
P.scatterNDAdd = function (indices, updates) { return this.graph.apply1('ScatterNDAdd', [this, indices, updates]); };
P.oneHot = function (depth, dtype = 'float32') { return this.graph.apply1('OneHot', [this], { depth, dtype }); };
P.zerosLike = function () { return this.graph.apply1('ZerosLike', [this]); };
P.dimSize = function (axes) { return this.graph.apply1('DimProd', [this], { axes: [...axes] }); };
P.upsampleNearest = function (scale) { return this.graph.apply1('UpsampleNearest', [this], { scale }); };
P.groupNormalize = function (groups, eps) { return this.graph.apply1('GroupNormalize', [this], { groups, eps }); };
P.conv2d = function (w, b, opts = {}) {
  const attrs = {
    strides: opts.strides ?? [1, 1],
    pads: opts.pads ?? [0, 0, 0, 0],
    dilations: opts.dilations ?? [1, 1],
    group: opts.group ?? 1,
  };
  return this.graph.apply1('Conv', b ? [this, w, b] : [this, w], attrs);
};

/** Concatenates along an axis. */
export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat of nothing');
  return xs[0].graph.apply1('Concat', xs, { axis });
}
