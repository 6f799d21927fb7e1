// RoPE cos/sin tables of HART's attention (basic_hart.py: LlamaRotaryEmbedding1D for the context
// tokens, LlamaRotaryEmbedding for the image tokens, get_position_ids), in float32 as PyTorch
// computes them. Every table is [tokens, headDim] row-major (one batch row; the CFG halves differ
// only in their positions/offset), applied as q·cos + rotate_half(q)·sin.
//   context:  inv_freq = 1/base^(arange(0,hd,2)/hd)  (hd/2 values), angle = fl32(pos·inv_freq),
//             emb = [angles, angles]; pos = context position ids (cumsum(mask) − 1; 0 for uncond).
//   image:    inv_freq = 1/base^(arange(0,hd,4)/hd)  (hd/4 values); for the token (i, j) of a scale
//             with side pn on a grid of side G (= patch_nums[-1]): x = fl32(fl32(i/pn)·G) + offset,
//             y likewise with j (meshgrid 'ij', row-major tokens), offset = the last context
//             position id; emb = [x·f, x·f, y·f, y·f] (each hd/4 wide).
// Every step (division, power, reciprocal, products, sums) is rounded to float32 as in PyTorch, and
// cos/sin are PyTorch's CPU SLEEF functions (sleef32.ts) applied in PyTorch's memory layout, so the
// tables equal the official float32 ones bit for bit (exact when headDim·tokens is a multiple of 8).
import { cosfVec, sinfVec } from './sleef32.ts';

export interface RopeTable {
  /** [length, headDim] row-major */
  cos: Float32Array;
  /** [length, headDim] row-major */
  sin: Float32Array;
  length: number;
  headDim: number;
}

const f = Math.fround;

// 1/fl32(base^fl32(k/hd)): PyTorch's SLEEF powf is correctly rounded on these arguments (the exact
// powers lie ≥ 6e-10 relative away from every float32 rounding boundary for hd ≤ 256), as is Math.pow.
function invFreq(headDim: number, stride: number, base: number): Float32Array {
  if (!Number.isInteger(headDim) || headDim % stride !== 0) throw new RangeError(`rope: headDim ${headDim} must be a multiple of ${stride}`);
  return Float32Array.from({ length: headDim / stride }, (_, k) => f(1 / f(Math.pow(base, f((stride * k) / headDim)))));
}

/** inv_freq of LlamaRotaryEmbedding1D (context tokens): hd/2 values. */
export const ropeInvFreq1D = (headDim: number, base = 10000): Float32Array => invFreq(headDim, 2, base);
/** inv_freq of LlamaRotaryEmbedding (image tokens, "2D"): hd/4 values. */
export const ropeInvFreq2D = (headDim: number, base = 10000): Float32Array => invFreq(headDim, 4, base);

/**
 * cos/sin of a [rows, rowLen] angle buffer whose row r is angles(key[r], ·), in PyTorch's 8-lane
 * SLEEF grouping from the buffer start. When rowLen is a multiple of 8 the groups never straddle rows,
 * so rows with equal keys are computed once.
 */
function cosSinRows(keys: ArrayLike<number>, rowLen: number, angles: (key: number, j: number) => number): { c: Float32Array; s: Float32Array } {
  const rows = keys.length;
  const emb = new Float32Array(rows * rowLen);
  if (rowLen % 8 !== 0) {
    for (let r = 0; r < rows; r++) for (let j = 0; j < rowLen; j++) emb[r * rowLen + j] = angles(keys[r], j);
    return { c: cosfVec(emb), s: sinfVec(emb) };
  }
  const c = new Float32Array(rows * rowLen), s = new Float32Array(rows * rowLen);
  const cache = new Map<number, [Float32Array, Float32Array]>();
  const row = new Float32Array(rowLen);
  for (let r = 0; r < rows; r++) {
    let hit = cache.get(keys[r]);
    if (!hit) {
      for (let j = 0; j < rowLen; j++) row[j] = angles(keys[r], j);
      hit = [cosfVec(row), sinfVec(row)];
      cache.set(keys[r], hit);
    }
    c.set(hit[0], r * rowLen);
    s.set(hit[1], r * rowLen);
  }
  return { c, s };
}

