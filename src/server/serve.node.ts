// `hart serve`: loads the model once, then serves the API (app.ts) and the web app on
// 127.0.0.1 (by default) until Ctrl-C. Every option is checked before the model loads.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import { nodeRuntime } from '../runtime/node.node.ts';
import { threadsPerJob } from '../runtime/cpu-cores.node.ts';
import { HartPipeline } from '../pipeline/hart-pipeline.ts';
import { loadProgressLogger } from '../pipeline/load-progress-log.ts';
import { PACKAGE_ROOT, resolveModel, UserError } from '../pipeline/default-model.node.ts';
import { toGenerateOptions } from '../api/request.ts';
import { encodeImagePng } from '../api/metadata.ts';
import { VERSION } from '../api/version.ts';
import { createApp, type Generator } from './app.ts';
import { JobQueue } from './queue.ts';
import { staticFiles } from './static.node.ts';

export interface ServeCliOptions {
  model?: string; textEncoder?: string; host: string; port: string; concurrency: string; queue: string;
  maxN: string; bodyLimit: string; cors?: string; threads?: string; web?: string; quiet?: boolean; promptCacheMb?: string;
  /** --redis <url>: generations go through the shared BullMQ queue (src/queue/serve-backend.node.ts). */
  redis?: string; redisQueue?: string;
}

function int(flag: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < lo || n > hi) throw new UserError(`${flag} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return n;
}

export async function serveCommand(o: ServeCliOptions, signal?: AbortSignal): Promise<void> {
  const port = int('--port', o.port, 0, 65535)!;
  const concurrency = int('--concurrency', o.concurrency, o.redis ? 0 : 1, 64)!;
  const capacity = int('--queue', o.queue, 0, 100000)!;
  const maxN = int('--max-n', o.maxN, 1, 64)!;
  const bodyLimit = int('--body-limit', o.bodyLimit, 256, 64 << 20)!;
  const threads = int('--threads', o.threads, 1, 1024);
  const promptCacheMb = int('--prompt-cache-mb', o.promptCacheMb, 0, 1 << 20);
  if (!o.host || /\s/.test(o.host)) throw new UserError(`--host must be an address, got ${JSON.stringify(o.host)}`);
  const corsOrigins = (o.cors ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const origin of corsOrigins) {
    let ok = false;
    try { ok = new URL(origin).origin === origin; } catch { /* not a URL */ }
    if (!ok) throw new UserError(`--cors: ${JSON.stringify(origin)} is not an origin like http://localhost:5173`);
  }
  const webDir = o.web ?? join(PACKAGE_ROOT, 'web', 'dist');
  if (o.web && !(existsSync(o.web) && statSync(o.web).isDirectory())) throw new UserError(`--web ${o.web}: no such folder`);
  const model = await resolveModel(o.model, o.textEncoder);
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`hart: ${s}\n`); };

  log(`loading ${model.name}${model.demo ? ' (the random parity model: noise images, until the embedded model exists)' : ''}`);
  const runtime = nodeRuntime({ threads: threads ?? threadsPerJob(concurrency) });
  const pipe = await HartPipeline.fromPretrained(model.files, {
    runtime, textEncoder: () => model.textEncoder(runtime), keepTextEncoder: true, onLoadProgress: loadProgressLogger(log),
    promptCacheBytes: promptCacheMb === undefined ? undefined : promptCacheMb * 2 ** 20,
  })
    .catch((e: Error) => { throw new UserError(`cannot load the model ${model.dir}: ${e.message}`); });
  const res = pipe.model.tokenizer.downsample * pipe.model.transformer.dims.patchNums.at(-1)!;
  const generate: Generator = async (req, g) => {
    const n = req.n ?? 1;
    const r = await pipe.generate(Array.from({ length: n }, () => req.prompt), { ...toGenerateOptions(req), signal: g.signal, previews: g.previews, onProgress: g.onProgress });
    return r.images.map((im, i) => ({
      seed: r.seeds[i],
      missingWords: r.missingWords[i],
      png: encodeImagePng(im, { prompt: req.prompt, seed: r.seeds[i], settings: r.settings, width: im.width, height: im.height, model: model.name }),
    }));
  };
  // --redis: every image is a job on the shared queue; this server's own worker takes --concurrency of them
  const backend = o.redis ? await (await import('../queue/serve-backend.node.ts')).redisBackend({
    redis: o.redis, queue: o.redisQueue, model: model.name, concurrency, log: o.quiet ? undefined : (s) => log(s),
    render: (await import('../queue/worker.node.ts')).pipelineRenderer(pipe, model.name),
  }) : undefined;
  if (backend) log(`generating through ${backend.display}`);
  const app = createApp({
    generate: backend ? (req, g) => backend.generate(req, g) : generate,
    model: { id: model.name, resolution: res, demo: model.demo, context_token: pipe.model.transformerConfig.context_token, defaults: { ...(pipe.model.hartJson?.defaults ?? {}) } },
    queue: backend ? new JobQueue(Math.max(1, capacity), capacity) : new JobQueue(concurrency, capacity),
    maxN, bodyLimit, corsOrigins,
    web: existsSync(webDir) ? staticFiles(webDir, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }) : undefined,
    modelFiles: staticFiles(model.dir),
    log: o.quiet ? undefined : (s) => log(s),
  });
  const server = serve({ fetch: app.fetch, hostname: o.host, port });
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', (e: NodeJS.ErrnoException) => fail(new UserError(`cannot listen on ${o.host}:${port} (${e.code ?? e.message})`)));
  });
  const addr = server.address();
  const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${typeof addr === 'object' && addr ? addr.port : port}`;
  process.stdout.write(`hart ${VERSION}: serving ${model.name} on ${url}${existsSync(webDir) ? ` (web app ${url}/)` : ''}\n`);
  if (!existsSync(webDir)) log(`no web app at ${resolve(webDir)} (npm run build:web builds it); the API works without it`);
  await new Promise<void>((ok) => {
    if (signal?.aborted) ok();
    signal?.addEventListener('abort', () => ok(), { once: true });
  });
  log('stopping');
  server.close();
  await backend?.close();
  await pipe.dispose();
  await runtime.dispose();
  process.exit(0);
}
