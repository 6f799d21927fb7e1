// Image-shaped ops on [N, C, H, W] that ONNX Runtime runs as one kernel each, where the same
// arithmetic spelled out in primitives costs many passes over the feature map:
//   UpsampleNearest: F.interpolate(mode='nearest') by an integer factor, as ONNX Resize (ORT runs it
//     in its NCHWc layout between convolutions; an Expand of a 6-D view, the primitive spelling, is
//     a slow broadcast copy there). The values are copies either way, so both are exact.
//   GroupNormalize: torch GroupNorm's normalisation without the affine part, (x − μ)/√(σ² + ε) per
//     sample and group (biased variance), as InstanceNormalization over the [N, G, C/G·H·W] view:
//     two kernels and a reshape instead of about ten elementwise and reduction passes. The rounding
//     of the mean and variance differs from the primitive form's by float32 summation order only.
// Both have VJPs in primitives, so training graphs differentiate through them.
import { mulDims } from '../dims.ts';
import { defineOp, type Tensor } from '../tensor.ts';

/**
 * GroupNorm's normalisation spelled out in primitives, on the [N, G, C/G·…] view: n = (x − μ)·r and
 * r = (σ² + ε)^−½ per sample and group. GroupNormalize's VJP, and the forward for dtypes other than float32.
 */
export function groupNormalizeParts(x: Tensor, groups: number, eps: number): { n: Tensor; r: Tensor } {
  const xg = x.reshape([0, groups, -1]);
  const xc = xg.sub(xg.mean([2], true));
  const r = xc.mul(xc).mean([2], true).add(eps).rsqrt();
  return { n: xc.mul(r), r };
}

defineOp({
  name: 'UpsampleNearest',
  infer: ([x], { scale }) => {
    const s = scale as number;
    if (!Number.isInteger(s) || s < 1) throw new Error(`UpsampleNearest: scale must be a positive integer, got ${s}`);
    if (x.rank !== 4) throw new Error(`UpsampleNearest: input must be [N, C, H, W], got rank ${x.rank}`);
    if (x.dtype !== 'float32') throw new Error(`UpsampleNearest: float32 only (ONNX Runtime's CPU Resize), got ${x.dtype}`);
    const [N, C, H, W] = x.shape;
    return [{ dtype: x.dtype, shape: [N, C, mulDims(s, H), mulDims(s, W)] }];
  },
  emit: (ctx, node) => {
    const s = node.attrs.scale as number;
    // asymmetric coordinates with floor rounding: output (i, j) reads input (⌊i/s⌋, ⌊j/s⌋), torch's 'nearest'
    ctx.node('Resize', [ctx.name(node.inputs[0]), '', ctx.constFloat32([1, 1, s, s])], [ctx.name(node.outputs[0])],
      { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  },
  vjp: (node, [g]) => {
    if (!g) return [null];
    const s = node.attrs.scale as number;
    const [, , H, W] = node.inputs[0].shape;
    // each input pixel was copied to an s×s block: its gradient is the block's sum
    return [g.reshape([0, 0, H, s, W, s]).sum([3, 5])];
  },
});

defineOp({
  name: 'GroupNormalize',
  infer: ([x], { groups, eps }) => {
    const G = groups as number;
    if (!Number.isInteger(G) || G < 1) throw new Error(`GroupNormalize: groups must be a positive integer, got ${G}`);
    if (typeof eps !== 'number' || !(eps > 0)) throw new Error(`GroupNormalize: eps must be positive, got ${eps}`);
    if (x.rank < 3) throw new Error(`GroupNormalize: input must be [N, C, …], got rank ${x.rank}`);
    if (x.dtype !== 'float32') throw new Error(`GroupNormalize: float32 only (ONNX Runtime's CPU InstanceNormalization), got ${x.dtype}`);
    const C = x.shape[1];
    if (typeof C !== 'number' || C % G !== 0) throw new Error(`GroupNormalize: ${C} channels not divisible by ${G} groups`);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  emit: (ctx, node) => {
    const x = node.inputs[0];
    const G = node.attrs.groups as number;
    const grouped = ctx.fresh('gn_in'), normed = ctx.fresh('gn_out'), shape = ctx.fresh('gn_shape');
    ctx.node('Reshape', [ctx.name(x), ctx.constInt64([0, G, -1])], [grouped]);
    ctx.node('InstanceNormalization', [grouped, ctx.constFloat32(Array(G).fill(1)), ctx.constFloat32(Array(G).fill(0))], [normed],
      { epsilon: { f: node.attrs.eps as number } });
    ctx.node('Shape', [ctx.name(x)], [shape]);
    ctx.node('Reshape', [normed, shape], [ctx.name(node.outputs[0])]);
  },
  vjp: (node, [g]) => {
    if (!g) return [null];
    const x = node.inputs[0];
    const G = node.attrs.groups as number;
    // n = (x − μ)·r with r = (σ² + ε)^−½ per group: ∂x = r·(g − mean(g) − n·mean(g·n))
    const { n, r } = groupNormalizeParts(x, G, node.attrs.eps as number);
    const gg = g.reshape([0, G, -1]);
    const dx = r.mul(gg.sub(gg.mean([2], true)).sub(n.mul(gg.mul(n).mean([2], true))));
    return [dx.reshapeAs(x)];
  },
});
