// Counter-based random numbers for HART.js: Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC'11; the Random123 generator that PyTorch's CUDA RNG also uses), plus the
// draws the HART sampler needs (uniform, normal, exponential, Gumbel, inverse-CDF categorical).
//
// Addressing scheme (fixed: changing it changes every image):
//   key     = the seed as an unsigned 64-bit integer: k0 = low 32 bits, k1 = high 32 bits.
//   counter = [c0, c1, c2, c3] = [block lo, block hi, stream lo, stream hi].
//   A stream is a number in [0, 2^53); `stream(purpose, index)` = purpose·2^32 + index puts the
//   purpose (which draw: token sampling, Gumbel noise, diffusion noise, ...) in c3 and an index
//   (scale si, diffusion step, ...) in c2.
//   Within a stream, 32-bit word w (w = 0, 1, 2, ...) is output word w % 4 of the Philox block with
//   block number floor(w / 4). Every draw is therefore a pure function of (seed, stream, w):
//   drawing words [0,10) equals drawing [0,5) then [5,10).
//   - uniform i  uses word i:            u = (w >>> 8) · 2^-24 ∈ [0, 1), exact in float32.
//   - exponential / Gumbel i use word i: v = ((w >>> 8) + 0.5) · 2^-24 ∈ (0, 1) (float64, never 0
//                                        or 1), E = −ln v, G = −ln E = −ln(−ln v); so gumbel(i) =
//                                        −ln(exponential(i)) for the same address.
//   - normal i   uses words 2·⌊i/2⌋ and 2·⌊i/2⌋+1 (Box–Muller with both outputs):
//                r = sqrt(−2 ln v₀) with v₀ the open uniform of the first word, θ = 2π·u₁ with u₁
//                the uniform of the second; normal 2p = r·cos θ, normal 2p+1 = r·sin θ.
//   Transcendentals are evaluated in float64 and rounded once to float32.
//   Different purposes must use different streams (a normal and a uniform draw on the same stream
//   read the same words). A batch gives every image its own generator keyed by that image's seed,
//   so image b of a batch with seed s equals the image made alone with seed s.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const M0_HI = M0 >>> 16;
const M0_LO = M0 & 0xffff;
const M1_HI = M1 >>> 16;
const M1_LO = M1 & 0xffff;
const TWO_32 = 4294967296;
const TWO_M24 = 1 / 16777216;

/** High 32 bits of the 64-bit product a·(mHi·2^16 + mLo), exact in float64 (both partial products < 2^48). */
function mulhi(a: number, mHi: number, mLo: number): number {
  return Math.floor((a * mHi + Math.floor((a * mLo) / 65536)) / 65536) >>> 0;
}

/** One Philox4x32-10 block: 4 output words for counter [c0..c3] and key [k0, k1] (all uint32). */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>, out = new Uint32Array(4)): Uint32Array {
  let c0 = counter[0] >>> 0, c1 = counter[1] >>> 0, c2 = counter[2] >>> 0, c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(c0, M0_HI, M0_LO), lo0 = Math.imul(c0, M0) >>> 0;
    const hi1 = mulhi(c2, M1_HI, M1_LO), lo1 = Math.imul(c2, M1) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
  return out;
}

function checkIndex(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`philox: ${name} must be an integer in [0, 2^53), got ${v}`);
}

/** Stream id for a purpose (< 2^21) and an index within it (< 2^32): purpose·2^32 + index. */
export function stream(purpose: number, index = 0): number {
  if (!Number.isInteger(purpose) || purpose < 0 || purpose >= 2 ** 21) throw new RangeError(`philox: purpose ${purpose} out of [0, 2^21)`);
  if (!Number.isInteger(index) || index < 0 || index >= TWO_32) throw new RangeError(`philox: index ${index} out of [0, 2^32)`);
  return purpose * TWO_32 + index;
}

/** Philox4x32-10 keyed by a 64-bit seed; every method is a pure function of (seed, stream, offset, n). */
export class Philox {
  readonly key: Uint32Array;

