// The multi-scale residual quantizer of the hybrid tokenizer as graph builders (official
// quantize/var_quantize_multiple_res.py::VectorQuantizer2 and quantize/hart_hybrid_quantize.py::
// HARTHybridQuantizer; VAR's quant.py): nearest-code lookup, φ (Phi / PhiShared /
// PhiPartiallyShared / PhiNonShared), area-down and bicubic-up resampling as matrix products that
// reproduce F.interpolate, and the scale loops: f_to_idxBl_or_fhat (VAR), f_to_idxBl_and_frest
// (hybrid: φ skipped at the last scale), idxBl_to_var_input (teacher forcing),
// get_next_autoregressive_input (inference) and the training forward with its VQ loss.
// Scales are unrolled in the graph; weights are scoped at `quantize` (relative to `vae.`).
import type { Tensor } from '../../graph/index.ts';
import { concat } from '../../graph/index.ts';
import { conv2d, type Params } from '../../nn/index.ts';
import { areaMatrix, bicubicMatrix } from '../../tables/resample.ts';
import { phiIndexPerScale } from '../../tables/schedules.ts';
import type { HartTokenizerConfig } from './config.ts';

function dimOf(x: Tensor, axis: number): number {
  const d = x.shape[axis];
  if (typeof d !== 'number') throw new Error(`${x}: axis ${axis} must be static`);
  return d;
}

/** [out, in] resampling matrix as a float32 graph constant. */
function matrixConst(x: Tensor, M: Float64Array, outSize: number, inSize: number): Tensor {
  return x.graph.constant(Float32Array.from(M), [outSize, inSize]);
}

/** M_h·X·M_wᵀ with the [out, in] matrices of `matrix` (identity at equal size). */
function matrixResize(x_BChw: Tensor, outH: number, outW: number, matrix: (inSize: number, outSize: number) => Float64Array): Tensor {
  const H = dimOf(x_BChw, 2), W = dimOf(x_BChw, 3);
  if (H === outH && W === outW) return x_BChw;
  const mH = matrixConst(x_BChw, matrix(H, outH), outH, H);
  const mWt = matrixConst(x_BChw, matrix(W, outW), outW, W).mT();
  return mH.matmul(x_BChw.matmul(mWt));
}

/** F.interpolate(x, size=(outH, outW), mode='area') = adaptive_avg_pool2d. */
export function areaResize(x_BChw: Tensor, outH: number, outW: number): Tensor {
  return matrixResize(x_BChw, outH, outW, areaMatrix);
}

/** F.interpolate(x, size=(outH, outW), mode='bicubic', align_corners=False). */
export function bicubicResize(x_BChw: Tensor, outH: number, outW: number): Tensor {
  return matrixResize(x_BChw, outH, outW, (i, o) => bicubicMatrix(i, o));
}

/** [B, C, h, w] → [B, h·w, C] (permute(0,2,3,1), tokens row-major). */
export function toTokens(x_BChw: Tensor): Tensor {
  return x_BChw.reshape([0, 0, -1]).mT();
}

/** [B, pn·pn, C] → [B, C, pn, pn]. */
export function fromTokens(x_BlC: Tensor, pn: number): Tensor {
  return x_BlC.mT().reshape([0, 0, pn, pn]);
}

/** Which φ module each scale uses, and how φ is stored, following the official class choice. */
export interface PhiLayout {
  /** Weight scope of φ module k (relative to `quantize`), or null when φ is the identity. */
  scope(k: number): string | null;
  /** φ module index of each of numScales scales. */
  indexPerScale(numScales: number): number[];
  /** Number of φ modules. */
  count: number;
}

export function phiLayout(c: HartTokenizerConfig): PhiLayout {
  const identity = Math.abs(c.quant_resi) <= 1e-6;
  if (c.share_quant_resi === 1) {
    return { count: 1, scope: () => (identity ? null : 'quant_resi.qresi'), indexPerScale: (n) => new Array(n).fill(0) };
  }
  const nonShared = c.share_quant_resi === 0;
  const count = nonShared ? (c.default_qresi_counts || c.v_patch_nums.length) : c.share_quant_resi;
  return {
    count,
    scope: (k) => (identity ? null : nonShared ? `quant_resi.${k}` : `quant_resi.qresi_ls.${k}`),
    // PhiNonShared / PhiPartiallyShared: argmin |ticks − si/(SN−1)|, float64 as numpy.
    indexPerScale: (n) => phiIndexPerScale(n, count),
  };
}

/** The quantizer's layers bound to one graph. */
export class Quantizer {
  /** Codebook quantize.embedding.weight [V, Cvae]. */
  readonly E_VC: Tensor;
  readonly Cvae: number;
  readonly layout: PhiLayout;

