// One image of a distributed run, as it travels through the queue (BullMQ on Redis): the payload
// schema the worker validates before use (the same field schema as the CLI and the server,
// api/request.ts), and the job id — a hash of (prompt, seed, settings, model id), so submitting the
// same image twice names the same job and BullMQ adds it once. Browser-safe (the hash is passed in).
import { z } from 'zod';
import { generationFields, parseWith, type GenerationRequest } from '../api/request.ts';

/** Payload format version: a worker parks jobs of a version it does not know. */
export const PAYLOAD_VERSION = 1;

/** The settings a job may carry: every generation field but the prompt, the seed and `n` (one image per job). */
export const SETTING_KEYS = ['cfg', 'cfg_schedule', 'top_k', 'top_p', 'temperature', 'steps', 'more_smooth'] as const;
export type JobSettings = Partial<Pick<GenerationRequest, typeof SETTING_KEYS[number]>>;

const { n: _n, seed, ...fields } = generationFields;

export const jobPayloadSchema = z.object({
  v: z.literal(PAYLOAD_VERSION),
  ...fields,
  seed: seed.unwrap(),
  /** The model id (its folder name, as PNG metadata records it); a worker serves one model. */
  model: z.string().min(1).max(256),
  /** Absolute folder for the PNG and manifest.jsonl (shared storage); a worker's --out overrides it. */
  out: z.string().min(1).max(4096).optional(),
  /** 'file' (hart enqueue): PNG + manifest line in `out`; 'return' (hart serve --redis): PNG bytes as the job's result. */
  deliver: z.enum(['file', 'return']).optional(),
}).strict();
export type JobPayload = z.infer<typeof jobPayloadSchema>;

/** Validates a payload from Redis (anything at all); throws a RequestError naming the first bad field. */
export const parseJobPayload = (data: unknown): JobPayload => parseWith(jobPayloadSchema, data, 'json');

/** The settings of a payload or request (only those given, so the model's defaults apply to the rest). */
export function jobSettings(r: Partial<GenerationRequest>): JobSettings {
  const s: Record<string, unknown> = {};
  for (const k of SETTING_KEYS) if (r[k] !== undefined) s[k] = r[k];
  return s as JobSettings;
}

/**
 * The text that the job id hashes: prompt, seed, the given settings (sorted keys) and the model id,
 * as canonical JSON. Settings left to the model's defaults differ from the same values written out
 * (`--cfg 4.5`): they are hashed as given.
 */
export function jobKey(p: { prompt: string; seed: number; model: string } & JobSettings): string {
  const s = jobSettings(p);
  return JSON.stringify(['hart-job-v1', p.prompt, p.seed, SETTING_KEYS.filter((k) => k in s).map((k) => [k, s[k]]), p.model]);
}

/** A job id from the hex digest of jobKey: a letter first (BullMQ refuses integer-looking ids), 96 bits. */
export const jobIdFromDigest = (hex: string): string => `j${hex.slice(0, 24)}`;

export const isJobId = (s: string): boolean => /^j[0-9a-f]{24}$/.test(s);

/** The image's file name in its output folder: a retry writes the same name (atomically), never a second file. */
export const jobFileName = (id: string): string => `${id}.png`;

/** The line `hart worker` appends to <out>/manifest.jsonl once per image. */
export interface ManifestLine {
  id: string;
  prompt: string;
  seed: number;
  model: string;
  /** The resolved settings the image was made with (the model's defaults filled in). */
  settings: Record<string, unknown>;
  /** The PNG, relative to the manifest's folder. */
  file: string;
  /** Generation seconds (model already loaded; PNG encoding and writing included). */
  seconds: number;
  worker: string;
  /** The prompt's words the model's caption vocabulary lacks ([] when none, and always with a BPE tokenizer). */
  missing_words: string[];
}
