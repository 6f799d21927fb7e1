// DiffLoss.sample (HART §4.4): the 8-step IDDPM sampler of the residual tokens. The MLP runs as one
// ONNX Runtime call per step on the [cond | uncond] rows; the guidance mix and the step arithmetic
// run in TypeScript (p-sample.ts). Random draws come from a NoiseSource, so the official recorded
// draws can be replayed. Only the conditional half is carried from step to step: forward_with_cfg
// feeds the conditional x_t to both halves, so the official unconditional x_t never matters.
import type { CompiledModel, Runtime } from '../../runtime/runtime.ts';
import type { WeightStore } from '../../nn/index.ts';
import type { DiffusionSchedule } from '../../tables/diffusion-schedule.ts';
import { diffusionSchedule } from '../../tables/diffusion-schedule.ts';
import type { DiffLossConfig } from './config.ts';
import { diffusionNetOnnx } from './net.ts';
import type { NoiseSource } from './noise.ts';
import { mixCfg, pSample } from './p-sample.ts';

/** What one sampler step computed (gaussian_diffusion.py names); arrays are conditional rows [N, Cvae]. */
export interface SamplerStep {
  /** 0-based position in the loop (0 = the noisiest step). */
  step: number;
  /** respaced timestep index (steps−1 … 0). */
  t: number;
  /** original timestep fed to the network (timestep_map[t]). */
  timestep: number;
  x_t: Float32Array;
  /** The network output as p_mean_variance sees it: [2N, 2·Cvae] with guidance (forward_with_cfg), else [N, 2·Cvae]. */
  net_out: Float32Array;
  pred_xstart: Float32Array;
  mean: Float32Array;
  log_variance: Float32Array;
  sample: Float32Array;
}

export interface SampleOptions {
  /** Guidance scale s of eps = (1+s)·eps_cond − s·eps_uncond; the guided path runs whenever s ≠ 1 (as officially). */
  cfg?: number;
  /** Unconditional conditions [N, C]; required when cfg ≠ 1. */
  zUncond?: Float32Array;
  /** Multiplies the per-step noise (default 1). */
  temperature?: number;
  /** timestep_respacing (default config.num_sampling_steps, "8"). */
  steps?: string;
  noise: NoiseSource;
  onStep?: (s: SamplerStep) => void;
}

export class DiffusionSampler {
  private schedules = new Map<string, DiffusionSchedule>();

  private constructor(readonly config: DiffLossConfig, readonly net: CompiledModel) {}

  /** Compiles the MLP from weights "<prefix>.net.*" of the transformer checkpoint. */
  static async create(runtime: Runtime, store: WeightStore, config: DiffLossConfig, prefix = 'diffloss'): Promise<DiffusionSampler> {
    return new DiffusionSampler(config, await runtime.load(diffusionNetOnnx(store, config, prefix)));
  }

  /** Frees the MLP's session; the sampler cannot run afterwards. */
  release(runtime: Runtime): Promise<void> {
    return runtime.evict(this.net);
  }

  /** The respaced tables of gen_diffusion for `steps` (cached). */
  schedule(steps = this.config.num_sampling_steps): DiffusionSchedule {
    let s = this.schedules.get(steps);
    if (!s) {
      s = diffusionSchedule(steps, this.config.diffusion_steps);
      this.schedules.set(steps, s);
    }
    return s;
  }

  /**
   * SimpleMLPAdaLN.forward: x [N, Cvae], original timesteps t [N], z [N, C] → [N, 2·Cvae]. The
   * graph embeds one timestep for all its rows; rows at different timesteps run once per timestep.
   */
  async forward(x: Float32Array, t: ArrayLike<number | bigint>, z: Float32Array): Promise<Float32Array> {
    const { in_channels: cv, z_channels: C } = this.config;
    const n = t.length;
    if (x.length !== n * cv || z.length !== n * C) {
      throw new Error(`diffusion net: ${n} timesteps, x has ${x.length} values (need ${n}×${cv}), z ${z.length} (need ${n}×${C})`);
    }
    const ts = Array.from(t, (v) => BigInt(v));
    const distinct = [...new Set(ts)];
    if (distinct.length <= 1) return n === 0 ? new Float32Array(0) : this.run(x, ts[0], z, n);
    const out = new Float32Array(n * 2 * cv);
    for (const step of distinct) {
      const rows = ts.flatMap((v, i) => (v === step ? [i] : []));
      const xs = new Float32Array(rows.length * cv), zs = new Float32Array(rows.length * C);
      rows.forEach((r, k) => { xs.set(x.subarray(r * cv, (r + 1) * cv), k * cv); zs.set(z.subarray(r * C, (r + 1) * C), k * C); });
      const o = await this.run(xs, step, zs, rows.length);
      rows.forEach((r, k) => out.set(o.subarray(k * 2 * cv, (k + 1) * 2 * cv), r * 2 * cv));
    }
    return out;
  }