  constructor(readonly p: Params, readonly config: HartTokenizerConfig) {
    this.Cvae = config.z_channels;
    this.E_VC = p.get('embedding.weight', [config.vocab_size, config.z_channels]);
    this.layout = phiLayout(config);
  }

  /** Phi(h) = (1 − r)·h + r·conv3x3(h) with r = |quant_resi|, using the φ scale si of SN selects. */
  phi(si: number, SN: number, h_BChw: Tensor): Tensor {
    if (SN < 2) throw new Error('the multi-scale quantizer needs at least 2 scales');
    const scope = this.layout.scope(this.layout.indexPerScale(SN)[si]);
    if (scope === null) return h_BChw;
    const r = Math.abs(this.config.quant_resi);
    const conv = conv2d(this.p.scope(scope), h_BChw, this.Cvae, 3, { padding: 1 });
    return h_BChw.mul(1 - r).add(conv.mul(r));
  }

  /**
   * Nearest codebook entry of each token of z [B, C, h, w] → idx [B, h·w] int64 (first index on ties).
   * L2: argmin(|z|² + |e|² − 2·z·eᵀ) in the official operation order; znorm: argmax of cosine similarity.
   */
  lookup(z_BChw: Tensor, znorm: boolean): Tensor {
    const z_BlC = toTokens(z_BChw);
    if (znorm) {
      const normalize = (x: Tensor) => x.div(x.mul(x).sum([-1], true).sqrt().maximum(1e-12));
      return normalize(z_BlC).matmul(normalize(this.E_VC).mT()).argmax(-1);
    }
    const zz = z_BlC.mul(z_BlC).sum([-1], true); // [B, l, 1]
    const ee = this.E_VC.mul(this.E_VC).sum([-1]); // [V]
    const d_BlV = zz.add(ee).add(z_BlC.matmul(this.E_VC.mT()).mul(-2));
    return d_BlV.neg().argmax(-1);
  }

  /** embedding(idx) as a token map: idx [B, pn²] → [B, Cvae, pn, pn]. */
  embed(idx_Bl: Tensor, pn: number): Tensor {
    return fromTokens(this.E_VC.gather(idx_Bl, 0), pn);
  }

  /**
   * VAR f_to_idxBl_or_fhat: per scale, idx = lookup(area(f_rest → pn)) (the last scale uses f_rest
   * as is), h = φ(bicubic(emb(idx) → H×W)) (the last scale not interpolated), f_hat += h, f_rest −= h.
   * Returns the indices and the cumulative f_hat after every scale.
   */
  fToIdxBlOrFhat(f_BChw: Tensor, patchNums: number[]): { idx_Bl: Tensor[]; f_hat: Tensor[] } {
    const { H, W, SN } = this.checkLatent(f_BChw, patchNums);
    let f_rest = f_BChw;
    const idx_Bl: Tensor[] = [], fhats: Tensor[] = [];
    for (let si = 0; si < SN; si++) {
      const pn = patchNums[si], last = si === SN - 1;
      const idx = this.lookup(last ? f_rest : areaResize(f_rest, pn, pn), this.config.using_znorm);
      const emb = this.embed(idx, pn);
      const h = this.phi(si, SN, last ? emb : bicubicResize(emb, H, W));
      fhats.push(si === 0 ? h : fhats[si - 1].add(h));
      f_rest = f_rest.sub(h);
      idx_Bl.push(idx);
    }
    return { idx_Bl, f_hat: fhats };
  }

  /**
   * Hybrid f_to_idxBl_and_frest: the same loop with L2 lookup, φ skipped at the last scale; returns
   * the indices of every scale and f_rest_wo_last_discrete [B, H·W, Cvae], the residual before the
   * last scale's code is subtracted (what the discrete tokens leave for the diffusion head).
   * `swap` (training only, a HART.js addition): the code each scale before the last actually
   * subtracts, given its nearest one, so that later scales quantize what a wrong code left
   * (self-correction); `idx_used` lists those codes (without `swap`: idx_Bl less its last entry).
   */
  fToIdxBlAndFrest(f_BChw: Tensor, patchNums: number[], swap?: (si: number, idx: Tensor) => Tensor): { idx_Bl: Tensor[]; idx_used: Tensor[]; f_rest_wo_last_discrete: Tensor } {
    const { H, W, SN } = this.checkLatent(f_BChw, patchNums);
    let f_rest = f_BChw;
    const idx_Bl: Tensor[] = [], idx_used: Tensor[] = [];
    for (let si = 0; si < SN - 1; si++) {
      const pn = patchNums[si];
      const idx = this.lookup(areaResize(f_rest, pn, pn), false);
      const used = swap ? swap(si, idx) : idx;
      f_rest = f_rest.sub(this.phi(si, SN, bicubicResize(this.embed(used, pn), H, W)));
      idx_Bl.push(idx);
      idx_used.push(used);
    }
    idx_Bl.push(this.lookup(f_rest, false));
    return { idx_Bl, idx_used, f_rest_wo_last_discrete: toTokens(f_rest) };
  }

