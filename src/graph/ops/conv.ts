// 2-D convolution (ONNX Conv: stride, padding, dilation, groups) and its VJP: by default the
// weight gradient in MatMul kernels over im2col taps and the input gradient as a Conv with the
// flipped kernel (conv-lowering.ts); the 'legacy' lowering (ConvTranspose, and a Conv with the
// output gradient as kernel) stays available as an independent second lowering.
import type { Dim } from '../dims.ts';
import { addDims, exprDim, fmtShape, mulDims } from '../dims.ts';
import { defineOp, type Tensor } from '../tensor.ts';
import { convInputGradStride1, convWeightGrad } from './conv-lowering.ts';

export interface ConvAttrs {
  strides: number[]; pads: number[]; dilations: number[]; group: number;
  /**
   * How the VJP is lowered (not emitted). 'im2col' (default, conv-lowering.ts): the weight gradient
   * as products of the output gradient with the input's im2col taps in MatMul kernels, the input
   * gradient (stride 1) as a Conv with the flipped kernel. 'legacy': the weight gradient as one
   * Conv whose kernel is the output-gradient map and the input gradient by ConvTranspose (2–3×
   * slower in ONNX Runtime's CPU kernels; kept as a second, independent lowering).
   */
  gradLowering?: 'im2col' | 'legacy';
}

function outDim(d: Dim, k: number, s: number, p0: number, p1: number, dil: number): Dim {
  // Stride 1 keeps a symbolic size symbolic ("H" for a 3×3 conv with padding 1), so residual adds line up.
  if (s === 1) return addDims(d, p0 + p1 - dil * (k - 1));
  return exprDim((v) => Math.floor((v + p0 + p1 - dil * (k - 1) - 1) / s) + 1, `conv${k}s${s}p${p0}_${p1}d${dil}`, d);
}

defineOp({
  name: 'Conv',
  infer: ([x, w, b], attrs) => {
    const { strides, pads, dilations, group } = attrs as unknown as ConvAttrs;
    if (x.rank !== 4 || w.rank !== 4) throw new Error(`conv2d needs x [N,C,H,W] and w [O,C/g,kh,kw], got ${fmtShape(x.shape)}, ${fmtShape(w.shape)}`);
    if (x.dtype !== w.dtype) throw new Error(`dtype mismatch ${x.dtype} vs ${w.dtype}`);
    const [O, Cg, kh, kw] = w.shape as number[];
    if ([O, kh, kw].some((d) => typeof d !== 'number')) throw new Error(`weight ${fmtShape(w.shape)} needs static out channels and kernel`);
    // Channels may be symbolic (the weight-gradient convolution runs over the batch as channels).
    const C = x.shape[1];
    if (C !== mulDims(Cg, group)) throw new Error(`input channels ${C} != ${Cg}×groups ${group}`);
    if (O % group !== 0) throw new Error(`output channels ${O} not divisible by groups ${group}`);
    if (b && (b.rank !== 1 || b.shape[0] !== O)) throw new Error(`bias ${fmtShape(b.shape)} should be [${O}]`);
    const H = outDim(x.shape[2], kh, strides[0], pads[0], pads[2], dilations[0]);
    const W = outDim(x.shape[3], kw, strides[1], pads[1], pads[3], dilations[1]);
    if ((typeof H === 'number' && H <= 0) || (typeof W === 'number' && W <= 0)) {
      throw new Error(`output would be empty (${H}×${W})`);
    }
    return [{ dtype: x.dtype, shape: [x.shape[0], O, H, W] }];
  },
  emit: (ctx, node) => {
    const { strides, pads, dilations, group } = node.attrs as unknown as ConvAttrs;
    ctx.node('Conv', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])], { strides, pads, dilations, group });
  },
  vjp: (node, [g]) => {
    if (!g) return node.inputs.map(() => null);
    const [x, w, b] = node.inputs;
    const a = node.attrs as unknown as ConvAttrs;
    const [, , kh, kw] = w.shape as number[];
    const H = x.shape[2], W = x.shape[3];
    if (typeof H !== 'number' || typeof W !== 'number') throw new Error('conv gradient needs static spatial dims');
    const k = [kh, kw], hw = [H, W];
    const outPad = [0, 1].map((i) => (hw[i] + a.pads[i] + a.pads[i + 2] - a.dilations[i] * (k[i] - 1) - 1) % a.strides[i]);
    const legacy = a.gradLowering === 'legacy';
    const gx = (legacy ? null : convInputGradStride1(g, w, a))
      ?? g.graph.apply1('ConvTranspose', [g, w], { ...a, output_padding: outPad });
    const gw = legacy ? weightGradByConv(x, g, w.shape as number[], a) : convWeightGrad(x, g, w.shape as number[], a);
    const gb = b ? g.sum([0, 2, 3]) : null;
    return b ? [gx, gw, gb] : [gx, gw];
  },
});

/**
 * dw[o,c,i,j] = Σ_{n,h,w} g[n,o,h,w] · x_pad[n, G(o)·Cg + c, h·s + i·d, w·s + j·d]: a convolution
 * whose batch is c (channels within a group), whose channels are (group, n), with g as the weight
 * (O/groups outputs per group, N inputs each); stride and dilation swap roles.
 */
function weightGradByConv(x: Tensor, g: Tensor, wShape: number[], a: ConvAttrs): Tensor {
  const [, Cg, kh, kw] = wShape;
  const G = a.group, H = x.shape[2], W = x.shape[3];
  const xg = x.reshape([0, G, Cg, H, W]).transpose([2, 1, 0, 3, 4]).reshape([Cg, -1, H, W]); // [Cg, G·N, H, W]
  const gt = g.transpose([1, 0, 2, 3]); // [O, N, Ho, Wo]
  const full = g.graph.apply1('Conv', [xg, gt], { strides: a.dilations, pads: a.pads, dilations: a.strides, group: G });
  return full.slice([2, 3], [0, 0], [kh, kw]).transpose([1, 0, 2, 3]); // [O, Cg, kh, kw]
}

defineOp({
  name: 'ConvTranspose',
  infer: ([x, w], attrs) => {
    const a = attrs as unknown as ConvAttrs & { output_padding: number[] };
    const [, Og, kh, kw] = w.shape as number[];
    const k = [kh, kw];
    // s·(v − 1) + output_padding + (k − 1)·d + 1 − p0 − p1, kept symbolic as s·v + constant.
    const out = [2, 3].map((ax, i) => addDims(mulDims(a.strides[i], x.shape[ax]),
      a.output_padding[i] + (k[i] - 1) * a.dilations[i] + 1 - a.pads[i] - a.pads[i + 2] - a.strides[i]));
    return [{ dtype: x.dtype, shape: [x.shape[0], Og * a.group, ...out] }];
  },
  emit: (ctx, node) => {
    const { strides, pads, dilations, group, output_padding } = node.attrs as unknown as ConvAttrs & { output_padding: number[] };
    ctx.node('ConvTranspose', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])],
      { strides, pads, dilations, group, output_padding });
  },
});
