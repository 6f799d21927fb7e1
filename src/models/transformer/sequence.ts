// Host-side bookkeeping of HART's token sequence (plain TypeScript, no graph): level ids per
// position, MAR-style random masking of the last scale (random_masking), gathering the kept
// teacher-forcing tokens, and the RoPE tables of a training sequence or of one inference step
// (built from tables/rope.ts for both CFG halves).
import { contextRope, imageRope, trainingRope } from '../../tables/rope.ts';
import type { HartDims } from './config.ts';

/** Level id per position of the (kept) training sequence: T zeros, then si for the tokens of scale si ≥ 1. */
export function levelIds(d: HartDims, keptLast = d.lastScaleTokens): Int32Array {
  const out: number[] = new Array(d.T).fill(0);
  d.patchNums.forEach((pn, si) => {
    if (si === 0) return;
    const n = si === d.numScales - 1 ? keptLast : pn * pn;
    for (let k = 0; k < n; k++) out.push(si);
  });
  return Int32Array.from(out);
}

/**
 * random_masking of the last scale: with `order` a permutation of 0 … n−1 per sample (n = pn_last²)
 * and the drawn mask rate, the first min(ceil(n·rate), n − 32) entries of each order are masked.
 * Returns keep flags [B][n] (true = kept), the same count in every row.
 */
export function lastScaleKeep(orders: ArrayLike<number>[], maskRate: number, n: number): boolean[][] {
  const masked = Math.max(0, Math.min(Math.ceil(n * maskRate), n - 32));
  return orders.map((order) => {
    if (order.length !== n) throw new RangeError(`lastScaleKeep: order has ${order.length} entries, expected ${n}`);
    const keep = new Array<boolean>(n).fill(true);
    for (let k = 0; k < masked; k++) keep[order[k]] = false;
    return keep;
  });
}

/** Number of kept tokens, checking that every row keeps the same number (the official reshape needs it). */
export function keptCount(keep: ArrayLike<boolean | number>[]): number {
  const counts = keep.map((row) => Array.from(row).filter(Boolean).length);
  if (counts.some((c) => c !== counts[0])) throw new Error(`kept last-scale token counts differ per sample: ${counts}`);
  return counts[0] ?? 0;
}

/**
 * Selects the kept tokens of x_BLCv_wo_first_l [B, L−1, Cvae] (row-major, all image scales): every
 * token of scales 1 … N−2, then the kept ones of the last scale → [B, Limg, Cvae] (flat).
 */
export function gatherKeptTokens(
  d: HartDims, x_BLCv: Float32Array, B: number, Cvae: number, keep?: ArrayLike<boolean | number>[],
): { data: Float32Array; Limg: number } {
  const Lall = d.L - 1;
  if (x_BLCv.length !== B * Lall * Cvae) throw new RangeError(`gatherKeptTokens: ${x_BLCv.length} values, expected [${B}, ${Lall}, ${Cvae}]`);
  if (!keep) return { data: x_BLCv, Limg: Lall };
  const Limg = d.imageTokensBeforeLast + keptCount(keep);
  const out = new Float32Array(B * Limg * Cvae);
  for (let b = 0; b < B; b++) {
    let k = 0;
    for (let t = 0; t < Lall; t++) {
      if (t >= d.imageTokensBeforeLast && !keep[b][t - d.imageTokensBeforeLast]) continue;
      out.set(x_BLCv.subarray((b * Lall + t) * Cvae, (b * Lall + t + 1) * Cvae), (b * Limg + k++) * Cvae);
    }
  }
  return { data: out, Limg };
}

/** RoPE tables [B, S, hd] of a training sequence (context 1-D, then the kept image tokens 2-D). */
export function trainingRopeTables(
  d: HartDims, contextPositionIds: ArrayLike<number>[], keep?: ArrayLike<boolean | number>[],
): { cos: Float32Array; sin: Float32Array; S: number } {
  const rows = contextPositionIds.map((pos, b) => {
    let full: boolean[] | undefined;
    if (keep) full = [...new Array<boolean>(d.imageTokensBeforeLast).fill(true), ...Array.from(keep[b], Boolean)];
    return trainingRope(pos, d.patchNums, d.headDim, full);
  });
  return concatTables(rows);
}

/**
 * RoPE tables [2B, l, hd] for inference step si of a CFG batch: rows 0 … B−1 conditional, B … 2B−1
 * unconditional (position ids all 0, so image offset 0). si = 0: the context's 1-D table;
 * si ≥ 1: the 2-D table of scale si, offset = the last context position id of the row.
 */
