// The HTTP API of `hart serve` (Hono): OpenAI-compatible POST /v1/images/generations, streaming
// POST /api/generate (Server-Sent Events: queued, progress with per-scale previews, image, done),
// job status and cancel, GET /api/models, GET /health, and the web app as static files.
// Bodies are size-limited and validated by the same schema as the CLI (api/request.ts); a
// cross-origin POST is refused unless its origin is configured (CORS is off by default), so a web
// page cannot make this machine generate. Client disconnects cancel their jobs.
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { describeField, generationFields, parseWith, RequestError, type GenerationRequest } from '../api/request.ts';
import type { PreviewEvent } from '../pipeline/progress.ts';
import { encodePng } from '../io/png.ts';
import { JobQueue, QueueFullError } from './queue.ts';
import type { StaticFiles } from './static.node.ts';

/** One image as the generator returns it: PNG bytes (with metadata) and its seed. */
/** missingWords: the prompt's words the model's vocabulary lacks (GenerateResult.missingWords), where the generator knows them. */
export interface GeneratedImage { png: Uint8Array; seed: number; missingWords?: string[] }

/** What the server runs a request with (the loaded pipeline, or a stand-in in tests). */
export type Generator = (req: GenerationRequest, o: { signal: AbortSignal; previews: boolean; onProgress?: (e: PreviewEvent) => void | Promise<void> }) => Promise<GeneratedImage[]>;

export interface ModelDescription { id: string; resolution: number; demo: boolean; defaults: Record<string, unknown>; context_token: number }

export interface AppOptions {
  generate: Generator;
  model: ModelDescription;
  queue: JobQueue;
  /** Most images per request (n). */
  maxN?: number;
  /** Largest body in bytes. */
  bodyLimit?: number;
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  corsOrigins?: string[];
  /** The web app's files. */
  web?: StaticFiles;
  /** The model folder's files, served read-only under /models/<id>/ for the in-browser app. */
  modelFiles?: StaticFiles;
  log?: (line: string) => void;
}

describeField('size', 'a string "WxH" with the model\'s size');
describeField('response_format', '"b64_json"');
describeField('model', 'a string');
describeField('user', 'a string');
describeField('previews', 'true or false');

const openaiSchema = z.object({
  ...generationFields,
  size: z.string().max(32).optional(),
  response_format: z.literal('b64_json').optional(),
  model: z.string().max(256).optional(),
  user: z.string().max(256).optional(),
}).strict();

