// hart.json, the top file of a HART.js model folder (DESIGN.md): which folder holds each part, the
// resolution and patch_nums, and the sampling defaults (official names) the model was made for.
import { DEFAULTS } from './options.ts';

export interface HartJson {
  format: 'hart-js';
  format_version: 1;
  parts: { transformer: string; tokenizer: string; text_encoder?: string };
  resolution: number;
  patch_nums: number[];
  context_token: number;
  defaults: { cfg: number; top_k: number | null; top_p: number; temperature: number; diffusion_steps: number; more_smooth: boolean };
  storage?: unknown;
  sources?: unknown;
}

const KEYS = ['format', 'format_version', 'parts', 'resolution', 'patch_nums', 'context_token', 'defaults', 'storage', 'sources'];
const DEFAULT_KEYS = ['cfg', 'top_k', 'top_p', 'temperature', 'diffusion_steps', 'more_smooth'];

export function parseHartJson(json: unknown, what = 'hart.json'): HartJson {
  const fail = (m: string): never => { throw new Error(`${what}: ${m}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('must be a JSON object');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) fail(`unknown field "${k}"`);
  if (o.format !== 'hart-js') fail(`format must be "hart-js", got ${JSON.stringify(o.format)}`);
  if (o.format_version !== 1) fail(`format_version ${JSON.stringify(o.format_version)} is not supported (this HART.js reads 1)`);
  const parts = o.parts as Record<string, unknown>;
  if (typeof parts !== 'object' || parts === null) fail('parts must be an object');
  for (const [k, v] of Object.entries(parts)) {
    if (!['transformer', 'tokenizer', 'text_encoder'].includes(k)) fail(`unknown part "${k}"`);
    if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(v) || v === '..' || v === '.') fail(`part ${k} must be a plain folder name, got ${JSON.stringify(v)}`);
  }
  if (!parts.transformer || !parts.tokenizer) fail('parts needs transformer and tokenizer');
  const pn = o.patch_nums;
  if (!Array.isArray(pn) || pn.length === 0 || pn.some((v) => !Number.isInteger(v) || v < 1)) fail('patch_nums must be positive integers');
  for (const k of ['resolution', 'context_token']) if (!Number.isInteger(o[k]) || (o[k] as number) < 1) fail(`${k} must be a positive integer`);
  const d = { cfg: DEFAULTS.cfg, top_k: null, top_p: DEFAULTS.topP, temperature: DEFAULTS.temperature, diffusion_steps: DEFAULTS.diffusionSteps, more_smooth: DEFAULTS.moreSmooth, ...(o.defaults as object ?? {}) };
  for (const k of Object.keys(d)) if (!DEFAULT_KEYS.includes(k)) fail(`unknown default "${k}"`);
  return { ...(o as unknown as HartJson), defaults: d };
}