export function stepRopeTables(d: HartDims, si: number, contextPositionIds: ArrayLike<number>[]): { cos: Float32Array; sin: Float32Array; l: number } {
  const B = contextPositionIds.length;
  const rows = [];
  for (let r = 0; r < 2 * B; r++) {
    const pos = r < B ? contextPositionIds[r] : new Array<number>(d.T).fill(0);
    if (pos.length !== d.T) throw new RangeError(`stepRopeTables: ${pos.length} context position ids, expected ${d.T}`);
    rows.push(si === 0
      ? contextRope(pos, d.headDim)
      : imageRope(d.patchNums[si], d.patchNums[d.numScales - 1], pos[d.T - 1], d.headDim));
  }
  const t = concatTables(rows);
  return { cos: t.cos, sin: t.sin, l: t.S };
}

function concatTables(rows: { cos: Float32Array; sin: Float32Array; length: number }[]): { cos: Float32Array; sin: Float32Array; S: number } {
  const S = rows[0].length;
  if (rows.some((r) => r.length !== S)) throw new Error('RoPE tables of different lengths cannot be batched');
  const n = rows[0].cos.length;
  const cos = new Float32Array(rows.length * n), sin = new Float32Array(rows.length * n);
  rows.forEach((r, b) => { cos.set(r.cos, b * n); sin.set(r.sin, b * n); });
  return { cos, sin, S };
}

/** [B, C, h, w] (NCHW, the tokenizer's layout) → [B, h·w, C] (row-major tokens). */
export function nchwToTokens(x: Float32Array, B: number, C: number, hw: number): Float32Array {
  const out = new Float32Array(B * hw * C);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let k = 0; k < hw; k++) out[(b * hw + k) * C + c] = x[(b * C + c) * hw + k];
  return out;
}

export interface TrainingBatch {
  /** Text features [B, T, context_dim] (flat). */
  context: Float32Array;
  /** Context position ids per sample (cumsum(mask) − 1). */
  contextPositionIds: ArrayLike<number>[];
  /** Teacher forcing x_BLCv_wo_first_l [B, L − 1, Cvae] (flat, all image scales). */
  x_BLCv: Float32Array;
  /** Kept flags of the last scale per sample (lastScaleKeep); all kept when absent. */
  keep?: ArrayLike<boolean | number>[];
  /** Samples whose condition is dropped (context zeroed, as `context[drop_pos] *= 0`). */
  dropCondition?: ArrayLike<boolean>;
  /** Context mask [B, T] (0/1), for AdaLN blocks with "avg" pooling. */
  contextMask?: ArrayLike<number>;
}

type Feed = { dtype: 'float32'; shape: number[]; data: Float32Array } | { dtype: 'int64'; shape: number[]; data: BigInt64Array };

/** Feeds for a graph built with forward.ts::forwardInputs (names context, x_BLCv, lvl, rope_cos, rope_sin, context_mask). */
export function trainingFeeds(d: HartDims, Cvae: number, batch: TrainingBatch): Record<string, Feed> {
  const B = batch.contextPositionIds.length;
  const context = Float32Array.from(batch.context);
  if (context.length !== B * d.T * d.contextDim) throw new RangeError(`trainingFeeds: context must be [${B}, ${d.T}, ${d.contextDim}]`);
  if (batch.dropCondition) {
    for (let b = 0; b < B; b++) if (batch.dropCondition[b]) context.fill(0, b * d.T * d.contextDim, (b + 1) * d.T * d.contextDim);
  }
  const x = gatherKeptTokens(d, batch.x_BLCv, B, Cvae, batch.keep);
  const rope = trainingRopeTables(d, batch.contextPositionIds, batch.keep);
  const S = d.T + x.Limg;
  if (rope.S !== S) throw new Error(`trainingFeeds: RoPE covers ${rope.S} positions, the sequence has ${S}`);
  const lvl = levelIds(d, x.Limg - d.imageTokensBeforeLast);
  const feeds: Record<string, Feed> = {
    context: { dtype: 'float32', shape: [B, d.T, d.contextDim], data: context },
    x_BLCv: { dtype: 'float32', shape: [B, x.Limg, Cvae], data: x.data },
    lvl: { dtype: 'int64', shape: [S], data: BigInt64Array.from(lvl, (v) => BigInt(v)) },
    rope_cos: { dtype: 'float32', shape: [B, S, d.headDim], data: rope.cos },
    rope_sin: { dtype: 'float32', shape: [B, S, d.headDim], data: rope.sin },
  };
  if (batch.contextMask) feeds.context_mask = { dtype: 'float32', shape: [B, d.T], data: Float32Array.from(batch.contextMask) };
  return feeds;
}