/** Context (1D) RoPE for one batch row of position ids: [positionIds.length, headDim]. */
export function contextRope(positionIds: ArrayLike<number>, headDim: number, base = 10000): RopeTable {
  const inv = ropeInvFreq1D(headDim, base);
  const half = headDim / 2;
  // PyTorch's buffer [seq, hd]: row n = cat(freqs, freqs) at position n
  const { c, s } = cosSinRows(Float32Array.from(positionIds, f), headDim, (p, d) => f(p * inv[d % half]));
  return { cos: c, sin: s, length: positionIds.length, headDim };
}

/** get_position_ids for one scale before the context offset: [pn², 2] = (fl32(i/pn)·G, fl32(j/pn)·G). */
export function imagePositions(pn: number, grid: number): Float32Array {
  const out = new Float32Array(pn * pn * 2);
  for (let i = 0; i < pn; i++)
    for (let j = 0; j < pn; j++) {
      out[2 * (i * pn + j)] = f(f(i / pn) * grid);
      out[2 * (i * pn + j) + 1] = f(f(j / pn) * grid);
    }
  return out;
}

/** Image ("2D") RoPE for tokens at positions [n, 2] (before the offset) plus `offset`: [n, headDim]. */
export function imageRopeAt(positions: Float32Array, offset: number, headDim: number, base = 10000): RopeTable {
  const inv = ropeInvFreq2D(headDim, base);
  const q = headDim / 4, h = headDim / 2;
  const length = positions.length / 2;
  // PyTorch's buffer [2 (x, y), seq, hd/2]: row (a, n) = cat(freqs, freqs) at coordinate a of token n
  const keys = new Float32Array(2 * length);
  for (let a = 0; a < 2; a++) for (let n = 0; n < length; n++) keys[a * length + n] = f(positions[2 * n + a] + offset);
  const { c, s } = cosSinRows(keys, h, (p, j) => f(p * inv[j % q]));
  const cos = new Float32Array(length * headDim), sin = new Float32Array(length * headDim);
  for (let a = 0; a < 2; a++) // -> [seq, (x, y), hd/2] = [x·f, x·f, y·f, y·f]
    for (let n = 0; n < length; n++)
      for (let j = 0; j < h; j++) {
        cos[n * headDim + a * h + j] = c[(a * length + n) * h + j];
        sin[n * headDim + a * h + j] = s[(a * length + n) * h + j];
      }
  return { cos, sin, length, headDim };
}

/** Image RoPE for all tokens of one scale (side pn, grid side G = patch_nums[-1]): [pn², headDim]. */
export function imageRope(pn: number, grid: number, offset: number, headDim: number, base = 10000): RopeTable {
  return imageRopeAt(imagePositions(pn, grid), offset, headDim, base);
}

/**
 * The training-time table (si = −1) of one batch row: context part from its position ids, then
 * the image tokens of patch_nums[1:] with offset = last context position id. `keep` (length
 * Σ_{s≥1} pn², optional) selects the kept image tokens (m_maskgit). [contextLength + kept, headDim].
 */
export function trainingRope(
  contextPositionIds: ArrayLike<number>, patchNums: readonly number[], headDim: number,
  keep?: ArrayLike<boolean | number>, base = 10000,
): RopeTable {
  const grid = patchNums[patchNums.length - 1];
  const pos: number[] = [];
  for (const pn of patchNums.slice(1)) for (const v of imagePositions(pn, grid)) pos.push(v);
  const total = pos.length / 2;
  if (keep && keep.length !== total) throw new RangeError(`trainingRope: keep has ${keep.length} entries, expected ${total}`);
  const kept: number[] = [];
  for (let t = 0; t < total; t++) if (!keep || keep[t]) kept.push(pos[2 * t], pos[2 * t + 1]);
  const ctx = contextRope(contextPositionIds, headDim, base);
  const img = imageRopeAt(Float32Array.from(kept), contextPositionIds[contextPositionIds.length - 1], headDim, base);
  const cat = (a: Float32Array, b: Float32Array) => {
    const o = new Float32Array(a.length + b.length);
    o.set(a);
    o.set(b, a.length);
    return o;
  };
  return { cos: cat(ctx.cos, img.cos), sin: cat(ctx.sin, img.sin), length: ctx.length + img.length, headDim };
}
