// `hart serve --redis <url>`: the server's generations go through the same BullMQ queue as
// `hart enqueue`, so several servers and `hart worker`s share one load. Each image of a request
// (seed, seed + 1, …: image b of a batch equals seed + b alone) is one job delivered back as PNG
// bytes in the job's result (kept 10 minutes), awaited through BullMQ's queue events. The server also
// runs an in-process worker on its loaded model (--concurrency jobs at once; 0: only a front end).
// Previews are not streamed through the queue (the image arrives whole).
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { GenerationRequest } from '../api/request.ts';
import { PAYLOAD_VERSION, jobSettings, type JobPayload } from './job.ts';
import { checkQueueName, connected, parseRedisUrl, redisClient } from './connection.node.ts';
import { startImageWorker, type ImageWorker, type Renderer } from './worker.node.ts';

export interface RedisBackendOptions {
  redis: string;
  queue?: string;
  /** The model id of the jobs (this server's model). */
  model: string;
  render: Renderer;
  /** Jobs this server's own worker runs at once (0: none). */
  concurrency: number;
  /** Give up on a job after this long (ms). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface RedisBackend {
  generate(req: GenerationRequest, o: { signal: AbortSignal }): Promise<{ png: Uint8Array; seed: number; missingWords?: string[] }[]>;
  close(): Promise<void>;
  display: string;
}

export async function redisBackend(o: RedisBackendOptions): Promise<RedisBackend> {
  const target = parseRedisUrl(o.redis);
  const queueName = checkQueueName(o.queue);
  const client = redisClient(target, { name: 'hart-serve' });
  await connected(client, target).catch((e) => { client.disconnect(); throw e; });
  const queue = new Queue(queueName, { connection: client });
  const eventsClient = redisClient(target, { name: 'hart-serve-events' });
  const events = new QueueEvents(queueName, { connection: eventsClient });
  const onError = (e: Error) => o.log?.(`redis: ${e.message}`); // ioredis reconnects by itself
  queue.on('error', onError);
  events.on('error', onError);
  await events.waitUntilReady();
  let worker: ImageWorker | undefined;
  if (o.concurrency > 0) worker = await startImageWorker({ target, queue: queueName, render: o.render, model: o.model, concurrency: o.concurrency, log: o.log });
  const timeoutMs = o.timeoutMs ?? 3600_000;

  const one = async (req: GenerationRequest, seed: number, signal: AbortSignal) => {
    const data: JobPayload = { v: PAYLOAD_VERSION, prompt: req.prompt, seed, ...jobSettings(req), model: o.model, deliver: 'return' };
    const job = await queue.add('image', data, {
      jobId: `srv-${randomUUID()}`, attempts: 2, backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 600 }, removeOnFail: { age: 3600 },
    });
    const onAbort = () => { void job.remove().catch(() => { /* running: it finishes and expires */ }); };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const rv = await Promise.race([
        job.waitUntilFinished(events, timeoutMs) as Promise<{ png: string; seed: number; missing_words?: unknown }>,
        new Promise<never>((_, fail) => {
          if (signal.aborted) fail(new DOMException('the job was cancelled', 'AbortError'));
          signal.addEventListener('abort', () => fail(new DOMException('the job was cancelled', 'AbortError')), { once: true });
        }),
      ]);
      // missing_words: absent from a worker older than the field
      const missing = Array.isArray(rv.missing_words) ? rv.missing_words.filter((w): w is string => typeof w === 'string') : undefined;
      return { png: new Uint8Array(Buffer.from(rv.png, 'base64')), seed: rv.seed, ...(missing ? { missingWords: missing } : {}) };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };

  return {
    display: `${target.display} queue ${queueName}`,
    generate: (req, g) => Promise.all(Array.from({ length: req.n ?? 1 }, (_, b) => one(req, (req.seed ?? 1) + b, g.signal))),
    async close() {
      await worker?.close();
      await events.close();
      await queue.close();
      eventsClient.disconnect();
      client.disconnect();
    },
  };
}