const streamSchema = z.object({ ...generationFields, previews: z.boolean().optional() }).strict();

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** OpenAI's error shape: { error: { message, type, param, code } }. */
function fail(c: Context, status: 400 | 403 | 404 | 413 | 429 | 500 | 503, message: string, param: string | null = null, code: string | null = null) {
  const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return c.json({ error: { message, type, param, code } }, status);
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim()) throw new RequestError('the request body is empty; send a JSON object');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RequestError(`the request body is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

export function createApp(o: AppOptions): Hono {
  const app = new Hono();
  const maxN = o.maxN ?? 4;
  const limit = o.bodyLimit ?? 64 * 1024;
  const origins = new Set(o.corsOrigins ?? []);
  const log = o.log ?? (() => {});

  if (origins.size) app.use('*', cors({ origin: [...origins], allowMethods: ['GET', 'POST', 'DELETE'], allowHeaders: ['Content-Type', 'Authorization'], exposeHeaders: ['Retry-After'] }));
  // A browser page from another origin may POST (a "simple" text/plain request needs no preflight): refuse it.
  app.use('*', async (c, next) => {
    const origin = c.req.header('origin');
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && origin && !origins.has(origin)) {
      const host = c.req.header('host');
      let same = false;
      try { same = new URL(origin).host === host; } catch { /* "null" or garbage */ }
      if (!same) return fail(c, 403, `cross-origin requests from ${origin} are not allowed (hart serve --cors <origin> allows them)`);
    }
    await next();
  });
  const sizeLimit = bodyLimit({ maxSize: limit, onError: (c) => fail(c, 413, `the request body is larger than ${limit} bytes`) });

  const parseBody = async <T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> => {
    const body = parseWith(schema, await readJson(c), 'json') as GenerationRequest & { size?: string };
    if ((body.n ?? 1) > maxN) throw new RequestError(`n must be at most ${maxN} on this server, got ${body.n}`, 'n');
    if (body.seed !== undefined && body.seed + (body.n ?? 1) - 1 > Number.MAX_SAFE_INTEGER) throw new RequestError('seed + n goes past 2^53', 'seed');
    if (body.size !== undefined && body.size !== `${o.model.resolution}x${o.model.resolution}`) {
      throw new RequestError(`size must be "${o.model.resolution}x${o.model.resolution}" (this model's), got ${JSON.stringify(body.size)}`, 'size');
    }
    return body as z.infer<T>;
  };
  const onError = (c: Context, e: unknown) => {
    if (e instanceof RequestError) return fail(c, 400, e.message, e.field ?? null);
    if (e instanceof QueueFullError) {
      c.header('Retry-After', String(e.retryAfterSeconds));
      return fail(c, 429, `${e.message}; retry in ${e.retryAfterSeconds} s`, null, 'queue_full');
    }
    log(`error: ${(e as Error)?.stack ?? e}`);
    return fail(c, 500, `generation failed: ${(e as Error)?.message ?? e}`);
  };
  /** A seed for requests without one: random, so two plain OpenAI calls differ (it is returned). */
  const withSeed = (r: GenerationRequest): GenerationRequest => r.seed !== undefined ? r : { ...r, seed: Math.floor(Math.random() * 2 ** 31) };

  app.get('/health', (c) => c.json({ status: 'ok', model: o.model.id, queue: o.queue.stats }));
  app.get('/api/models', (c) => c.json({
    object: 'list',
    data: [{ id: o.model.id, object: 'model', owned_by: 'hart-js', resolution: o.model.resolution, size: `${o.model.resolution}x${o.model.resolution}`, demo: o.model.demo, context_token: o.model.context_token, defaults: o.model.defaults, files: o.modelFiles ? `/models/${encodeURIComponent(o.model.id)}/` : null }],
  }));
  app.get('/v1/models', (c) => c.json({ object: 'list', data: [{ id: o.model.id, object: 'model', owned_by: 'hart-js' }] }));

  app.post('/v1/images/generations', sizeLimit, async (c) => {
    try {
      const req = withSeed(await parseBody(c, openaiSchema));
      const job = o.queue.submit((signal) => o.generate(req, { signal, previews: false }), c.req.raw.signal);
      log(`job ${job.id}: /v1/images/generations n=${req.n ?? 1} seed=${req.seed}`);
      const images = await job.result;
      return c.json({ created: Math.floor(Date.now() / 1000), data: images.map((im) => ({ b64_json: b64(im.png), revised_prompt: req.prompt, seed: im.seed })) });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') return fail(c, 400, 'the job was cancelled', null, 'cancelled');
      return onError(c, e);
    }
  });

  app.post('/api/generate', sizeLimit, async (c) => {
    let req: z.infer<typeof streamSchema>;
    try {
      req = withSeed(await parseBody(c, streamSchema)) as z.infer<typeof streamSchema>;
    } catch (e) {
      return onError(c, e);
    }
    const disconnected = new AbortController();
    // events before the stream is open wait in `pending`
    let stream: { writeSSE(m: { event: string; data: string }): Promise<void> } | undefined;
    const pending: [string, unknown][] = [];
    const send = async (event: string, data: unknown) => {
      if (disconnected.signal.aborted) return;
      if (!stream) { pending.push([event, data]); return; }
      await stream.writeSSE({ event, data: JSON.stringify(data) });
    };
    let job;
    try {
      job = o.queue.submit((signal) => o.generate(req, {
        signal, previews: req.previews ?? true,
        onProgress: async (e) => {
          await send('progress', {
            stage: e.stage, step: e.step, total: e.total, elapsed: e.elapsed,
            previews: e.previews?.map((im) => `data:image/png;base64,${b64(encodePng(im))}`),
          });
        },
      }), disconnected.signal);
    } catch (e) {
      return onError(c, e);
    }
    log(`job ${job.id}: /api/generate n=${req.n ?? 1} seed=${req.seed}`);
    return streamSSE(c, async (s) => {
      s.onAbort(() => disconnected.abort());
      c.req.raw.signal.addEventListener('abort', () => disconnected.abort(), { once: true });
      await s.writeSSE({ event: 'queued', data: JSON.stringify({ id: job.id, ...o.queue.stats }) });
      stream = s;
      for (const [ev, d] of pending.splice(0)) await send(ev, d);
      try {
        const images = await job.result;
        for (const [i, im] of images.entries()) await send('image', { index: i, seed: im.seed, png: b64(im.png) });
        const missing = images[0]?.missingWords;
        await send('done', { id: job.id, ...(missing ? { missing_words: missing } : {}) });
      } catch (e) {
        if ((e as Error)?.name === 'AbortError') await send('cancelled', { id: job.id });
        else {
          log(`job ${job.id} failed: ${(e as Error)?.stack ?? e}`);
          await send('error', { id: job.id, message: (e as Error)?.message ?? String(e) });
        }
      }
    }, async (e) => { log(`stream error: ${e}`); });
  });

  app.get('/api/jobs/:id', (c) => {
    const job = o.queue.get(c.req.param('id'));
    return job ? c.json({ id: job.id, state: job.state }) : fail(c, 404, `no job ${c.req.param('id')}`);
  });
  const cancel = (c: Context) => {
    const id = c.req.param('id') ?? '';
    if (o.queue.cancel(id)) return c.json({ id, cancelled: true });
    const job = o.queue.get(id);
    return job ? c.json({ id, cancelled: false, state: job.state }) : fail(c, 404, `no job ${id}`);
  };
  app.post('/api/jobs/:id/cancel', cancel);
  app.delete('/api/jobs/:id', cancel);

  app.all('/api/*', (c) => fail(c, 404, `no route ${c.req.method} ${c.req.path}`));
  app.all('/v1/*', (c) => fail(c, 404, `no route ${c.req.method} ${c.req.path}`));

  if (o.modelFiles) {
    const prefix = `/models/${encodeURIComponent(o.model.id)}/`;
    app.get(`${prefix}*`, (c) => o.modelFiles!.respond(c, c.req.path.slice(prefix.length - 1)));
  }
  if (o.web) app.get('*', (c) => o.web!.respond(c, c.req.path));
  app.notFound((c) => fail(c, 404, `no route ${c.req.method} ${c.req.path}`));
  app.onError((e, c) => onError(c, e));
  return app;
}
