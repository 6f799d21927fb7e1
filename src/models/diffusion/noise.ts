// Where the residual diffusion's normal draws come from: a NoiseSource hands out draw k (k = 0: the
// initial x_T; k = 1 + i: the noise added at sampler step i) for the conditional rows. Production
// draws them from Philox, one generator per image (keyed by the image's seed), so an image in a
// batch equals the image made alone; tests inject the official code's recorded draws.
import type { Philox } from '../../random/philox.ts';
import { stream } from '../../random/philox.ts';
import { PURPOSE } from '../../random/purposes.ts';

/** draw k, rows × channels standard normals (row-major [row, channel]). */
export type NoiseSource = (draw: number, rows: number, channels: number) => Float32Array;

/** Philox purpose id of the diffusion noise: stream(DIFFUSION_NOISE_PURPOSE, draw). */
export const DIFFUSION_NOISE_PURPOSE = PURPOSE.diffusionNoise;

/**
 * Per-image Philox noise: image b (rows [b·tokensPerImage, (b+1)·tokensPerImage)) takes words
 * [0, 2·tokens·channels) of stream(purpose, draw) of rngs[b], as normals in [token, channel] order.
 */
export function philoxNoise(rngs: readonly Philox[], tokensPerImage: number, purpose = DIFFUSION_NOISE_PURPOSE): NoiseSource {
  return (draw, rows, channels) => {
    if (rows !== rngs.length * tokensPerImage) {
      throw new Error(`philoxNoise: ${rows} rows, expected ${rngs.length} images × ${tokensPerImage} tokens`);
    }
    const per = tokensPerImage * channels;
    const out = new Float32Array(rows * channels);
    rngs.forEach((rng, b) => out.set(rng.normal(stream(purpose, draw), 0, per), b * per));
    return out;
  };
}
