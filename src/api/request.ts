// One schema for a generation request, used at every door: the CLI's flags, the server's JSON
// bodies (OpenAI /v1/images/generations and /api/generate) and the web app's form. It checks types
// and bounds before any model loads and names the field as the user wrote it (`--top-k` on the
// command line, `top_k` in JSON). Browser-safe (zod).
import { z } from 'zod';
import { LIMITS, rangeText, type GenerateOptions } from '../pipeline/options.ts';
import { CFG_SCHEDULES, type CfgSchedule } from '../tables/schedules.ts';

/** Bounds and descriptions, shared by the schema and its messages. */
const FIELDS = {
  prompt: { cli: 'prompt', spec: 'a non-empty string of at most 10000 characters' },
  n: { cli: '--batch', spec: 'an integer in [1, 64]' },
  seed: { cli: '--seed', spec: `an integer in [0, 2^53)` },
  cfg: { cli: '--cfg', spec: `a number in ${rangeText(LIMITS.cfg)}` },
  cfg_schedule: { cli: '--cfg-schedule', spec: `one of ${CFG_SCHEDULES.join(', ')}` },
  top_k: { cli: '--top-k', spec: `an integer in ${rangeText(LIMITS.topK)}` },
  top_p: { cli: '--top-p', spec: `a number in ${rangeText(LIMITS.topP)}` },
  temperature: { cli: '--temperature', spec: `a number in ${rangeText(LIMITS.temperature)}` },
  steps: { cli: '--steps', spec: `an integer in ${rangeText(LIMITS.diffusionSteps)}` },
  more_smooth: { cli: '--no-more-smooth', spec: 'true or false' },
} as const;

export const generationFields = {
  prompt: z.string().refine((s) => s.trim().length > 0 && s.length <= 10000),
  n: z.number().int().min(1).max(64).optional(),
  seed: z.number().int().min(LIMITS.seed.min).max(LIMITS.seed.max).optional(),
  cfg: z.number().min(LIMITS.cfg.min).max(LIMITS.cfg.max).optional(),
  cfg_schedule: z.enum(CFG_SCHEDULES as [CfgSchedule, ...CfgSchedule[]]).optional(),
  top_k: z.number().int().min(LIMITS.topK.min).max(LIMITS.topK.max).optional(),
  top_p: z.number().min(LIMITS.topP.min).max(LIMITS.topP.max).optional(),
  temperature: z.number().min(LIMITS.temperature.min).max(LIMITS.temperature.max).optional(),
  steps: z.number().int().min(LIMITS.diffusionSteps.min).max(LIMITS.diffusionSteps.max).optional(),
  more_smooth: z.boolean().optional(),
};

export const generationSchema = z.object(generationFields).strict();
export type GenerationRequest = z.infer<typeof generationSchema>;

/** A request that failed validation: `message` is one line naming the field as the user wrote it. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(message: string, readonly field?: string) { super(message); }
}

export type Naming = 'json' | 'cli';

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === undefined) return 'nothing';
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/** Field specs beyond the generation fields (the server's OpenAI extras), for messages. */
const extraSpecs = new Map<string, string>();
export function describeField(name: string, spec: string): void { extraSpecs.set(name, spec); }

/**
 * Validates `input` against `schema`; throws a RequestError whose message names the first bad
 * field (`--cfg must be a number in [0, 50], got "abc"`; `unknown field "foo"`).
 */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown, naming: Naming = 'json'): z.infer<T> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RequestError('the request body must be a JSON object');
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const k = issue.keys[0];
    throw new RequestError(`unknown field ${JSON.stringify(k)}`, k);
  }
  const key = String(issue.path[0] ?? '');
  const f = (FIELDS as Record<string, { cli: string; spec: string }>)[key];
  const name = naming === 'cli' && f ? f.cli : key;
  const spec = f?.spec ?? extraSpecs.get(key) ?? issue.message;
  const value = (input as Record<string, unknown>)[key];
  if (value === undefined) throw new RequestError(`${name} is required`, key);
  throw new RequestError(`${name} must be ${spec}, got ${show(value)}`, key);
}

export const parseGenerationRequest = (input: unknown, naming: Naming = 'json'): GenerationRequest => parseWith(generationSchema, input, naming);

/** A number as typed on a command line ("1e3", "-2", ".5"), or the string itself (the schema then rejects it). */
export function cliNumber(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(v) ? Number(v) : v;
}

/** The pipeline options of a validated request (absent fields keep the model's defaults). */
export function toGenerateOptions(r: GenerationRequest): GenerateOptions {
  const o: GenerateOptions = {};
  if (r.seed !== undefined) o.seed = r.seed;
  if (r.cfg !== undefined) o.cfg = r.cfg;
  if (r.cfg_schedule !== undefined) o.cfgSchedule = r.cfg_schedule;
  if (r.top_k !== undefined) o.topK = r.top_k;
  if (r.top_p !== undefined) o.topP = r.top_p;
  if (r.temperature !== undefined) o.temperature = r.temperature;
  if (r.steps !== undefined) o.diffusionSteps = r.steps;
  if (r.more_smooth !== undefined) o.moreSmooth = r.more_smooth;
  return o;
}
