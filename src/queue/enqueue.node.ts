// `hart enqueue <prompts.jsonl|txt>`: one BullMQ job per image (prompt × seed, with the settings and
// the model id) for `hart worker`s to make. The job id is a hash of those (queue/job.ts), so a
// repeated or interrupted submission adds only what is missing. Everything is validated (the same
// schema as `hart generate`) before anything is sent.
import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { cliNumber, generationFields, parseGenerationRequest, parseWith, RequestError } from '../api/request.ts';
import { resolveModel, UserError } from '../pipeline/default-model.node.ts';
import { jobIdFromDigest, jobKey, jobSettings, PAYLOAD_VERSION, type JobPayload, type JobSettings } from './job.ts';
import { checkQueueName, connected, parseRedisUrl, redisClient } from './connection.node.ts';

export const jobId = (p: Parameters<typeof jobKey>[0]): string => jobIdFromDigest(createHash('sha256').update(jobKey(p)).digest('hex'));

const MAX_JOBS = 10_000_000;

/** Parses --seeds: "1", "1-100", "1,5,9-12". */
export function parseSeeds(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UserError(`--seeds must look like 1, 1-100 or 1,5,9-12, got ${JSON.stringify(s)}`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) throw new UserError(`--seeds: ${JSON.stringify(part.trim())} is not a range of seeds in [0, 2^53)`);
    if (out.length + (b - a + 1) > MAX_JOBS) throw new UserError(`--seeds names more than ${MAX_JOBS} seeds`);
    for (let x = a; x <= b; x++) out.push(x);
  }
  return out;
}

const { n: _n, ...lineFields } = generationFields;
const lineSchema = z.object(lineFields).strict();

export interface PromptLine { prompt: string; seed?: number; settings: JobSettings }

/**
 * Reads prompts: a .jsonl file of {"prompt": …, "seed"?: …, "cfg"?: …, …} (the fields of
 * /api/generate but n), or any other file as one prompt per non-empty line.
 */
export function readPrompts(path: string): PromptLine[] {
  let text: string;
  try {
    if (statSync(path).size > 1 << 30) throw new UserError(`${path} is larger than 1 GiB`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const jsonl = /\.jsonl?$/i.test(path);
  const out: PromptLine[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    if (!jsonl) { out.push({ prompt: line, settings: {} }); continue; }
    let v: unknown;
    try { v = JSON.parse(line); } catch (e) { throw new UserError(`${path}:${i + 1}: not JSON (${(e as Error).message.split('\n')[0]})`); }
    try {
      const r = parseWith(lineSchema, v, 'json');
      out.push({ prompt: r.prompt, seed: r.seed, settings: jobSettings(r) });
    } catch (e) {
      throw new UserError(`${path}:${i + 1}: ${(e as Error).message}`);
    }
  }
  if (!out.length) throw new UserError(`${path} has no prompts`);
  return out;
}

export interface EnqueueCliOptions {
  redis?: string; queue?: string; out: string; seeds?: string; model?: string; modelId?: string; attempts?: string;
  cfg?: string; cfgSchedule?: string; topK?: string; topP?: string; temperature?: string; steps?: string; moreSmooth: boolean;
  json?: boolean; quiet?: boolean;
}

export interface EnqueueResult { jobs: number; added: number; existing: number; queue: string; model: string; out: string; seconds: number }

export async function enqueueCommand(file: string, o: EnqueueCliOptions): Promise<EnqueueResult> {
  const target = parseRedisUrl(o.redis);
  const queue = checkQueueName(o.queue);
  if (!o.out) throw new UserError('--out <folder> is required: the folder (shared by the workers) for the PNGs and manifest.jsonl');
  const out = resolve(o.out);
  let base;
  try {
    base = parseGenerationRequest({
      prompt: 'x', cfg: cliNumber(o.cfg), cfg_schedule: o.cfgSchedule, top_k: cliNumber(o.topK), top_p: cliNumber(o.topP),
      temperature: cliNumber(o.temperature), steps: cliNumber(o.steps), ...(o.moreSmooth === false ? { more_smooth: false } : {}),
    }, 'cli');
  } catch (e) {
    throw e instanceof RequestError ? new UserError(e.message) : e;
  }
  const attempts = o.attempts === undefined ? 3 : Number(o.attempts);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) throw new UserError(`--attempts must be an integer in [1, 100], got ${JSON.stringify(o.attempts)}`);
  const seeds = parseSeeds(o.seeds ?? '1');
  let model: string;
  if (o.modelId !== undefined) {
    if (!/^[^/\\\s][^/\\]{0,255}$/.test(o.modelId)) throw new UserError(`--model-id must be a model folder name, got ${JSON.stringify(o.modelId)}`);
    model = o.modelId;
  } else {
    model = (await resolveModel(o.model, undefined, { requireTextEncoder: false })).name;
  }
  const prompts = readPrompts(file);
  const payloads: JobPayload[] = [];
  for (const p of prompts) {
    for (const seed of p.seed !== undefined ? [p.seed] : seeds) {
      payloads.push({ v: PAYLOAD_VERSION, prompt: p.prompt, seed, ...jobSettings(base), ...p.settings, model, out, deliver: 'file' });
      if (payloads.length > MAX_JOBS) throw new UserError(`more than ${MAX_JOBS} images in one submission`);
    }
  }
  const t0 = performance.now();
  const client = redisClient(target, { failFast: true });
  await connected(client, target).catch((e) => { client.disconnect(); throw e; });
  const q = new Queue(queue, { connection: client });
  let added = 0;
  try {
    const CHUNK = 500;
    for (let i = 0; i < payloads.length; i += CHUNK) {
      const chunk = payloads.slice(i, i + CHUNK).map((data) => ({ data, id: jobId(data) }));
      // which are new (BullMQ ignores an add whose id exists; this only counts them)
      const exists = await client.pipeline(chunk.map((c) => ['exists', q.toKey(c.id)])).exec();
      added += exists!.filter(([, n]) => n === 0).length;
      await q.addBulk(chunk.map((c) => ({
        name: 'image', data: c.data,
        opts: { jobId: c.id, attempts, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: false, removeOnFail: false },
      })));
    }
  } finally {
    await q.close();
    client.disconnect();
  }
  const r: EnqueueResult = { jobs: payloads.length, added, existing: payloads.length - added, queue, model, out, seconds: (performance.now() - t0) / 1000 };
  if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else if (!o.quiet) process.stdout.write(`hart enqueue: ${r.added} job(s) added, ${r.existing} already queued or made (${r.jobs} images of ${model} → ${out}) on ${target.display} queue ${queue}\n`);
  return r;
}
