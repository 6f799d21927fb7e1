// hart.json, the top file of a HART.js model folder (DESIGN.md): which folder holds each part, the
// resolution and patch_nums, and the sampling defaults (official names) the model was made for.
// Checked by one schema (schema.ts): every field's type and range, own properties only; absent
// sampling defaults come from the transformer's config.json and then sample.py (see options.ts).
import { describe, f, type Field, hasOwn, isPlainObject, parseFields, reject } from '../io/schema.ts';
import { LIMITS, type ModelDefaults } from './options.ts';
import { CFG_SCHEDULES, type CfgSchedule } from '../tables/schedules.ts';
import { MATMUL_PRECISIONS, type MatmulPrecision } from '../models/transformer/precision.ts';

export interface HartJson {
  format: 'hart-js';
  format_version: 1;
  parts: { transformer: string; tokenizer: string; text_encoder?: string };
  resolution: number;
  patch_nums: number[];
  context_token: number;
  /** The model's sampling defaults as written (absent ones are filled in at load time). */
  defaults: ModelDefaults;
  /** Prompt handling of the text encoder: system_prompt false = bare prompts (models trained here); default true (official). */
  prompt?: { system_prompt?: boolean };
  /**
   * Matrix precision of the transformer blocks this model runs with by default (precision.ts;
   * default float32). A model sets another only where it measured the output within its bound.
   */
  precision?: MatmulPrecision;
  storage?: unknown;
  sources?: unknown;
}

const FOLDER = f.string(255, /^(?!\.\.?$)[A-Za-z0-9_.-]+$/, 'a plain folder name');

/** The generation options a model may set, official names, with the ranges resolveOptions accepts. */
export const DEFAULTS_SCHEMA: Record<keyof ModelDefaults, Field<unknown>> = {
  cfg: f.number(LIMITS.cfg.min, LIMITS.cfg.max),
  cfg_schedule: f.oneOf(CFG_SCHEDULES as CfgSchedule[]),
  top_k: f.nullable(f.int(LIMITS.topK.min, LIMITS.topK.max)),
  top_p: f.number(LIMITS.topP.min, LIMITS.topP.max),
  temperature: f.number(LIMITS.temperature.min, LIMITS.temperature.max),
  diffusion_steps: f.int(LIMITS.diffusionSteps.min, LIMITS.diffusionSteps.max),
  more_smooth: f.bool(),
};

const SCHEMA: Record<keyof HartJson, Field<unknown>> = {
  format: f.oneOf(['hart-js']),
  format_version: { want: '1', check: (v) => (v === 1 ? v : reject('1', v)) },
  parts: {
    want: 'parts',
    check: (v) => {
      if (!isPlainObject(v)) return reject('an object of part → folder', v);
      return parseFields(v, { transformer: FOLDER, tokenizer: FOLDER, text_encoder: FOLDER }, 'parts');
    },
  },
  resolution: f.int(1, 1 << 16),
  patch_nums: f.list(f.int(1, 1024), 1, 64),
  context_token: f.int(1, 1 << 16),
  defaults: { want: 'defaults', check: (v) => parseFields(v, DEFAULTS_SCHEMA, 'defaults') },
  prompt: { want: 'prompt', check: (v) => parseFields(v, { system_prompt: f.bool() }, 'prompt') },
  precision: f.oneOf(MATMUL_PRECISIONS as MatmulPrecision[]),
  storage: f.any(),
  sources: f.any(),
};

export function parseHartJson(json: unknown, what = 'hart.json'): HartJson {
  if (!isPlainObject(json)) throw new Error(`${what}: must be a JSON object, got ${describe(json)}`);
  if (hasOwn(json, 'format_version') && json.format_version !== 1) {
    throw new Error(`${what}: format_version ${describe(json.format_version)} is not supported (this HART.js reads 1)`);
  }
  let o: Record<string, unknown>;
  try {
    o = parseFields(json, SCHEMA, what);
  } catch (e) {
    // nested parts/defaults messages read "parts: ..." / "defaults: ..."; name the file first
    const m = (e as Error).message;
    throw new Error(m.startsWith(what) ? m : `${what}: ${m}`);
  }
  for (const k of ['format', 'format_version', 'parts', 'resolution', 'patch_nums', 'context_token']) {
    if (o[k] === undefined) throw new Error(`${what}: "${k}" is missing`);
  }
  const parts = o.parts as HartJson['parts'];
  if (!parts.transformer || !parts.tokenizer) throw new Error(`${what}: "parts" needs transformer and tokenizer`);
  return { ...(o as unknown as HartJson), defaults: (o.defaults ?? {}) as ModelDefaults };
}
