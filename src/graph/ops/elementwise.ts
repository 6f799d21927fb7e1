// Elementwise ops (unary, binary with numpy broadcasting, Where, Clip, Cast) and their VJPs.
import type { DType } from '../dtype.ts';
import { isFloat } from '../dtype.ts';
import { broadcastShapes, sumToShape } from '../broadcast.ts';
import type { Node, Tensor } from '../tensor.ts';
import { defineOp } from '../tensor.ts';

function simpleEmit(onnxOp: string, attrNames: string[] = []) {
  return (ctx: Parameters<NonNullable<ReturnType<typeof defineOp>['emit']>>[0], node: Node) => {
    const attrs: Record<string, unknown> = {};
    for (const a of attrNames) if (node.attrs[a] !== undefined) attrs[a] = node.attrs[a];
    ctx.node(onnxOp, node.inputs.map((t) => ctx.name(t)), node.outputs.map((t) => ctx.name(t)), attrs);
  };
}

// ---- unary -------------------------------------------------------------------------------
type UnaryVjp = (x: Tensor, y: Tensor, g: Tensor) => Tensor;
const unaryVjps: Record<string, UnaryVjp | null> = {
  Neg: (_x, _y, g) => g.neg(),
  Abs: (x, _y, g) => g.mul(x.sign()),
  Sqrt: (_x, y, g) => g.div(y.mul(2)),
  Exp: (_x, y, g) => g.mul(y),
  Log: (x, _y, g) => g.div(x),
  Tanh: (_x, y, g) => g.mul(y.mul(y).neg().add(1)),
  Sigmoid: (_x, y, g) => g.mul(y.mul(y.neg().add(1))),
  Erf: (x, _y, g) => g.mul(x.mul(x).neg().exp().mul(2 / Math.sqrt(Math.PI))),
  Reciprocal: (_x, y, g) => g.mul(y.mul(y)).neg(),
  Sin: (x, _y, g) => g.mul(x.cos()),
  Cos: (x, _y, g) => g.mul(x.sin()).neg(),
  Relu: (x, _y, g) => g.mul(x.gt(0).cast(g.dtype)),
  Sign: null,
  Floor: null,
  Not: null,
};
for (const [name, rule] of Object.entries(unaryVjps)) {
  defineOp({
    name,
    infer: ([x]) => {
      if (name === 'Not' ? x.dtype !== 'bool' : !isFloat(x.dtype) && name !== 'Neg' && name !== 'Abs' && name !== 'Sign') {
        throw new Error(`${name} needs a ${name === 'Not' ? 'bool' : 'float'} tensor, got ${x.dtype}`);
      }
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    emit: simpleEmit(name),
    vjp: rule ? (node, [g]) => [g ? rule(node.inputs[0], node.outputs[0], g) : null] : () => [null],
  });
}

// ---- binary ------------------------------------------------------------------------------
type BinaryVjp = (a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | null, Tensor | null];
const arith: Record<string, BinaryVjp> = {
  Add: (_a, _b, _y, g) => [g, g],
  Sub: (_a, _b, _y, g) => [g, g.neg()],
  Mul: (a, b, _y, g) => [g.mul(b), g.mul(a)],
  Div: (a, b, _y, g) => [g.div(b), g.mul(a).div(b.mul(b)).neg()],
  Pow: (a, b, y, g) => [g.mul(b).mul(a.pow(b.sub(1))), g.mul(y).mul(a.log())],
  // Ties split the gradient in half, as torch.maximum / torch.minimum do.
  Max: (a, b, _y, g) => {
    const m = a.gt(b).cast(g.dtype).add(a.eq(b).cast(g.dtype).mul(0.5));
    return [g.mul(m), g.mul(m.neg().add(1))];
  },
  Min: (a, b, _y, g) => {
    const m = a.lt(b).cast(g.dtype).add(a.eq(b).cast(g.dtype).mul(0.5));
    return [g.mul(m), g.mul(m.neg().add(1))];
  },
};
for (const [name, rule] of Object.entries(arith)) {
  defineOp({
    name,
    infer: ([a, b]) => {
      if (a.dtype !== b.dtype) throw new Error(`dtype mismatch ${a.dtype} vs ${b.dtype}`);
      return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape) }];
    },
    emit: simpleEmit(name),
    vjp: (node, [g]) => {
      if (!g) return [null, null];
      const [a, b] = node.inputs;
      const [ga, gb] = rule(a, b, node.outputs[0], g);
      return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
    },
  });
}

for (const name of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or']) {
  defineOp({
    name,
    infer: ([a, b]) => {
      if (a.dtype !== b.dtype) throw new Error(`dtype mismatch ${a.dtype} vs ${b.dtype}`);
      if ((name === 'And' || name === 'Or') && a.dtype !== 'bool') throw new Error(`${name} needs bool inputs`);
      return [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape) }];
    },
    emit: simpleEmit(name),
    vjp: () => [null, null],
  });
}

defineOp({
  name: 'Where',
  infer: ([c, a, b]) => {
    if (c.dtype !== 'bool') throw new Error(`condition must be bool, got ${c.dtype}`);
    if (a.dtype !== b.dtype) throw new Error(`dtype mismatch ${a.dtype} vs ${b.dtype}`);
    return [{ dtype: a.dtype, shape: broadcastShapes(c.shape, a.shape, b.shape) }];
  },
  emit: simpleEmit('Where'),
  vjp: (node, [g]) => {
    if (!g) return [null, null, null];
    const [c, a, b] = node.inputs;
    const zero = g.graph.scalar(0, g.dtype);
    return [null, sumToShape(c.where(g, zero), a.shape), sumToShape(c.where(zero, g), b.shape)];
  },
});

defineOp({
  name: 'Clip',
  infer: ([x, lo, hi]) => {
    for (const t of [lo, hi]) {
      if (t.rank !== 0 || t.dtype !== x.dtype) throw new Error(`Clip bounds must be ${x.dtype} scalars`);
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  emit: simpleEmit('Clip'),
  vjp: (node, [g]) => {
    if (!g) return [null, null, null];
    const [x, lo, hi] = node.inputs;
    const inside = x.ge(lo).and(x.le(hi)).cast(g.dtype);
    return [g.mul(inside), null, null];
  },
});

defineOp({
  name: 'Cast',
  infer: ([x], { to }) => [{ dtype: to as DType, shape: [...x.shape] }],
  emit: (ctx, node) => {
    const to = node.attrs.to as DType;
    ctx.node('Cast', [ctx.name(node.inputs[0])], [ctx.name(node.outputs[0])], { to: { dtype: to } });
  },
  vjp: (node, [g]) => {
    const x = node.inputs[0];
    return [g && isFloat(x.dtype) ? g.cast(x.dtype) : null];
  },
});

// StopGradient: the identity in the forward pass, no gradient (torch .detach()).
defineOp({
  name: 'StopGradient',
  infer: ([x]) => [{ dtype: x.dtype, shape: [...x.shape] }],
  emit: simpleEmit('Identity'),
  vjp: () => [null],
});
