// Coarse-to-fine previews: after each scale, f_hat is area-downsampled to at most `maxLatent`
// (default 8, i.e. 128-pixel previews at ×16) and decoded by the tokenizer's own decoder. Summed
// over all scales this costs about an eighth of one full-resolution decode.
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { HartTokenizer } from '../models/tokenizer/index.ts';
import type { ImageCHW } from '../io/png.ts';
import { areaMatrix } from '../tables/resample.ts';

/** Area-resizes [B, C, H, W] to [B, C, s, s] with PyTorch's adaptive-average-pool windows. */
export function areaDown(x: HostTensor, s: number): HostTensor {
  const [B, C, H, W] = x.shape;
  if (H === s && W === s) return x;
  const mh = areaMatrix(H, s), mw = areaMatrix(W, s);
  const src = x.data as Float32Array;
  const out = new Float32Array(B * C * s * s);
  const tmp = new Float64Array(s * W);
  for (let p = 0; p < B * C; p++) {
    const plane = src.subarray(p * H * W, (p + 1) * H * W);
    tmp.fill(0);
    for (let i = 0; i < s; i++) for (let h = 0; h < H; h++) {
      const a = mh[i * H + h];
      if (a !== 0) for (let w = 0; w < W; w++) tmp[i * W + w] += a * plane[h * W + w];
    }
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) {
      let acc = 0;
      for (let w = 0; w < W; w++) acc += tmp[i * W + w] * mw[j * W + w];
      out[(p * s + i) * s + j] = acc;
    }
  }
  return { dtype: 'float32', shape: [B, C, s, s], data: out };
}

export function makePreviewer(tokenizer: HartTokenizer, maxLatent = 8, patchNums?: number[]) {
  let si = 0;
  return async (f_hat: HostTensor): Promise<ImageCHW[]> => {
    const pn = patchNums ? patchNums[Math.min(si++, patchNums.length - 1)] : maxLatent;
    const s = Math.min(pn, maxLatent, f_hat.shape[2]);
    const img = await tokenizer.decode(areaDown(f_hat, s), { clamp: true });
    const [B, , H, W] = img.shape;
    const px = img.data as Float32Array;
    return Array.from({ length: B }, (_, b) => ({
      width: W, height: H,
      data: Float32Array.from(px.subarray(b * 3 * H * W, (b + 1) * 3 * H * W), (v) => (v + 1) / 2),
    }));
  };
}
