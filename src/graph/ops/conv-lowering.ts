// The convolution's gradients lowered onto ONNX Runtime's fastest CPU kernels. Weight gradient:
// dw[o, (c,i,j)] = Σ_{n,h,w} g[n,o,(h,w)] · x_pad[n, c, h·s + i·d, w·s + j·d], i.e. the output
// gradient times the im2col taps of the input (kh·kw strided slices of the padded input), in MatMul
// kernels; a Conv whose kernel is the output-gradient map (conv.ts' 'legacy' lowering) runs at a
// fraction of the MatMul speed (a many-channel, huge-kernel, tiny-output convolution). Input
// gradient at stride 1: a Conv of the output gradient with the flipped kernel, faster than
// ConvTranspose (GEMM then col2im). Measured by bench/train-tokenizer-step.ts.
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

/**
 * dL/dx of y = conv(x, w) for stride 1, as a convolution of g with the flipped, in/out-swapped
 * kernel: dx[c, u] = Σ_{o,i} g_pad[o, u + i·d] · w[o, c, k−1−i], g padded by d·(k−1) − p on each
 * side (so the kernel's forward Conv runs it, which beats ConvTranspose's GEMM + col2im in ONNX
 * Runtime). Null where that padding would be negative (a pad wider than the kernel's reach).
 */
export function convInputGradStride1(g_NOHW: Tensor, w: Tensor, a: ConvAttrs): Tensor | null {
  const [O, Cg, kh, kw] = w.shape as number[];
  const G = a.group, Og = O / G, [d0, d1] = a.dilations;
  const pads = [d0 * (kh - 1) - a.pads[0], d1 * (kw - 1) - a.pads[1], d0 * (kh - 1) - a.pads[2], d1 * (kw - 1) - a.pads[3]];
  if (a.strides.some((s) => s !== 1) || pads.some((p) => p < 0)) return null;
  const graph = w.graph;
  const rev = (k: number) => graph.constant(BigInt64Array.from({ length: k }, (_, i) => BigInt(k - 1 - i)), [k]);
  let wt = G === 1 ? w.transpose([1, 0, 2, 3]) // [C, O, kh, kw]
    : w.reshape([G, Og, Cg, kh, kw]).transpose([0, 2, 1, 3, 4]).reshape([G * Cg, Og, kh, kw]);
  if (kh > 1) wt = wt.gather(rev(kh), 2);
  if (kw > 1) wt = wt.gather(rev(kw), 3);
  return g_NOHW.conv2d(wt, undefined, { strides: [1, 1], pads, dilations: a.dilations, group: G });
}

/** Output size of a convolution along one axis. */
export function convOutSize(n: number, k: number, s: number, p0: number, p1: number, d: number): number {
  return Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

/**
 * The kh·kw taps of a convolution over x_NCHW: tap i·kw + j is [N, C, Ho, Wo], holding
 * x_pad[n, c, h·s0 + i·d0, w·s1 + j·d1] (a slice of the padded input, strided for stride > 1).
 * C, H, W must be static; N may be symbolic.
 */
export function convTaps(x_NCHW: Tensor, kernel: [number, number], a: ConvAttrs): Tensor[] {
  const [, C, H, W] = x_NCHW.shape;
  if (typeof C !== 'number' || typeof H !== 'number' || typeof W !== 'number') {
    throw new Error(`conv taps: ${x_NCHW} needs static channels and spatial dims`);
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
  return taps;
}

/**
 * im2col of x_NCHW for a kh×kw kernel: cols [N, C·kh·kw, Ho·Wo], row c·kh·kw + i·kw + j (the
 * weight's [O, C, kh, kw] flattening), column h·Wo + w: the taps concatenated along H
 * ([N, C, kh·kw·Ho, Wo] is [N, C·kh·kw, Ho·Wo] in memory).
 */
export function im2col(x_NCHW: Tensor, kernel: [number, number], a: ConvAttrs): Tensor {
  const taps = convTaps(x_NCHW, kernel, a);
  const [, C, Ho, Wo] = taps[0].shape as number[];
  return (taps.length === 1 ? taps[0] : concat(taps, 2)).reshape([0, C * kernel[0] * kernel[1], Ho * Wo]);
}

/**
 * Spatial sizes (Ho·Wo) below this use one GEMM over (n, h, w) instead of products per image
 * summed over the batch: small images make short per-image products, and their transposes are cheap.
 */
const PER_IMAGE_MIN_HW = 256;

/**
 * dL/dw of y = conv(x, w) given g = dL/dy: [O, C/groups, kh, kw]. For Ho·Wo ≥ 256, per tap t one
 * batched product g[n] [O, Ho·Wo] · tap_t[n]ᵀ [Ho·Wo, C] (ONNX Runtime fuses the transpose into the
 * MatMul), the kh·kw results [N, O, C] concatenated, summed over the batch and reordered to
 * (c, i, j): the patch matrix is never assembled, so each tap is copied once. For small Ho·Wo, one
 * [O, N·Ho·Wo] · [N·Ho·Wo, C·kh·kw] product of the transposed im2col matrix. Groups are a batch dim.
 */
export function convWeightGrad(x_NCHW: Tensor, g_NOHW: Tensor, wShape: readonly number[], a: ConvAttrs): Tensor {
  const [O, Cg, kh, kw] = wShape;
  const G = a.group, Og = O / G, kk = kh * kw, K = Cg * kk;
  const [, , Ho, Wo] = g_NOHW.shape as number[];
  const L = Ho * Wo;
  if (L >= PER_IMAGE_MIN_HW) {
    const gy = G === 1 ? g_NOHW.reshape([0, O, L]) : g_NOHW.reshape([0, G, Og, L]);
    const perTap = convTaps(x_NCHW, [kh, kw], a).map((t) => gy.matmul((G === 1 ? t.reshape([0, Cg, L]) : t.reshape([0, G, Cg, L])).mT()));
    const dw = (kk === 1 ? perTap[0] : concat(perTap, -1)).sum([0]); // [G?, Og, kk·Cg]
    return kk === 1 ? dw.reshape([O, Cg, kh, kw]) : dw.reshape([O, kk, Cg]).transpose([0, 2, 1]).reshape([O, Cg, kh, kw]);
  }
  const cT = im2col(x_NCHW, [kh, kw], a).reshape([0, G, K, L]).transpose([1, 2, 0, 3]).reshape([G, K, -1]); // [G, K, N·L]
  const gT = g_NOHW.reshape([0, G, Og, L]).transpose([1, 2, 0, 3]).reshape([G, Og, -1]); // [G, Og, N·L]
  return gT.matmul(cT.mT()).reshape([O, Cg, kh, kw]); // [G, Og, K]
}