  constructor(seed: bigint | number) {
    let s: bigint;
    if (typeof seed === 'bigint') s = seed;
    else {
      if (!Number.isSafeInteger(seed)) throw new RangeError(`philox: seed must be a safe integer, got ${seed}`);
      s = BigInt(seed);
    }
    if (s < 0n || s >= 1n << 64n) throw new RangeError(`philox: seed ${s} out of [0, 2^64)`);
    this.key = new Uint32Array([Number(s & 0xffffffffn), Number(s >> 32n)]);
  }

  /** Raw 32-bit words [offset, offset+n) of a stream. */
  uint32(streamId: number, offset: number, n: number): Uint32Array {
    checkIndex('stream', streamId);
    checkIndex('offset', offset);
    checkIndex('offset + n', offset + n);
    const out = new Uint32Array(n);
    if (n === 0) return out;
    const ctr = new Uint32Array([0, 0, streamId % TWO_32, Math.floor(streamId / TWO_32)]);
    const blk = new Uint32Array(4);
    let block = Math.floor(offset / 4);
    let lane = offset % 4;
    let i = 0;
    while (i < n) {
      ctr[0] = block % TWO_32;
      ctr[1] = Math.floor(block / TWO_32);
      philox4x32(ctr, this.key, blk);
      for (; lane < 4 && i < n; lane++) out[i++] = blk[lane];
      lane = 0;
      block++;
    }
    return out;
  }

  /** Uniform float32 in [0, 1) from the top 24 bits of each word. */
  uniform(streamId: number, offset: number, n: number): Float32Array {
    const w = this.uint32(streamId, offset, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (w[i] >>> 8) * TWO_M24;
    return out;
  }

  /** Standard normals by Box–Muller; normal i uses words 2⌊i/2⌋ and 2⌊i/2⌋+1 (see header). */
  normal(streamId: number, offset: number, n: number): Float32Array {
    const out = new Float32Array(n);
    if (n === 0) return out;
    const first = offset - (offset % 2);
    const pairs = Math.ceil((offset + n - first) / 2);
    const w = this.uint32(streamId, first, 2 * pairs);
    for (let p = 0; p < pairs; p++) {
      const r = Math.sqrt(-2 * Math.log(((w[2 * p] >>> 8) + 0.5) * TWO_M24));
      const theta = 2 * Math.PI * ((w[2 * p + 1] >>> 8) * TWO_M24);
      const i0 = first + 2 * p - offset;
      if (i0 >= 0) out[i0] = r * Math.cos(theta);
      if (i0 + 1 < n) out[i0 + 1] = r * Math.sin(theta);
    }
    return out;
  }

  /** Exponential(1) draws: −ln v with v ∈ (0, 1) the open uniform of each word. */
  exponential(streamId: number, offset: number, n: number): Float32Array {
    const w = this.uint32(streamId, offset, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = -Math.log(((w[i] >>> 8) + 0.5) * TWO_M24);
    return out;
  }

  /** Standard Gumbel draws −ln(−ln v) (= −ln of the exponential draw at the same address). */
  gumbel(streamId: number, offset: number, n: number): Float32Array {
    const w = this.uint32(streamId, offset, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = gumbelFromUniform(((w[i] >>> 8) + 0.5) * TWO_M24);
    return out;
  }
}

/** Gumbel(0, 1) from a uniform v ∈ (0, 1): −ln(−ln v). */
export function gumbelFromUniform(v: number): number {
  return -Math.log(-Math.log(v));
}

/**
 * Inverse-CDF sampling of one index from (unnormalised, non-negative) weights probs[start..end):
 * the first k with cumsum(probs)[k] > u·sum, accumulated in float64; returns k − start.
 * Zero-weight entries are never chosen. u must lie in [0, 1).
 */
export function categorical(probs: ArrayLike<number>, u: number, start = 0, end = probs.length): number {
  let total = 0;
  let lastPositive = -1;
  for (let k = start; k < end; k++) {
    const p = probs[k];
    if (!(p >= 0)) throw new RangeError(`categorical: weight ${p} at ${k} is negative or NaN`);
    if (p > 0) lastPositive = k;
    total += p;
  }
  if (!(total > 0) || !Number.isFinite(total)) throw new RangeError(`categorical: weights sum to ${total}`);
  const target = u * total;
  let acc = 0;
  for (let k = start; k < end; k++) {
    acc += probs[k];
    if (acc > target && probs[k] > 0) return k - start;
  }
  return lastPositive - start; // only reachable through rounding of u·total against the sum
}
