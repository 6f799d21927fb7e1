// DiffLoss.forward, the residual diffusion's training loss (HART §4.2–4.3; diffloss.py and
// gaussian_diffusion.py::training_losses with LossType.MSE, LEARNED_RANGE, EPSILON): q_sample on the
// 1000-step cosine process, MSE on eps plus the variational-bound term on the learned variance with
// the mean detached (_vb_terms_bpd: normal_kl, or the discretized Gaussian NLL at t = 0, mean over
// channels, in bits). Timesteps and noise are graph inputs, so the loss is one differentiable graph.
import type { Tensor } from '../../graph/index.ts';
import type { Params } from '../../nn/index.ts';
import type { DiffusionTables } from '../../tables/diffusion-schedule.ts';
import { diffusionSchedule } from '../../tables/diffusion-schedule.ts';
import type { DiffLossConfig } from './config.ts';
import { simpleMLPAdaLN } from './simple-mlp-adaln.ts';

export interface DiffLossInputs {
  /** The residual target [M, Cvae] before division by vae_scale: f_rest − codebook[idx] (one row per token). */
  target: Tensor;
  /** Conditions [M, C]. */
  z: Tensor;
  /** Timesteps [M] (int64) in [0, diffusion_steps), torch.randint's draw. */
  t: Tensor;
  /** Standard normals [M, Cvae], training_losses' randn_like draw. */
  noise: Tensor;
  /** Optional per-row weights [M] (DiffLoss.forward's mask): loss = Σ loss·mask / Σ mask. */
  mask?: Tensor;
}

export interface DiffLossTerms {
  /** The scalar loss. */
  loss: Tensor;
  /** Per-row terms [M]: mse + vb = loss_rows. */
  mse: Tensor;
  vb: Tensor;
}

/** table[t] as float32 [M, 1] (_extract_into_tensor: index the float64 table, then .float()). */
function extract(t: Tensor, table: ArrayLike<number>): Tensor {
  return t.graph.constant(Float32Array.from(table), [table.length]).gather(t).unsqueeze([1]);
}

/** normal_kl(mean1, logvar1, mean2, logvar2), elementwise, in nats. */
export function normalKl(mean1: Tensor, logvar1: Tensor, mean2: Tensor, logvar2: Tensor): Tensor {
  const d = mean1.sub(mean2);
  return logvar2.add(-1).sub(logvar1).add(logvar1.sub(logvar2).exp()).add(d.mul(d).mul(logvar2.neg().exp())).mul(0.5);
}

/** approx_standard_normal_cdf: 0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function approxStandardNormalCdf(x: Tensor): Tensor {
  return x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)).tanh().add(1).mul(0.5);
}

/** discretized_gaussian_log_likelihood(x, means, log_scales) for data in [−1, 1] at 1/255 bins, in nats. */
export function discretizedGaussianLogLikelihood(x: Tensor, means: Tensor, logScales: Tensor): Tensor {
  const centered = x.sub(means);
  const invStdv = logScales.neg().exp();
  const cdfPlus = approxStandardNormalCdf(invStdv.mul(centered.add(1 / 255)));
  const cdfMin = approxStandardNormalCdf(invStdv.mul(centered.sub(1 / 255)));
  const logCdfPlus = cdfPlus.clamp(1e-12, Infinity).log();
  const logOneMinusCdfMin = cdfMin.neg().add(1).clamp(1e-12, Infinity).log();
  const logCdfDelta = cdfPlus.sub(cdfMin).clamp(1e-12, Infinity).log();
  return x.lt(-0.999).where(logCdfPlus, x.gt(0.999).where(logOneMinusCdfMin, logCdfDelta));
}

/**
 * GaussianDiffusion.training_losses(net, x_start, t, noise) → per-row loss terms [M]. `tables` are the
 * training process's (diffusionSchedule('') : all 1000 steps kept). p = "diffloss.net".
 */
export function trainingLosses(
  p: Params, cfg: DiffLossConfig, tables: DiffusionTables, x_start: Tensor, t: Tensor, z: Tensor, noise: Tensor,
): { mse: Tensor; vb: Tensor } {
  const Cv = cfg.in_channels;
  const x_t = extract(t, tables.sqrt_alphas_cumprod).mul(x_start)
    .add(extract(t, tables.sqrt_one_minus_alphas_cumprod).mul(noise));
  const [eps, varValues] = simpleMLPAdaLN(p, cfg, x_t, t, z).split(-1, [Cv, Cv]);

  // _vb_terms_bpd on frozen_out = [eps.detach() | var values], clip_denoised = False
  const coef1 = extract(t, tables.posterior_mean_coef1), coef2 = extract(t, tables.posterior_mean_coef2);
  const posteriorLogVar = extract(t, tables.posterior_log_variance_clipped);
  const trueMean = coef1.mul(x_start).add(coef2.mul(x_t));
  const frac = varValues.add(1).div(2);
  const modelLogVar = frac.mul(extract(t, tables.log_betas)).add(frac.neg().add(1).mul(posteriorLogVar));
  const predXstart = extract(t, tables.sqrt_recip_alphas_cumprod).mul(x_t)
    .sub(extract(t, tables.sqrt_recipm1_alphas_cumprod).mul(eps.detach()));
  const modelMean = coef1.mul(predXstart).add(coef2.mul(x_t));
  const kl = normalKl(trueMean, posteriorLogVar, modelMean, modelLogVar).mean([-1]).div(Math.log(2));
  const decoderNll = discretizedGaussianLogLikelihood(x_start, modelMean, modelLogVar.mul(0.5)).neg().mean([-1]).div(Math.log(2));
  const vb = t.eq(0).where(decoderNll, kl);

  const err = noise.sub(eps);
  return { mse: err.mul(err).mean([-1]), vb };
}

/** DiffLoss.forward(target, z, mask) with the random draws t and noise passed in. p = "diffloss". */
export function diffLoss(p: Params, cfg: DiffLossConfig, inputs: DiffLossInputs): DiffLossTerms {
  const tables = diffusionSchedule('', cfg.diffusion_steps); // train_diffusion: timestep_respacing ""
  const x_start = inputs.target.div(cfg.vae_scale);
  const { mse, vb } = trainingLosses(p.scope('net'), cfg, tables, x_start, inputs.t, inputs.z, inputs.noise);
  const rows = mse.add(vb);
  const loss = inputs.mask ? rows.mul(inputs.mask).sum([0]).div(inputs.mask.sum([0])) : rows.mean([0]);
  return { loss, mse, vb };
}

/** torch x.repeat(n, 1) on rows: [M, D] → [n·M, D] (copy k holds rows k·M … (k+1)·M − 1). */
export function repeatRows(x: Tensor, n: number): Tensor {
  if (n === 1) return x;
  const [M, D] = x.shape;
  return x.unsqueeze([0]).expand([n, M, D]).reshape([-1, D]);
}

/**
 * HARTForT2I.forward_diff_loss: z [B, L, C] and target [B, L, Cvae] (L kept last-scale tokens) are
 * flattened to B·L rows and repeated diffusion_batch_mul times; t and noise have that many rows.
 */
export function forwardDiffLoss(
  p: Params, cfg: DiffLossConfig, z_BLC: Tensor, target_BLCv: Tensor, t: Tensor, noise: Tensor,
): DiffLossTerms {
  const z = repeatRows(z_BLC.reshape([-1, cfg.z_channels]), cfg.diffusion_batch_mul);
  const target = repeatRows(target_BLCv.reshape([-1, cfg.in_channels]), cfg.diffusion_batch_mul);
  return diffLoss(p, cfg, { target, z, t, noise });
}
