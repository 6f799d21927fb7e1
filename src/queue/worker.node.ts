// `hart worker`: loads the model once, then takes image jobs from the BullMQ queue on Redis and makes
// each PNG exactly as `hart generate` would (same pipeline call, same metadata, so the same bytes),
// writes it atomically into the job's output folder (or the worker's --out) and appends one line to
// that folder's manifest.jsonl. Exactly once, even when a worker is killed (kill -9) mid-job:
//  - a killed worker's job lock expires after --stall-timeout; another worker takes the job again;
//  - the file name is the job id and the write is temp + rename, so a retry replaces, never adds,
//    and nobody sees half a file (a killed write's temp file is removed by the retry);
//  - the manifest is checked before generating (already recorded + file present → done) and before
//    appending; the job lock is re-checked just before the append, so a worker that lost its job
//    (stalled, not dead) does not record it a second time.
// A job whose payload fails the request schema, names another model or no folder is parked at once
// (BullMQ's failed set, with the error); other errors retry with backoff up to the job's attempts.
// Ctrl-C drains: the running jobs finish, no new one is taken. Workers publish a heartbeat (counts,
// rate, current jobs) that `hart queue status` shows.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { atomicWriteFile } from '../io/files.node.ts';
import { nodeRuntime } from '../runtime/node.node.ts';
import { threadsPerJob } from '../runtime/cpu-cores.node.ts';
import { HartPipeline } from '../pipeline/hart-pipeline.ts';
import { loadProgressLogger } from '../pipeline/load-progress-log.ts';
import { resolveModel, UserError } from '../pipeline/default-model.node.ts';
import { toGenerateOptions, type GenerationRequest } from '../api/request.ts';
import { encodeImagePng } from '../api/metadata.ts';
import { isJobId, jobFileName, jobSettings, parseJobPayload, type JobPayload, type ManifestLine } from './job.ts';
import { manifestIndex, removeStaleTemps } from './manifest.node.ts';
import { checkQueueName, connected, parseRedisUrl, redisClient, type RedisTarget } from './connection.node.ts';
import { workersKey, type WorkerBeat } from './keys.ts';

/** One generated image: PNG bytes (with the metadata `hart generate` writes), its resolved settings and the prompt's words the model's vocabulary lacks. */
export interface Rendered { png: Uint8Array; settings: Record<string, unknown>; seed: number; missingWords?: string[] }
export type Renderer = (req: GenerationRequest) => Promise<Rendered>;

/** The renderer of a loaded pipeline: exactly the call and the metadata of `hart generate` (one image). */
export function pipelineRenderer(pipe: HartPipeline, modelName: string): Renderer {
  return async (req) => {
    const r = await pipe.generate([req.prompt], toGenerateOptions(req));
    const im = r.images[0];
    const png = encodeImagePng(im, { prompt: req.prompt, seed: r.seeds[0], settings: r.settings, width: im.width, height: im.height, model: modelName });
    const { seeds: _s, ...settings } = r.settings;
    return { png, settings, seed: r.seeds[0], missingWords: r.missingWords[0] ?? [] };
  };
}

