// One HART transformer block (AdaLNSelfAttn, basic_hart.py, spec §3.3). ln_wo_grad is a weighted
// RMSNorm shared by both sub-layers; the FFN is the Llama SwiGLU. Three official paths:
//   disable_aln = true,  shared_aln = false: x += attn(ln(x)); x += ffn(ln(x))   (released model)
//   disable_aln = false: (γ1, γ2, s1, s2, t1, t2) = ada_lin(SiLU(pool(cond_BD)));
//                        x += attn(ln(x)·(1+s1)+t1)·γ1; x += ffn(ln(x)·(1+s2)+t2)·γ2
//                        (ln keeps its weight: spec §10 item 7)
//   disable_aln = true,  shared_aln = true: the same modulation from scale_shift_table[6, C] +
//                        avg-pooled condition.
// pool = context_pooling: "max" over the context tokens (pads included) or "avg" under the mask.
import type { Tensor } from '../../graph/index.ts';
import { linear, rmsNorm, swiglu, type Params } from '../../nn/index.ts';
import { llamaAttention, type AttentionIO, type AttentionOptions, type AttentionResult } from './attention.ts';
import { hartDims, type HARTForT2IConfig } from './config.ts';
import { precisionSwiglu } from './precision.ts';

/** The condition the blocks see: cond_BD [B, T, C] and, for "avg" pooling, the context mask [B, T] (float 0/1). */
export interface BlockCondition {
  cond_BTC: Tensor;
  contextMask_BT?: Tensor;
}

/** context_pooling(cond, mask, mode): [B, C]. */
export function contextPooling(c: BlockCondition, mode: 'max' | 'avg'): Tensor {
  if (mode === 'max') return c.cond_BTC.max([1]);
  if (!c.contextMask_BT) throw new Error('context pooling "avg" needs the context mask');
  const m_BT1 = c.contextMask_BT.cast(c.cond_BTC.dtype).unsqueeze([2]);
  const count_B11 = m_BT1.sum([1], true).maximum(1);
  return c.cond_BTC.mul(m_BT1).div(count_B11).sum([1]);
}

interface Modulation { gamma1: Tensor; gamma2: Tensor; scale1: Tensor; scale2: Tensor; shift1: Tensor; shift2: Tensor }

/** The six AdaLN vectors, each [B, 1, C], or null for the plain block. */
function modulation(p: Params, cfg: HARTForT2IConfig, cond: BlockCondition): Modulation | null {
  const C = cfg.embed_dim;
  let m_B6C: Tensor;
  if (!cfg.disable_aln) {
    const pooled_BC = contextPooling(cond, cfg.sep_aln_pooling_mode);
    m_B6C = linear(p.scope('ada_lin.1'), pooled_BC.silu(), 6 * C).reshape([0, 6, C]);
  } else if (cfg.shared_aln) {
    const pooled_B1C = contextPooling(cond, 'avg').unsqueeze([1]);
    m_B6C = p.get('scale_shift_table', [6, C]).unsqueeze([0]).add(pooled_B1C);
  } else {
    return null;
  }
  const [gamma1, gamma2, scale1, scale2, shift1, shift2] = m_B6C.split(1, [1, 1, 1, 1, 1, 1]);
  return { gamma1, gamma2, scale1, scale2, shift1, shift2 };
}

export interface BlockResult { x_BlC: Tensor; attn: AttentionResult }

/** Block `blocks.{i}` (p scoped there) on x [B, l, C]. */
export function hartBlock(
  p: Params, cfg: HARTForT2IConfig, x_BlC: Tensor, cond: BlockCondition, io: AttentionIO, opts: AttentionOptions = {},
): BlockResult {
  const d = hartDims(cfg);
  const ln = (t: Tensor) => rmsNorm(p.scope('ln_wo_grad'), t, cfg.norm_eps);
  const mod = modulation(p, cfg, cond);
  const ffn = (t: Tensor) => (opts.precision && opts.precision !== 'float32'
    ? precisionSwiglu(p.scope('ffn'), t, d.ffnHidden, opts.precision, opts.dynq8MaxCode) : swiglu(p.scope('ffn'), t, d.ffnHidden));
  if (!mod) {
    const attn = llamaAttention(p.scope('attn'), cfg, ln(x_BlC), io, opts);
    const x = x_BlC.add(attn.out_BlC);
    return { x_BlC: x.add(ffn(ln(x))), attn };
  }
  const attn = llamaAttention(p.scope('attn'), cfg, ln(x_BlC).mul(mod.scale1.add(1)).add(mod.shift1), io, opts);
  const x = x_BlC.add(attn.out_BlC.mul(mod.gamma1));
  const f = ffn(ln(x).mul(mod.scale2.add(1)).add(mod.shift2));
  return { x_BlC: x.add(f.mul(mod.gamma2)), attn };
}
