// Generation options: defaults from the official sample.py (hart-spec §1.4) and strict validation,
// so a bad value fails before any work with a message naming the option.
import type { PreviewEvent } from './progress.ts';
import { CFG_SCHEDULES, type CfgSchedule } from '../tables/schedules.ts';
import { fmt } from '../io/schema.ts';

export interface GenerateOptions {
  /** One seed for the batch (image b gets seed + b), or one per prompt. */
  seed?: number;
  seeds?: number[];
  /** Classifier-free guidance scale (officially 4.5, on the linear ramp: see cfgSchedule). */
  cfg?: number;
  /** How guidance grows over the scales: 'linear' (the official ramp, default) or 'constant' (cfg at every scale). */
  cfgSchedule?: CfgSchedule;
  /** Top-k override for every scale; default: 600 for scales < 7, 300 after (clipped to the vocabulary). */
  topK?: number;
  /** Nucleus sampling mass; 0 = off (official default). */
  topP?: number;
  /** Logit temperature (official: none, i.e. 1); 0 = arg-max. */
  temperature?: number;
  /** Residual diffusion steps (default: the model's, i.e. its config's num_sampling_steps; officially 8). */
  diffusionSteps?: number;
  /** The Gumbel-softmax smooth path (official sample.py default: on; benchmarks: off). */
  moreSmooth?: boolean;
  /**
   * The residual diffusion at the last scale (default on). false = the discrete-only ablation of
   * `hart eval`: the last scale's tokens without the continuous residual.
   */
  residualDiffusion?: boolean;
  /** Called after each stage; a returned promise is awaited (so previews can be written in order). */
  onProgress?: (e: PreviewEvent) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface ResolvedOptions {
  seeds: number[];
  cfg: number;
  cfgSchedule: CfgSchedule;
  topK: number | null;
  topP: number;
  temperature: number;
  diffusionSteps: number;
  moreSmooth: boolean;
  /** Present (false) only for the discrete-only ablation, so default settings and metadata are unchanged. */
  residualDiffusion?: false;
}

export const DEFAULTS = { seed: 1, cfg: 4.5, cfgSchedule: 'linear' as CfgSchedule, topP: 0, temperature: 1, diffusionSteps: 8, moreSmooth: true } as const;

/**
 * The bounds of the sampling settings: one table for resolveOptions, the request schema of the CLI,
 * server and web app (api/request.ts), hart.json's defaults and recipes (pipeline/hart-json.ts).
 */
export const LIMITS = {
  seed: { min: 0, max: 2 ** 53 - 1 },
  cfg: { min: 0, max: 50 },
  topK: { min: 1, max: 2 ** 30 },
  topP: { min: 0, max: 1 },
  temperature: { min: 0, max: 10 },
  diffusionSteps: { min: 1, max: 1000 },
} as const;
const within = (v: number, l: { min: number; max: number }) => v >= l.min && v <= l.max;
/** "[min, max]" of a LIMITS entry, as every door's messages show it. */
export const rangeText = (l: { min: number; max: number }): string => `[${fmt(l.min)}, ${fmt(l.max)}]`;

function check(cond: boolean, msg: string): void {
  if (!cond) throw new RangeError(msg);
}

/** Model-specific sampling defaults, official names (hart.json `defaults`). */
export type ModelDefaults = { cfg?: number; cfg_schedule?: CfgSchedule; top_k?: number | null; top_p?: number; temperature?: number; diffusion_steps?: number; more_smooth?: boolean };

/**
 * A loaded model's sampling defaults, whatever its layout: what its hart.json sets (HART.js
 * folders), else what its transformer config says (diffusion steps = num_sampling_steps, for the
 * official llm/ folder too), else sample.py's values. top_k null is the per-scale schedule
 * (600 / 300, clipped to the vocabulary when sampling).
 */
export function modelDefaults(hartJson: ModelDefaults | undefined, transformer: { num_sampling_steps: string }): Required<ModelDefaults> {
  const h = hartJson ?? {};
  const steps = Number(transformer.num_sampling_steps);
  return {
    cfg: h.cfg ?? DEFAULTS.cfg,
    cfg_schedule: h.cfg_schedule ?? DEFAULTS.cfgSchedule,
    top_k: h.top_k ?? null,
    top_p: h.top_p ?? DEFAULTS.topP,
    temperature: h.temperature ?? DEFAULTS.temperature,
    diffusion_steps: h.diffusion_steps ?? (Number.isInteger(steps) && steps >= 1 ? steps : DEFAULTS.diffusionSteps),
    more_smooth: h.more_smooth ?? DEFAULTS.moreSmooth,
  };
}

export function resolveOptions(batch: number, o: GenerateOptions = {}, model: ModelDefaults = {}): ResolvedOptions {
  const known = new Set(['seed', 'seeds', 'cfg', 'cfgSchedule', 'topK', 'topP', 'temperature', 'diffusionSteps', 'moreSmooth', 'residualDiffusion', 'onProgress', 'signal']);
  for (const k of Object.keys(o)) check(known.has(k), `unknown generate option "${k}"`);
  check(o.seed === undefined || o.seeds === undefined, 'give seed or seeds, not both');
  let seeds: number[];
  if (o.seeds) {
    check(o.seeds.length === batch, `seeds has ${o.seeds.length} entries for ${batch} prompts`);
    seeds = o.seeds;
  } else {
    const s = o.seed ?? DEFAULTS.seed;
    seeds = Array.from({ length: batch }, (_, b) => s + b);
  }
  for (const s of seeds) check(Number.isSafeInteger(s) && within(s, LIMITS.seed), `seed ${s} must be an integer in [0, 2^53)`);
  const cfg = o.cfg ?? model.cfg ?? DEFAULTS.cfg;
  check(Number.isFinite(cfg) && within(cfg, LIMITS.cfg), `cfg ${cfg} must be a number in ${rangeText(LIMITS.cfg)}`);
  const cfgSchedule = o.cfgSchedule ?? model.cfg_schedule ?? DEFAULTS.cfgSchedule;
  check(CFG_SCHEDULES.includes(cfgSchedule), `cfgSchedule ${JSON.stringify(cfgSchedule)} must be one of ${CFG_SCHEDULES.join(', ')}`);
  const topK = o.topK ?? model.top_k ?? null;
  check(topK === null || (Number.isInteger(topK) && within(topK, LIMITS.topK)), `topK ${topK} must be an integer in ${rangeText(LIMITS.topK)}`);
  const topP = o.topP ?? model.top_p ?? DEFAULTS.topP;
  check(Number.isFinite(topP) && within(topP, LIMITS.topP), `topP ${topP} must be in ${rangeText(LIMITS.topP)}`);
  const temperature = o.temperature ?? model.temperature ?? DEFAULTS.temperature;
  check(Number.isFinite(temperature) && within(temperature, LIMITS.temperature), `temperature ${temperature} must be in ${rangeText(LIMITS.temperature)}`);
  const diffusionSteps = o.diffusionSteps ?? model.diffusion_steps ?? DEFAULTS.diffusionSteps;
  check(Number.isInteger(diffusionSteps) && within(diffusionSteps, LIMITS.diffusionSteps), `diffusionSteps ${diffusionSteps} must be an integer in ${rangeText(LIMITS.diffusionSteps)}`);
  check(o.residualDiffusion === undefined || typeof o.residualDiffusion === 'boolean', `residualDiffusion ${o.residualDiffusion} must be true or false`);
  return {
    seeds, cfg, cfgSchedule, topK, topP, temperature, diffusionSteps, moreSmooth: o.moreSmooth ?? model.more_smooth ?? DEFAULTS.moreSmooth,
    ...(o.residualDiffusion === false ? { residualDiffusion: false as const } : {}),
  };
}
