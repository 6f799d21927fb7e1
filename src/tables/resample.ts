// Resampling matrices that reproduce PyTorch's F.interpolate along one axis, as used by HART's
// multi-scale quantizer (VAR quant.py): mode="bicubic" (align_corners=False) to upsample token maps
// h to the latent grid, and mode="area" (= adaptive_avg_pool2d) to downsample f_hat / f_rest to pn×pn.
// A matrix M is [outSize, inSize] row-major (M[o*inSize + i]); a 2D resize of an [H, W] plane X is
// M_h · X · M_wᵀ (see resizePlanes).
//
// Bicubic follows ATen's separable CPU kernel (UpSampleKernel.cpp, HelperInterpCubic::
// compute_indices_weights, torch 1.13), which computes in the tensor's dtype (scalar_t):
//   scale = (scalar_t)in / out;  real = (scalar_t)(scale·(o + 0.5) − 0.5)   [product in double]
//   idx = floor(real);  t = real − idx;  A = −0.75
//   w = [cc2(t+1), cc1(t), cc1(1−t), cc2(2−t)] at inputs clamp(idx−1+j, 0, in−1), j = 0..3
//   cc1(x) = ((A+2)x − (A+3))x² + 1,  cc2(x) = ((Ax − 5A)x + 8A)x − 4A
// precision 'float32' (default) rounds every step to float32 as PyTorch does for float32 tensors
// (the official model's dtype; the compiled kernel may fuse a multiply-add, so a weight can differ
// by one float32 ulp), 'float64' is PyTorch on float64 tensors. Weights at a clamped border index add up.
//
// Area: window [floor(o·in/out), ceil((o+1)·in/out)), uniform average (windows overlap when out does
// not divide in, e.g. 64→21).

export type ResamplePrecision = 'float32' | 'float64';

function checkSizes(inSize: number, outSize: number): void {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1)
    throw new RangeError(`resample: sizes must be positive integers, got ${inSize} -> ${outSize}`);
}

/** F.interpolate(mode='bicubic', align_corners=False) along one axis: [outSize, inSize]. */
export function bicubicMatrix(inSize: number, outSize: number, precision: ResamplePrecision = 'float32'): Float64Array {
  checkSizes(inSize, outSize);
  const r = precision === 'float32' ? Math.fround : (x: number) => x;
  const A = -0.75;
  const cc1 = (x: number) => r(r(r(r(r(r((A + 2) * x) - (A + 3)) * x) * x) + 1));
  const cc2 = (x: number) => r(r(r(r(r(r(r(A * x) - 5 * A) * x) + 8 * A) * x) - 4 * A));
  const M = new Float64Array(outSize * inSize);
  const scale = r(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    const real = r(scale * (o + 0.5) - 0.5);
    const idx = Math.floor(real);
    const t = r(real - idx);
    const w = [cc2(r(t + 1)), cc1(t), cc1(r(1 - t)), cc2(r(r(1 - t) + 1))];
    for (let j = 0; j < 4; j++) {
      const i = Math.min(Math.max(idx - 1 + j, 0), inSize - 1);
      M[o * inSize + i] += w[j];
    }
  }
  return M;
}

/** F.interpolate(mode='area') = adaptive_avg_pool along one axis: [outSize, inSize]. */
export function areaMatrix(inSize: number, outSize: number): Float64Array {
  checkSizes(inSize, outSize);
  const M = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const start = Math.floor((o * inSize) / outSize);
    const end = Math.ceil(((o + 1) * inSize) / outSize);
    for (let i = start; i < end; i++) M[o * inSize + i] = 1 / (end - start);
  }
  return M;
}

/**
 * Applies M_h · X · M_wᵀ to each of `planes` row-major [inH, inW] planes of x (e.g. NCHW with
 * planes = N·C), in float64. Returns [planes, outH, outW].
 */
export function resizePlanes(
  x: ArrayLike<number>, planes: number, inH: number, inW: number,
  mH: Float64Array, outH: number, mW: Float64Array, outW: number,
): Float64Array {
  if (x.length !== planes * inH * inW || mH.length !== outH * inH || mW.length !== outW * inW)
    throw new RangeError('resizePlanes: sizes do not match');
  const out = new Float64Array(planes * outH * outW);
  const tmp = new Float64Array(inH * outW); // X · M_wᵀ
  for (let p = 0; p < planes; p++) {
    const xo = p * inH * inW;
    tmp.fill(0);
    for (let h = 0; h < inH; h++)
      for (let ow = 0; ow < outW; ow++) {
        let s = 0;
        for (let w = 0; w < inW; w++) s += x[xo + h * inW + w] * mW[ow * inW + w];
        tmp[h * outW + ow] = s;
      }
    const oo = p * outH * outW;
    for (let oh = 0; oh < outH; oh++)
      for (let h = 0; h < inH; h++) {
        const m = mH[oh * inH + h];
        if (m === 0) continue;
        for (let ow = 0; ow < outW; ow++) out[oo + oh * outW + ow] += m * tmp[h * outW + ow];
      }
  }
  return out;
}
