// Basic layers over the graph API, named and laid out like PyTorch's (weights [out, in]):
// Linear, RMSNorm, LayerNorm, GroupNorm, Conv2d, SwiGLU MLP, nearest ×2 upsampling.
import { groupNormalizeParts, type Tensor } from '../graph/index.ts';
import { mulDims } from '../graph/dims.ts';
import type { Params } from './params.ts';

function lastDim(x: Tensor): number {
  const c = x.shape[x.rank - 1];
  if (typeof c !== 'number') throw new Error(`${x}: the feature (last) dim must be static`);
  return c;
}

/** y = x Wᵀ + b with W [out, in] (torch.nn.Linear); an int4 weight in the store becomes MatMulNBits (int4.ts). */
export function linear(p: Params, x: Tensor, outFeatures: number, bias = true): Tensor {
  const inF = lastDim(x);
  const y = p.int4MatMul('weight', [outFeatures, inF], x) ?? x.matmul(p.get('weight', [outFeatures, inF]).mT());
  return bias ? y.add(p.get('bias', [outFeatures])) : y;
}

/**
 * x / sqrt(mean(x²) + eps) over the last dim. In float32 it is written with Pow and Div, the form
 * ONNX Runtime's optimizer fuses into one SimplifiedLayerNormalization / LayerNormalization kernel
 * (7 nodes → 1 per norm; x·rsqrt(…) is not recognized); float64 graphs keep x·rsqrt(…), which stays
 * unfused (the fused kernels lose float64 precision: gradient checks of the fused form miss by ~5e-6).
 */
function normalizeRms(x: Tensor, eps: number): Tensor {
  if (x.dtype === 'float32') return x.div(x.pow(2).mean([-1], true).add(eps).sqrt());
  return x.mul(x.mul(x).mean([-1], true).add(eps).rsqrt());
}

/** RMSNorm over the last dim: x · rsqrt(mean(x²) + eps) · weight. */
export function rmsNorm(p: Params | null, x: Tensor, eps: number): Tensor {
  const n = normalizeRms(x, eps);
  return p ? n.mul(p.get('weight', [lastDim(x)])) : n;
}

/** LayerNorm over the last dim (biased variance), optionally affine. */
export function layerNorm(p: Params | null, x: Tensor, eps: number): Tensor {
  const n = normalizeRms(x.sub(x.mean([-1], true)), eps);
  const c = lastDim(x);
  if (p) return n.mul(p.get('weight', [c])).add(p.get('bias', [c]));
  if (x.dtype !== 'float32') return n;
  // ONNX Runtime fuses only the affine form: · 1 + 0 costs two cheap ops where nothing fuses
  const g = x.graph;
  return n.mul(g.constant(new Float32Array(c).fill(1), [c])).add(g.constant(new Float32Array(c), [c]));
}

/** GroupNorm on [N, C, H, W] (torch.nn.GroupNorm, affine). */
export function groupNorm(p: Params, x: Tensor, groups: number, eps: number): Tensor {
  const C = x.shape[1];
  if (typeof C !== 'number' || C % groups !== 0) throw new Error(`GroupNorm: ${C} channels not divisible by ${groups}`);
  // float32: one InstanceNormalization kernel (ops/image.ts); other dtypes spelled out in primitives
  const n = x.dtype === 'float32' ? x.groupNormalize(groups, eps) : groupNormalizeParts(x, groups, eps).n.reshapeAs(x);
  const w = p.get('weight', [C]).reshape([C, 1, 1]);
  const b = p.get('bias', [C]).reshape([C, 1, 1]);
  return n.mul(w).add(b);
}

export interface Conv2dOptions { stride?: number; padding?: number | [number, number, number, number]; bias?: boolean }

/** torch.nn.Conv2d with a square kernel; weight [out, in, k, k]. */
export function conv2d(p: Params, x: Tensor, outCh: number, k: number, opts: Conv2dOptions = {}): Tensor {
  const inCh = x.shape[1];
  if (typeof inCh !== 'number') throw new Error(`conv2d: ${x} needs static channels`);
  const pad = opts.padding ?? 0;
  const pads = typeof pad === 'number' ? [pad, pad, pad, pad] : pad;
  const w = p.get('weight', [outCh, inCh, k, k]);
  const b = opts.bias === false ? undefined : p.get('bias', [outCh]);
  const s = opts.stride ?? 1;
  return x.conv2d(w, b, { strides: [s, s], pads });
}

/** Llama MLP: down(silu(gate(x)) · up(x)), no biases. */
export function swiglu(p: Params, x: Tensor, hidden: number): Tensor {
  const c = lastDim(x);
  const gate = linear(p.scope('gate_proj'), x, hidden, false);
  const up = linear(p.scope('up_proj'), x, hidden, false);
  return linear(p.scope('down_proj'), gate.silu().mul(up), c, false);
}

/** Nearest-neighbour ×2 upsampling of [N, C, H, W] (F.interpolate(scale_factor=2, mode='nearest')). */
export function upsampleNearest2x(x: Tensor): Tensor {
  // float32: one Resize kernel (ops/image.ts); ONNX Runtime's CPU Resize has no float64 kernel
  if (x.dtype === 'float32') return x.upsampleNearest(2);
  const [N, C, H, W] = x.shape;
  return x.unsqueeze([3, 5]).expand([N, C, H, 2, W, 2]).reshape([0, 0, mulDims(2, H), mulDims(2, W)]);
}
