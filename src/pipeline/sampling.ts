// Token sampling of HART's AR loop (official sample_with_top_k_top_p_ and the Gumbel "more_smooth"
// path, hart-spec §1.3): CFG mixing of logits, top-k (ties kept) and top-p filtering, inverse-CDF
// draws from explicit uniforms, and the Gumbel-softmax mix of codebook vectors. Pure TypeScript on
// Float32Arrays laid out [B, l, V]; the random numbers are passed in, never drawn here.
import { categorical } from '../random/philox.ts';

const f = Math.fround;

/** logits_cfg = (1+t)·cond − t·uncond for logits [2B, l, V] = cat(cond, uncond); float32 like PyTorch. */
export function cfgMix(logits_2BlV: Float32Array, B: number, t: number): Float32Array {
  const half = logits_2BlV.length / 2;
  if (!Number.isInteger(half) || half % B !== 0) throw new Error(`cfgMix: ${logits_2BlV.length} logits do not split into 2×${B} images`);
  const a = f(1 + t), b = f(t);
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = f(f(a * logits_2BlV[i]) - f(b * logits_2BlV[half + i]));
  return out;
}

/** Sets every logit below the k-th largest to −∞ (ties with the k-th are kept), in place. */
export function topKFilter(row: Float32Array, k: number): void {
  if (k <= 0 || k >= row.length) return;
  const threshold = topKThreshold(row, k);
  for (let i = 0; i < row.length; i++) if (row[i] < threshold) row[i] = -Infinity;
}

/** The value top-k keeps at and above: the k-th largest (NaN rows: the sort's answer, as before). */
function topKThreshold(row: Float32Array, k: number): number {
  const kth = k <= 64 ? kthLargest(row, k) : kthSmallest(Float32Array.from(row), row.length - k);
  return Number.isNaN(kth) ? Float32Array.from(row).sort()[row.length - k] : kth;
}

/**
 * topKFilter, softmax and categorical of one row in two passes over it: the same filtered row in
 * place and the same index (the kept logits in index order give the same maximum, the same float64
 * sum and float32 probabilities; the filtered ones are exact zeros there, adding nothing and never
 * drawn), without an exp or two cumulative passes over the V − k filtered entries. Undefined when
 * the row holds a NaN or nothing finite: the caller takes the general path, which reports it.
 */
function sampleTopK(row: Float32Array, k: number, u: number): number | undefined {
  const threshold = topKThreshold(row, k);
  if (Number.isNaN(threshold)) return undefined;
  const kept: number[] = [];
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v < threshold) { row[i] = -Infinity; continue; }
    kept.push(i);
    if (v > m) m = v;
  }
  if (m === -Infinity) return undefined;
  const p = new Float32Array(kept.length);
  let s = 0;
  for (let j = 0; j < kept.length; j++) {
    const e = Math.exp(row[kept[j]] - m);
    p[j] = e;
    s += e;
  }
  for (let j = 0; j < p.length; j++) p[j] = p[j] / s;
  return kept[categorical(p, u)];
}

/**
 * The n-th smallest value (0-based, counting repeats: = ascending sort's [n]) by quickselect on
 * `a`, which it reorders: O(V) on average, for the large k of the official schedule (600 of 4096).
 * NaN when `a` holds a NaN.
 */
function kthSmallest(a: Float32Array, n: number): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== a[i]) return NaN;
  let lo = 0, hi = a.length - 1;
  while (hi > lo) {
    // median of three as the pivot, then a three-way partition (ties are common among logits at −∞)
    const mid = (lo + hi) >>> 1;
    const x = a[lo], y = a[mid], z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    let lt = lo, gt = hi, i = lo;
    while (i <= gt) {
      const v = a[i];
      if (v < pivot) { a[i] = a[lt]; a[lt] = v; lt++; i++; }
      else if (v > pivot) { a[i] = a[gt]; a[gt] = v; gt--; }
      else i++;
    }
    if (n < lt) hi = lt - 1;
    else if (n > gt) lo = gt + 1;
    else return pivot;
  }
  return a[n];
}

/**
 * The k-th largest value of `row` counting repeats (= ascending sort's [length − k]) in one pass
 * with a descending buffer of k values: O(V·k) at worst, ~V comparisons for logits, against a
 * V log V sort per token. NaN when the row holds a NaN (the caller then sorts, as before).
 */
