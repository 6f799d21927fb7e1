// The convolution weight gradient as im2col + matrix products, the way GEMM-based frameworks
// compute it: dw[o, (c,i,j)] = Σ_{n,h,w} g[n,o,(h,w)] · cols[n,(c,i,j),(h,w)] with
// cols[n, (c,i,j), (h,w)] = x_pad[n, c, h·s + i·d, w·s + j·d]. The patch matrix is built from
// kh·kw (strided) slices of the padded input concatenated along H, so every FLOP runs in MatMul
// kernels; a Conv whose kernel is the output-gradient map (conv.ts' 'conv' lowering) runs at a
// fraction of the MatMul speed in ONNX Runtime (many-channel, huge-kernel, tiny-output convolution).
import type { Tensor } from '../tensor.ts';
import { defineOp } from '../tensor.ts';
import { fmtShape } from '../dims.ts';
import { concat } from '../methods.ts';
import type { ConvAttrs } from './conv.ts';

/** Slice with steps (ONNX Slice's fifth input); static dims on the sliced axes, no gradient. */
defineOp({
  name: 'SliceStep',
  infer: ([x], attrs) => {
    const axes = attrs.axes as number[], starts = attrs.starts as number[], ends = attrs.ends as number[], steps = attrs.steps as number[];
    const out = [...x.shape];
    axes.forEach((a, k) => {
      const d = x.shape[a];
      if (typeof d !== 'number') throw new Error(`strided slice along symbolic axis ${a} of ${fmtShape(x.shape)}`);
      if (!(steps[k] >= 1 && starts[k] >= 0 && starts[k] < ends[k] && ends[k] <= d)) {
        throw new Error(`slice [${starts[k]}:${ends[k]}:${steps[k]}] out of range on axis ${a} (${d})`);
      }
      out[a] = Math.ceil((ends[k] - starts[k]) / steps[k]);
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  emit: (ctx, node) => {
    const a = node.attrs as { axes: number[]; starts: number[]; ends: number[]; steps: number[] };
    ctx.node('Slice', [ctx.name(node.inputs[0]), ctx.constInt64(a.starts), ctx.constInt64(a.ends), ctx.constInt64(a.axes), ctx.constInt64(a.steps)],
      [ctx.name(node.outputs[0])]);
  },
});

/** Output size of a convolution along one axis. */
export function convOutSize(n: number, k: number, s: number, p0: number, p1: number, d: number): number {
  return Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

/**
 * im2col of x_NCHW for a kh×kw kernel: cols [N, C·kh·kw, Ho·Wo], row c·kh·kw + i·kw + j (the
 * weight's [O, C, kh, kw] flattening), column h·Wo + w, holding x_pad[n, c, h·s0 + i·d0, w·s1 + j·d1].
 * C, H, W must be static; N may be symbolic.
 */
export function im2col(x_NCHW: Tensor, kernel: [number, number], a: ConvAttrs): Tensor {
  const [, C, H, W] = x_NCHW.shape;
  if (typeof C !== 'number' || typeof H !== 'number' || typeof W !== 'number') {
    throw new Error(`im2col: ${x_NCHW} needs static channels and spatial dims`);
  }
  const [kh, kw] = kernel, [s0, s1] = a.strides, [d0, d1] = a.dilations, [pt, pl, pb, pr] = a.pads;
  const Ho = convOutSize(H, kh, s0, pt, pb, d0), Wo = convOutSize(W, kw, s1, pl, pr, d1);
  const xp = pt || pl || pb || pr ? x_NCHW.pad([0, 0, pt, pl, 0, 0, pb, pr]) : x_NCHW;
  const Hp = H + pt + pb, Wp = W + pl + pr;
  const taps: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const h0 = i * d0, w0 = j * d1, h1 = h0 + (Ho - 1) * s0 + 1, w1 = w0 + (Wo - 1) * s1 + 1;
      if (h0 === 0 && w0 === 0 && h1 === Hp && w1 === Wp && s0 === 1 && s1 === 1) taps.push(xp);
      else if (s0 === 1 && s1 === 1) taps.push(xp.slice([2, 3], [h0, w0], [h1, w1]));
      else taps.push(xp.graph.apply1('SliceStep', [xp], { axes: [2, 3], starts: [h0, w0], ends: [h1, w1], steps: [s0, s1] }));
    }
  }
  // Concatenated along H: [N, C, kh·kw·Ho, Wo], which is [N, C·kh·kw, Ho·Wo] in memory.
  const stacked = taps.length === 1 ? taps[0] : concat(taps, 2);
  return stacked.reshape([0, C * kh * kw, Ho * Wo]);
}

/**
 * Spatial sizes (Ho·Wo) below this use one GEMM over (n, h, w) instead of one product per image
 * summed over the batch: small images make short per-image products, and their transposes are cheap.
 */
const PER_IMAGE_MIN_HW = 256;

/**
 * dL/dw of y = conv(x, w) given g = dL/dy: [O, C/groups, kh, kw]. Per image, a product
 * g[n] [O, Ho·Wo] · cols[n]ᵀ [Ho·Wo, C·kh·kw] (one batched MatMul, the transpose fused into it by
 * ONNX Runtime), summed over the batch; for small Ho·Wo a single [O, N·Ho·Wo] · [N·Ho·Wo, C·kh·kw]
 * product instead. Groups are a batch dim of the products.
 */
export function convWeightGrad(x_NCHW: Tensor, g_NOHW: Tensor, wShape: readonly number[], a: ConvAttrs): Tensor {
  const [O, Cg, kh, kw] = wShape;
  const G = a.group, Og = O / G, K = Cg * kh * kw;
  const [, , Ho, Wo] = g_NOHW.shape as number[];
  const cols = im2col(x_NCHW, [kh, kw], a); // [N, G·K, L]
  const L = Ho * Wo;
  let dw: Tensor;
  if (L >= PER_IMAGE_MIN_HW) {
    const c = G === 1 ? cols : cols.reshape([0, G, K, L]);
    const gy = G === 1 ? g_NOHW.reshape([0, O, L]) : g_NOHW.reshape([0, G, Og, L]);
    dw = gy.matmul(c.mT()).sum([0]); // [G?, Og, K]
  } else {
    const cT = cols.reshape([0, G, K, L]).transpose([1, 2, 0, 3]).reshape([G, K, -1]); // [G, K, N·L]
    const gT = g_NOHW.reshape([0, G, Og, L]).transpose([1, 2, 0, 3]).reshape([G, Og, -1]); // [G, Og, N·L]
    dw = gT.matmul(cT.mT()); // [G, Og, K]
  }
  return dw.reshape([O, Cg, kh, kw]);
}
