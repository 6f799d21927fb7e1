// Blockwise asymmetric 4-bit quantization of a Linear weight W [N, K] into the MatMulNBits layout
// (src/nn/int4.ts). Per block of `blockSize` values along K: the range [min(0, vmin), max(0, vmax)]
// (zero included, so zero is exactly representable, as in ONNX Runtime's own MLAS quantizer) is
// split into 15 steps: s = (hi − lo)/15, z = round(−lo/s) ∈ [0, 15], q = clamp(round(v/s) + z, 0, 15).
// Browser-safe.
import { checkBlockSize, int4BlockCount, type Int4Blocks } from '../nn/int4.ts';

/** Quantizes W [N, K] (row-major float32); K need not be a multiple of blockSize (the tail block is zero-padded). */
export function quantizeInt4(w: Float32Array, N: number, K: number, blockSize = 32): Int4Blocks {
  checkBlockSize(blockSize);
  if (w.length !== N * K) throw new Error(`quantizeInt4: ${w.length} values for [${N}, ${K}]`);
  const kb = int4BlockCount(K, blockSize), half = blockSize / 2, zRow = Math.ceil(kb / 2);
  const qweight = new Uint8Array(N * kb * half);
  const scales = new Float32Array(N * kb);
  const zeros = new Uint8Array(N * zRow);
  for (let n = 0; n < N; n++) {
    const row = n * K;
    for (let b = 0; b < kb; b++) {
      const k0 = b * blockSize, k1 = Math.min(K, k0 + blockSize);
      let lo = 0, hi = 0;
      for (let k = k0; k < k1; k++) {
        const v = w[row + k];
        if (!Number.isFinite(v)) throw new Error(`quantizeInt4: non-finite weight ${v} at [${n}, ${k}]`);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const s = Math.fround((hi - lo) / 15);
      const z = s > 0 ? Math.min(15, Math.max(0, Math.round(-lo / s))) : 0;
      scales[n * kb + b] = s;
      zeros[n * zRow + (b >> 1)] |= b & 1 ? z << 4 : z;
      const inv = s > 0 ? 1 / s : 0;
      const base = (n * kb + b) * half;
      for (let k = k0; k < k1; k++) {
        const q = s > 0 ? Math.min(15, Math.max(0, Math.round(w[row + k] * inv) + z)) : 0;
        qweight[base + ((k - k0) >> 1)] |= (k - k0) & 1 ? q << 4 : q;
      }
      // the padding of a tail block holds code z, i.e. the value 0
      for (let k = k1; k < k0 + blockSize; k++) qweight[base + ((k - k0) >> 1)] |= (k - k0) & 1 ? z << 4 : z;
    }
  }
  return { N, K, blockSize, qweight, scales, zeros };
}
