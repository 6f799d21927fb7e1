// Coarse-to-fine previews: after each scale, f_hat is area-downsampled to at most `maxLatent`
// (default 8, i.e. 128-pixel previews at ×16) and decoded by the tokenizer's own decoder. Summed
// over all scales this costs about an eighth of one full-resolution decode.
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { HartTokenizer } from '../models/tokenizer/index.ts';
import type { ImageCHW } from '../io/png.ts';
import { areaMatrix, resizePlanes } from '../tables/resample.ts';

/** Area-resizes [B, C, H, W] to [B, C, s, s] with PyTorch's adaptive-average-pool windows. */
export function areaDown(x: HostTensor, s: number): HostTensor {
  const [B, C, H, W] = x.shape;
  if (H === s && W === s) return x;
  const out = resizePlanes(x.data as Float32Array, B * C, H, W, areaMatrix(H, s), s, areaMatrix(W, s), s);
  return { dtype: 'float32', shape: [B, C, s, s], data: Float32Array.from(out) };
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