  /**
   * idxBl_to_var_input: the transformer's teacher-forcing input. For si = 0..SN−2,
   * f_hat += φ(bicubic(emb(idx_si))) and the next scale's input is area(f_hat → pn_{si+1}),
   * flattened and concatenated: [B, Σpn² − pn_0², Cvae]. Only idx_Bl[0..SN−2] are read.
   */
  idxBlToVarInput(idx_Bl: Tensor[], patchNums: number[]): Tensor {
    const SN = patchNums.length;
    const HW = patchNums[SN - 1];
    if (idx_Bl.length < SN - 1) throw new Error(`idxBl_to_var_input: ${idx_Bl.length} index maps for ${SN} scales`);
    let f_hat: Tensor | null = null;
    const next: Tensor[] = [];
    for (let si = 0; si < SN - 1; si++) {
      const h = this.phi(si, SN, bicubicResize(this.embed(idx_Bl[si], patchNums[si]), HW, HW));
      f_hat = f_hat ? f_hat.add(h) : h;
      next.push(toTokens(areaResize(f_hat, patchNums[si + 1], patchNums[si + 1])));
    }
    if (next.length === 0) throw new Error('idxBl_to_var_input needs at least 2 scales');
    return next.length === 1 ? next[0] : concat(next, 1);
  }

  /**
   * get_next_autoregressive_input at scale si: for si < SN−1, f_hat += φ(bicubic(h → HW²)) and
   * next = area(f_hat → pn_{si+1}); at the last scale the hybrid quantizer adds h without φ
   * (VAR applies φ) and next = f_hat.
   */
  nextAutoregressiveInput(si: number, patchNums: number[], f_hat_BChw: Tensor, h_BChw: Tensor): { f_hat: Tensor; next: Tensor } {
    const SN = patchNums.length;
    const HW = patchNums[SN - 1];
    if (si < SN - 1) {
      const f_hat = f_hat_BChw.add(this.phi(si, SN, bicubicResize(h_BChw, HW, HW)));
      return { f_hat, next: areaResize(f_hat, patchNums[si + 1], patchNums[si + 1]) };
    }
    const h = this.config.quantizer_type === 'var_hybrid' ? h_BChw : this.phi(si, SN, h_BChw);
    const f_hat = f_hat_BChw.add(h);
    return { f_hat, next: f_hat };
  }

  /**
   * The training forward (HARTHybridQuantizer.forward / VectorQuantizer2.forward) without its
   * side effects: every scale quantized with φ; vq_loss = mean over scales of
   * β·MSE(f_hat, f) + MSE(f_hat, f); for the hybrid quantizer unless skipContinuous, the continuous
   * residual f_rest is added (f_hat == f up to rounding); output (f_hat − f) + f (straight-through).
   * NOTE: the official detach()es (gradient routing) are not represented; use for values.
   */
  forward(f_BChw: Tensor, patchNums: number[], skipContinuous: boolean): { f_hat: Tensor; vq_loss: Tensor; idx_Bl: Tensor[] } {
    const { H, W, SN } = this.checkLatent(f_BChw, patchNums);
    const hybrid = this.config.quantizer_type === 'var_hybrid';
    let f_rest = f_BChw;
    let f_hat = f_BChw, loss = f_BChw; // placeholders, set at si = 0
    const idx_Bl: Tensor[] = [];
    for (let si = 0; si < SN; si++) {
      const pn = patchNums[si];
      const idx = this.lookup(areaResize(f_rest, pn, pn), this.config.using_znorm);
      const h = this.phi(si, SN, bicubicResize(this.embed(idx, pn), H, W));
      f_hat = si === 0 ? h : f_hat.add(h);
      f_rest = f_rest.sub(h);
      const d = f_hat.sub(f_BChw);
      const mse = d.mul(d).mean([0, 1, 2, 3]);
      const term = mse.mul(this.config.beta).add(mse);
      loss = si === 0 ? term : loss.add(term);
      idx_Bl.push(idx);
    }
    if (hybrid && !skipContinuous) f_hat = f_hat.add(f_rest);
    return { f_hat: f_hat.sub(f_BChw).add(f_BChw), vq_loss: loss.mul(1 / SN), idx_Bl };
  }

  private checkLatent(f_BChw: Tensor, patchNums: number[]): { H: number; W: number; SN: number } {
    const H = dimOf(f_BChw, 2), W = dimOf(f_BChw, 3);
    const SN = patchNums.length;
    if (SN < 2) throw new Error('the multi-scale quantizer needs at least 2 scales');
    if (patchNums[SN - 1] !== H || patchNums[SN - 1] !== W) {
      throw new Error(`the last patch num ${patchNums[SN - 1]} must equal the latent size ${H}×${W}`);
    }
    return { H, W, SN };
  }
}
