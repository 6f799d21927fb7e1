// One IDDPM ancestral step on the respaced schedule (HART §4.4; gaussian_diffusion.py::p_mean_variance
// and p_sample with LEARNED_RANGE variance and EPSILON prediction), and the classifier-free-guidance
// mix of SimpleMLPAdaLN.forward_with_cfg. Plain TypeScript replaying torch's float32 arithmetic op by
// op (the float64 tables are cast to float32 at use, as _extract_into_tensor does; exp as torch's CPU
// exp), so it reproduces the official step bit for bit given the same network output and noise.
import type { DiffusionTables } from '../../tables/diffusion-schedule.ts';
import { expf as torchExpf } from '../../tables/sleef32.ts';

const f32 = Math.fround;

export interface PSampleOut {
  /** clamp(√(1/ᾱ)·x_t − √(1/ᾱ−1)·ε, −1, 1) [N, Cvae] */
  pred_xstart: Float32Array;
  /** posterior mean coef1·x0 + coef2·x_t */
  mean: Float32Array;
  /** frac·log β_t + (1−frac)·posterior_log_variance_clipped(t), frac = (v+1)/2 */
  log_variance: Float32Array;
  /** mean + exp(½·log_variance)·noise·temperature (noise is null at t = 0: no noise) */
  sample: Float32Array;
}

/**
 * p_sample at respaced step index t: x_NCv [N, Cvae], netOut [N, 2·Cvae] = [eps | variance values]
 * (rows beyond N are ignored), noise [N, Cvae] or null (t = 0, where the official code multiplies its
 * draw by 0). clip_denoised = true, as DiffLoss.sample asks.
 */
export function pSample(
  tables: DiffusionTables, t: number, x_NCv: Float32Array, netOut: Float32Array, channels: number,
  noise: Float32Array | null, temperature = 1, clipDenoised = true,
): PSampleOut {
  const n = x_NCv.length / channels;
  if (!Number.isInteger(n) || netOut.length < 2 * x_NCv.length) {
    throw new Error(`pSample: x has ${x_NCv.length} values, net output ${netOut.length} (channels ${channels})`);
  }
  if (noise && noise.length !== x_NCv.length) throw new Error(`pSample: noise has ${noise.length} values, need ${x_NCv.length}`);
  if (t < 0 || t >= tables.betas.length) throw new RangeError(`pSample: step ${t} outside [0, ${tables.betas.length})`);
  const minLog = f32(tables.posterior_log_variance_clipped[t]);
  const maxLog = f32(tables.log_betas[t]);
  const sra = f32(tables.sqrt_recip_alphas_cumprod[t]);
  const srm1 = f32(tables.sqrt_recipm1_alphas_cumprod[t]);
  const c1 = f32(tables.posterior_mean_coef1[t]);
  const c2 = f32(tables.posterior_mean_coef2[t]);
  const temp = f32(temperature);
  const pred_xstart = new Float32Array(x_NCv.length);
  const mean = new Float32Array(x_NCv.length);
  const log_variance = new Float32Array(x_NCv.length);
  const sample = new Float32Array(x_NCv.length);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < channels; j++) {
      const i = r * channels + j;
      const x = x_NCv[i];
      const eps = netOut[r * 2 * channels + j];
      const v = netOut[r * 2 * channels + channels + j];
      const frac = f32(f32(v + 1) / 2);
      const lv = f32(f32(frac * maxLog) + f32(f32(1 - frac) * minLog));
      let x0 = f32(f32(sra * x) - f32(srm1 * eps));
      if (clipDenoised) x0 = Math.min(1, Math.max(-1, x0));
      const m = f32(f32(c1 * x0) + f32(c2 * x));
      pred_xstart[i] = x0;
      mean[i] = m;
      log_variance[i] = lv;
      sample[i] = noise ? f32(m + f32(f32(torchExpf(f32(0.5 * lv)) * noise[i]) * temp)) : m;
    }
  }
  return { pred_xstart, mean, log_variance, sample };
}

/**
 * forward_with_cfg's mix on a network output for the rows [cond (N) | uncond (N)]:
 * eps = (1+s)·eps_cond − s·eps_uncond written into the eps columns of both halves; the variance
 * columns keep each row's own prediction. Returns a new [2N, 2·Cvae] array.
 */
export function mixCfg(out_2NC: Float32Array, channels: number, cfgScale: number): Float32Array {
  const w = 2 * channels;
  const rows = out_2NC.length / w;
  if (!Number.isInteger(rows) || rows % 2) throw new Error(`mixCfg: ${out_2NC.length} values are not 2N rows of ${w}`);
  const half = rows / 2;
  const a = f32(1 + cfgScale), s = f32(cfgScale);
  const res = Float32Array.from(out_2NC);
  for (let r = 0; r < half; r++) {
    for (let j = 0; j < channels; j++) {
      const e = f32(f32(out_2NC[r * w + j] * a) - f32(s * out_2NC[(r + half) * w + j]));
      res[r * w + j] = e;
      res[(r + half) * w + j] = e;
    }
  }
  return res;
}