function kthLargest(row: Float32Array, k: number): number {
  const top = new Float64Array(k).fill(-Infinity);
  let filled = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v !== v) return NaN;
    if (filled === k && v <= top[k - 1]) continue;
    let j = filled < k ? filled++ : k - 1;
    while (j > 0 && top[j - 1] < v) { top[j] = top[j - 1]; j--; }
    top[j] = v;
  }
  return top[k - 1];
}

/** Nucleus filter: removes the smallest-probability tokens whose cumulative mass is ≤ 1 − p (the largest always kept). */
export function topPFilter(row: Float32Array, p: number): void {
  if (!(p > 0) || p >= 1) return;
  const order = Array.from(row.keys()).sort((i, j) => row[i] - row[j] || i - j);
  const probs = softmax(row);
  let acc = 0;
  for (let r = 0; r < order.length - 1; r++) {
    acc += probs[order[r]];
    if (acc <= 1 - p) row[order[r]] = -Infinity;
    else break;
  }
}

/**
 * Softmax of one row (float64 accumulation, float32 result). Entries at −∞ (top-k's filtered
 * logits: all but k of V) are 0 without an exp, which adds exactly 0 to the sum: the same result.
 */
export function softmax(row: Float32Array, scale = 1): Float32Array {
  let m = -Infinity;
  for (const v of row) if (v * scale > m) m = v * scale;
  const out = new Float32Array(row.length);
  let s = 0;
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    if (x === -Infinity && scale > 0) continue; // out[i] stays 0
    const e = Math.exp(x * scale - m);
    out[i] = e;
    s += e;
  }
  for (let i = 0; i < row.length; i++) out[i] = out[i] / s; // (a row all at −∞: 0 / 0, NaN, as before)
  return out;
}

export interface TokenSampling {
  topK: number;
  topP: number;
  temperature: number;
}

/**
 * Filters logits [B, l, V] in place (temperature, top-k, top-p) and draws one index per token.
 * `uniform(b, token)` returns the uniform in [0,1) for image b's token; temperature 0 means arg-max.
 */
export function sampleTokens(
  logits_BlV: Float32Array, B: number, l: number, V: number, opts: TokenSampling,
  uniform: (b: number, token: number) => number,
): Int32Array {
  if (logits_BlV.length !== B * l * V) throw new Error(`sampleTokens: ${logits_BlV.length} logits for [${B}, ${l}, ${V}]`);
  const idx = new Int32Array(B * l);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < l; t++) {
      const row = logits_BlV.subarray((b * l + t) * V, (b * l + t + 1) * V);
      if (opts.temperature === 0) { idx[b * l + t] = argmax(row); continue; }
      if (opts.temperature !== 1) for (let v = 0; v < V; v++) row[v] = f(row[v] / opts.temperature);
      if (opts.topK > 0 && opts.topK < V && !(opts.topP > 0 && opts.topP < 1)) {
        const drawn = sampleTopK(row, opts.topK, uniform(b, t));
        if (drawn !== undefined) { idx[b * l + t] = drawn; continue; }
      }
      topKFilter(row, opts.topK);
      topPFilter(row, opts.topP);
      idx[b * l + t] = categorical(softmax(row), uniform(b, t));
    }
  }
  return idx;
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * The more_smooth path: h = softmax((filtered_logits·(1+ratio) + gumbel) / tau) @ codebook,
 * tau = max(0.27·(1 − 0.95·ratio), 0.005). Logits [B, l, V] (already top-k filtered), codebook [V, Cvae].
 */
export function gumbelSmoothMix(
  filtered_BlV: Float32Array, B: number, l: number, V: number, ratio: number,
  codebook_VC: Float32Array, Cvae: number, gumbel: (b: number, token: number) => Float32Array,
): Float32Array {
  const tau = Math.max(0.27 * (1 - ratio * 0.95), 0.005);
  const h = new Float32Array(B * l * Cvae);
  const z = new Float32Array(V);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < l; t++) {
      const row = filtered_BlV.subarray((b * l + t) * V, (b * l + t + 1) * V);
      const g = gumbel(b, t);
      for (let v = 0; v < V; v++) z[v] = f(f(f(row[v] * f(1 + ratio)) + g[v]) / f(tau));
      const w = softmax(z);
      const out = h.subarray((b * l + t) * Cvae, (b * l + t + 1) * Cvae);
      for (let v = 0; v < V; v++) {
        const wv = w[v];
        if (wv === 0) continue;
        for (let c = 0; c < Cvae; c++) out[c] += wv * codebook_VC[v * Cvae + c];
      }
    }
  }
  return h;
}