export interface ImageWorkerOptions {
  target: RedisTarget;
  queue: string;
  render: Renderer;
  /** The model this worker serves (jobs for another are parked). */
  model: string;
  /** Overrides every job's output folder. */
  out?: string;
  concurrency?: number;
  /** Milliseconds after which a silent worker's job is given to another (its lock duration). */
  stallTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ImageWorker {
  id: string;
  worker: Worker;
  /** Stops taking jobs, lets the running ones finish, closes the connections. */
  close(): Promise<void>;
  stats(): WorkerBeat;
}

export const DEFAULT_STALL_TIMEOUT_MS = 60_000;

export async function startImageWorker(o: ImageWorkerOptions): Promise<ImageWorker> {
  const id = `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
  const log = o.log ?? (() => {});
  const stall = o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const concurrency = o.concurrency ?? 1;
  const beat: WorkerBeat = {
    id, host: hostname(), pid: process.pid, model: o.model, concurrency, state: 'running',
    started: Date.now(), lastSeen: Date.now(), done: 0, skipped: 0, failed: 0, busySeconds: 0, rate: 0, current: [],
  };
  const finishedAt: number[] = [];
  const made = new Set<string>(); // output folders already created
  const registry: Redis = redisClient(o.target, { name: `hart-worker-beat:${id}` });
  const publish = async () => {
    const now = Date.now();
    while (finishedAt.length && finishedAt[0] < now - 60_000) finishedAt.shift();
    beat.lastSeen = now;
    beat.rate = finishedAt.length / Math.max(1, Math.min(60, (now - beat.started) / 1000));
    await registry.hset(workersKey(o.queue), id, JSON.stringify(beat)).catch(() => {});
  };

  const handle = async (job: Job, token?: string) => {
    const t0 = performance.now();
    let p: JobPayload;
    try {
      p = parseJobPayload(job.data);
    } catch (e) {
      throw new UnrecoverableError(`bad job payload: ${(e as Error).message}`);
    }
    if (p.model !== o.model) throw new UnrecoverableError(`the job is for model ${JSON.stringify(p.model)}; this worker serves ${JSON.stringify(o.model)} (use one --queue per model)`);
    const req: GenerationRequest = { prompt: p.prompt, seed: p.seed, ...jobSettings(p) };
    if (p.deliver === 'return') {
      const r = await o.render(req);
      return { png: Buffer.from(r.png).toString('base64'), seed: r.seed, ...(r.missingWords ? { missing_words: r.missingWords } : {}), seconds: (performance.now() - t0) / 1000, worker: id };
    }
    if (!job.id || !isJobId(job.id)) throw new UnrecoverableError(`job id ${JSON.stringify(job.id)} is not a hart job id (j + 24 hex digits): it names the output file`);
    const dir = o.out ?? p.out;
    if (!dir) throw new UnrecoverableError('the job names no output folder and this worker has no --out');
    if (!o.out && !isAbsolute(dir)) throw new UnrecoverableError(`the job's output folder ${JSON.stringify(dir)} is not an absolute path`);
    if (!made.has(dir)) { await mkdir(dir, { recursive: true }); made.add(dir); }
    const file = jobFileName(job.id);
    const manifest = manifestIndex(dir);
    if (await manifest.has(job.id) && existsSync(join(dir, file))) return { file, skipped: true, worker: id }; // made before its worker could tell Redis
    if (job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0) await removeStaleTemps(dir, file);
    const r = await o.render(req);
    await atomicWriteFile(join(dir, file), r.png);
    const seconds = (performance.now() - t0) / 1000;
    // still ours? (a worker that stalled past the timeout has lost the job to another)
    if (token && !(await job.extendLock(token, stall))) throw new Error('lost the job lock (stalled past --stall-timeout); another worker has it');
    const line: ManifestLine = { id: job.id, prompt: p.prompt, seed: p.seed, model: p.model, settings: r.settings, file, seconds: Math.round(seconds * 1000) / 1000, worker: id, missing_words: r.missingWords ?? [] };
    await manifest.record(line);
    return { file, seconds, worker: id };
  };