  /** The MLP on n rows that share one original timestep. */
  private async run(x: Float32Array, timestep: bigint, z: Float32Array, n: number): Promise<Float32Array> {
    const out = await this.net.run({
      x: { dtype: 'float32', shape: [n, this.config.in_channels], data: x },
      t: { dtype: 'int64', shape: [1], data: BigInt64Array.of(timestep) },
      c: { dtype: 'float32', shape: [n, this.config.z_channels], data: z },
    });
    return out.out.data as Float32Array;
  }

  /**
   * SimpleMLPAdaLN.forward_with_cfg: x, t, z have 2N rows; the first N rows of x are fed to both
   * halves, eps of both halves becomes (1+s)·eps_cond − s·eps_uncond, the variance values stay per row.
   */
  async forwardWithCfg(x: Float32Array, t: ArrayLike<number | bigint>, z: Float32Array, cfgScale: number): Promise<Float32Array> {
    const cv = this.config.in_channels;
    const half = x.length / 2;
    if (t.length % 2 || half !== (t.length / 2) * cv) throw new Error(`forwardWithCfg: needs 2N rows, got ${t.length} timesteps`);
    const combined = new Float32Array(x.length);
    combined.set(x.subarray(0, half));
    combined.set(x.subarray(0, half), half);
    return mixCfg(await this.forward(combined, t, z), cv, cfgScale);
  }

  /**
   * DiffLoss.sample(z, temperature, cfg) for the conditional rows zCond [N, C]: p_sample_loop from
   * x_T = noise draw 0 with clip_denoised, then × vae_scale. Returns [N, Cvae].
   */
  async sample(zCond: Float32Array, opts: SampleOptions): Promise<Float32Array> {
    const { in_channels: cv, z_channels: C, vae_scale } = this.config;
    const n = zCond.length / C;
    if (!Number.isInteger(n)) throw new Error(`sample: z has ${zCond.length} values, not a multiple of C = ${C}`);
    const cfg = opts.cfg ?? 1;
    const guided = cfg !== 1;
    let z = zCond;
    if (guided) {
      if (!opts.zUncond || opts.zUncond.length !== zCond.length) {
        throw new Error(`sample: cfg ${cfg} needs zUncond with ${zCond.length} values`);
      }
      z = new Float32Array(2 * zCond.length);
      z.set(zCond);
      z.set(opts.zUncond, zCond.length);
    }
    const rows = guided ? 2 * n : n;
    const sched = this.schedule(opts.steps);
    const S = sched.betas.length;
    const draw = (k: number) => {
      const d = opts.noise(k, n, cv);
      if (d.length !== n * cv) throw new Error(`noise draw ${k}: ${d.length} values, need ${n}×${cv}`);
      return d;
    };
    let x = draw(0);
    const xIn = new Float32Array(rows * cv);
    for (let step = 0; step < S; step++) {
      const t = S - 1 - step;
      const timestep = sched.timestep_map[t];
      xIn.set(x);
      if (guided) xIn.set(x, n * cv);
      let netOut = await this.run(xIn, BigInt(timestep), z, rows);
      if (guided) netOut = mixCfg(netOut, cv, cfg);
      const noise = t === 0 ? null : draw(1 + step);
      const out = pSample(sched, t, x, netOut, cv, noise, opts.temperature ?? 1);
      opts.onStep?.({ step, t, timestep, x_t: x, net_out: netOut, ...out });
      x = out.sample;
    }
    const s = Math.fround(vae_scale);
    return x.map((v) => v * s);
  }
}
