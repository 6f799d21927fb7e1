// Reconstruction by the hybrid tokenizer (HART §3.1), the two paths `hart eval` compares:
//   - hybrid:   decode(f): the discrete tokens plus the continuous residual tokens, which sum to
//               the encoder's latent f exactly (f_hat_discrete + f_rest = f);
//   - discrete: decode(f_hat of the discrete tokens alone), HART's convention: scales 0…SN−2 add
//               φ(bicubic(emb(idx))) and the last scale adds emb(idx_last) without φ, i.e.
//               f_hat = f − f_rest_wo_last_discrete + emb(idx_last).
// HART's claim is that the residual tokens recover what the discrete tokens lose.
import type { HartTokenizer } from '../models/tokenizer/index.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { ImageCHW } from '../io/png.ts';
import { psnr, ssim } from './metrics.ts';

/** Images [3, S, S] in [0, 1] → a batch [B, 3, S, S] in [−1, 1]. */
export function toBatch(images: readonly ImageCHW[]): HostTensor {
  const { width: W, height: H } = images[0];
  const data = new Float32Array(images.length * 3 * H * W);
  images.forEach((im, b) => {
    if (im.width !== W || im.height !== H) throw new Error('toBatch: images differ in size');
    for (let i = 0; i < 3 * H * W; i++) data[b * 3 * H * W + i] = im.data[i] * 2 - 1;
  });
  return { dtype: 'float32', shape: [images.length, 3, H, W], data };
}

/** A decoded batch [B, 3, H, W] in [−1, 1] → images in [0, 1]. */
export function fromBatch(img: HostTensor): ImageCHW[] {
  const [B, , H, W] = img.shape;
  const px = img.data as Float32Array;
  return Array.from({ length: B }, (_, b) => ({
    width: W, height: H, data: Float32Array.from(px.subarray(b * 3 * H * W, (b + 1) * 3 * H * W), (v) => (Math.min(1, Math.max(-1, v)) + 1) / 2),
  }));
}

/** Both reconstructions of a batch of images. */
export async function reconstruct(tokenizer: HartTokenizer, images: readonly ImageCHW[], patchNums?: number[]): Promise<{ hybrid: ImageCHW[]; discrete: ImageCHW[] }> {
  const enc = await tokenizer.encode(toBatch(images), { patchNums });
  const f = enc.f.data as Float32Array;
  const [B, C, h, w] = enc.f.shape;
  const l = h * w;
  const rest_BlC = enc.f_rest_wo_last_discrete.data as Float32Array;
  const last = tokenizer.idxBlToH(enc.idx_Bl[enc.idx_Bl.length - 1]).data as Float32Array; // [B, C, h, w]
  const fd = new Float32Array(f.length);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < l; t++) {
        const i = (b * C + c) * l + t;
        fd[i] = f[i] - rest_BlC[(b * l + t) * C + c] + last[i];
      }
    }
  }
  const hybrid = fromBatch(await tokenizer.decode(enc.f));
  const discrete = fromBatch(await tokenizer.decode({ dtype: 'float32', shape: [B, C, h, w], data: fd }));
  return { hybrid, discrete };
}

export interface ReconstructionScores {
  n: number;
  psnr_discrete: number;
  psnr_hybrid: number;
  ssim_discrete: number;
  ssim_hybrid: number;
}

/** Both reconstructions of `images`, in batches of `batch`. */
export async function reconstructAll(tokenizer: HartTokenizer, images: readonly ImageCHW[], batch = 16, patchNums?: number[]): Promise<{ hybrid: ImageCHW[]; discrete: ImageCHW[] }> {
  const out = { hybrid: [] as ImageCHW[], discrete: [] as ImageCHW[] };
  for (let s = 0; s < images.length; s += batch) {
    const r = await reconstruct(tokenizer, images.slice(s, s + batch), patchNums);
    out.hybrid.push(...r.hybrid);
    out.discrete.push(...r.discrete);
  }
  return out;
}

/** Mean PSNR / SSIM of both reconstructions against the originals. */
export function scoreReconstructions(images: readonly ImageCHW[], r: { hybrid: readonly ImageCHW[]; discrete: readonly ImageCHW[] }): ReconstructionScores {
  const acc = { pd: 0, ph: 0, sd: 0, sh: 0 };
  images.forEach((im, i) => {
    // PSNR is capped at 100 dB so an exact reconstruction cannot make the mean infinite
    acc.pd += Math.min(100, psnr(r.discrete[i], im));
    acc.ph += Math.min(100, psnr(r.hybrid[i], im));
    acc.sd += ssim(r.discrete[i], im);
    acc.sh += ssim(r.hybrid[i], im);
  });
  const n = images.length;
  return { n, psnr_discrete: acc.pd / n, psnr_hybrid: acc.ph / n, ssim_discrete: acc.sd / n, ssim_hybrid: acc.sh / n };
}

/** Mean PSNR / SSIM of both paths over `images`, in batches of `batch`. */
export async function reconstructionScores(tokenizer: HartTokenizer, images: readonly ImageCHW[], batch = 16, patchNums?: number[]): Promise<ReconstructionScores> {
  return scoreReconstructions(images, await reconstructAll(tokenizer, images, batch, patchNums));
}