  const connection = redisClient(o.target, { name: `hart-worker:${id}` });
  const worker = new Worker(o.queue, async (job, token) => {
    beat.current.push(job.id!);
    try {
      return await handle(job, token);
    } finally {
      beat.current = beat.current.filter((j) => j !== job.id);
    }
  }, {
    connection,
    concurrency,
    lockDuration: stall,
    stalledInterval: Math.max(500, Math.round(stall / 2)),
    maxStalledCount: 2,
    autorun: false,
  });
  worker.on('completed', (job, rv: { skipped?: boolean; seconds?: number }) => {
    if (rv?.skipped) beat.skipped++; else beat.done++;
    beat.busySeconds += rv?.seconds ?? 0;
    finishedAt.push(Date.now());
    log(`${job.id}: ${rv?.skipped ? 'already recorded' : `done in ${(rv?.seconds ?? 0).toFixed(2)} s`}`);
    void publish();
  });
  worker.on('failed', (job, err) => {
    const parked = !job || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (parked) beat.failed++;
    log(`${job?.id ?? '?'}: ${parked ? 'parked' : `failed (attempt ${job?.attemptsMade}, will retry)`}: ${err.message}`);
    void publish();
  });
  worker.on('active', (job) => { log(`${job.id}: started`); void publish(); });
  worker.on('error', (e) => log(`redis: ${e.message}`));
  await publish();
  const timer = setInterval(() => void publish(), 5000);
  timer.unref();
  void worker.run().catch((e) => log(`worker stopped: ${(e as Error).message}`));
  await worker.waitUntilReady();
  return {
    id, worker,
    stats: () => ({ ...beat }),
    async close() {
      beat.state = 'draining';
      const closing = worker.close(); // stops taking jobs now; resolves when the running ones are done
      void publish();
      await closing;
      clearInterval(timer);
      beat.state = 'stopped';
      beat.current = [];
      await publish();
      registry.disconnect();
      connection.disconnect();
    },
  };
}

export interface WorkerCliOptions {
  redis?: string; queue?: string; out?: string; concurrency?: string; model?: string; textEncoder?: string;
  threads?: string; stallTimeout?: string; quiet?: boolean; promptCacheMb?: string;
}

function int(flag: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < lo || n > hi) throw new UserError(`${flag} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return n;
}

export async function workerCommand(o: WorkerCliOptions, signal: AbortSignal): Promise<void> {
  const target = parseRedisUrl(o.redis);
  const queue = checkQueueName(o.queue);
  const concurrency = int('--concurrency', o.concurrency, 1, 64) ?? 1;
  const threads = int('--threads', o.threads, 1, 1024);
  const promptCacheMb = int('--prompt-cache-mb', o.promptCacheMb, 0, 1 << 20);
  const stall = int('--stall-timeout', o.stallTimeout, 1, 86_400) ?? DEFAULT_STALL_TIMEOUT_MS / 1000;
  const out = o.out === undefined ? undefined : resolve(o.out);
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`hart worker: ${s}\n`); };
  const model = await resolveModel(o.model, o.textEncoder);
  // Redis first (a wrong URL or password is a one-line error before the model loads)
  const probe = redisClient(target, { failFast: true });
  try { await connected(probe, target); } finally { probe.disconnect(); }

  const runtime = nodeRuntime({ threads: threads ?? threadsPerJob(concurrency) });
  const pipe = await HartPipeline.fromPretrained(model.files, {
    runtime, textEncoder: () => model.textEncoder(runtime), keepTextEncoder: true, onLoadProgress: loadProgressLogger(log),
    promptCacheBytes: promptCacheMb === undefined ? undefined : promptCacheMb * 2 ** 20,
  })
    .catch((e: Error) => { throw new UserError(`cannot load the model ${model.dir}: ${e.message}`); });
  if (signal.aborted) { await pipe.dispose(); await runtime.dispose(); return; }
  const w = await startImageWorker({ target, queue, render: pipelineRenderer(pipe, model.name), model: model.name, out, concurrency, stallTimeoutMs: stall * 1000, log });
  log(`${w.id} serving ${model.name} from ${target.display} queue ${queue}${out ? `, writing to ${out}` : ''} (concurrency ${concurrency}; Ctrl-C drains)`);
  await new Promise<void>((ok) => { if (signal.aborted) ok(); else signal.addEventListener('abort', () => ok(), { once: true }); });
  log(`draining: finishing ${w.stats().current.length} running job(s), taking no new one`);
  await w.close();
  const s = w.stats();
  log(`stopped: ${s.done} image(s) made, ${s.skipped} already recorded, ${s.failed} parked`);
  await pipe.dispose();
  await runtime.dispose();
  process.exit(0); // ONNX Runtime's thread pools and BullMQ's timers would keep the process alive
}
