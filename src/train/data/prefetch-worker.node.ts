// Batch prefetching on a worker thread (Node). onnxruntime-node runs a session synchronously on
// the JS thread (its async run() only defers to setImmediate), so the event-loop Prefetcher of
// stream.ts cannot overlap a training step; this one builds batch t+1 on another thread while
// step t runs. The worker holds its own BatchSource over the same options; emoji pixels are shared
// through a SharedArrayBuffer (copied into one once if needed), batches come back as transferred
// buffers. Batches equal BatchSource.batch(step) exactly.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { BatchSource, type Batch, type BatchSourceOptions } from './stream.ts';

interface WorkerInit { hartBatchWorker: true; options: BatchSourceOptions; tsxApi: string | null; entry: string }
type Request = { step: number };
type Reply = { step: number; batch?: Batch; error?: string };

// Worker bootstrap (CommonJS, eval'd): register tsx when running from TypeScript sources, then
// load this module, which serves requests (below).
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsxApi) (await import(workerData.tsxApi)).register();
  await import(workerData.entry);
})().catch((e) => { throw e; });
`;

if (!isMainThread && (workerData as WorkerInit | undefined)?.hartBatchWorker) {
  const init = workerData as WorkerInit;
  const source = new BatchSource(init.options);
  parentPort!.on('message', ({ step }: Request) => {
    let reply: Reply;
    try {
      reply = { step, batch: source.batch(step) };
    } catch (e) {
      reply = { step, error: e instanceof Error ? e.message : String(e) };
    }
    parentPort!.postMessage(reply, reply.batch ? [reply.batch.images.buffer as ArrayBuffer] : []);
  });
}

/** Where tsx's register API lives, when this module runs from TypeScript sources. */
function tsxApiUrl(): string | null {
  if (!import.meta.url.endsWith('.ts')) return null;
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    throw new Error('the batch worker needs tsx to run the TypeScript sources (npm install)');
  }
}

/**
 * Builds batch step+1 on a worker thread while the caller runs step. `next()` returns the batch of
 * the current step (starting at `startStep`); `close()` ends the worker.
 */
export class WorkerPrefetcher {
  private readonly worker: Worker;
  private step: number;
  private readonly waiting = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>();
  private pending: Promise<Batch> | null = null;
  private failed: Error | null = null;

  constructor(options: BatchSourceOptions, startStep = 0) {
    let emoji = options.emoji;
    if (emoji && !(emoji.pixels.buffer instanceof SharedArrayBuffer)) {
      const shared = new Uint8Array(new SharedArrayBuffer(emoji.pixels.length));
      shared.set(emoji.pixels);
      emoji = { ...emoji, pixels: shared };
    }
    new BatchSource({ ...options, emoji }); // validate here, with the caller's stack
    const init: WorkerInit = { hartBatchWorker: true, options: { ...options, emoji }, tsxApi: tsxApiUrl(), entry: import.meta.url };
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: init });
    this.worker.unref();
    this.step = startStep;
    this.worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.step);
      this.waiting.delete(r.step);
      if (r.error !== undefined) w?.reject(new Error(r.error));
      else w?.resolve(r.batch!);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => { if (this.waiting.size) this.fail(new Error(`batch worker exited (code ${code})`)); });
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  private request(step: number): Promise<Batch> {
    if (this.failed) return Promise.reject(this.failed);
    const p = new Promise<Batch>((resolve, reject) => this.waiting.set(step, { resolve, reject }));
    p.catch(() => {}); // rejections surface through next()
    this.worker.postMessage({ step } satisfies Request);
    return p;
  }

  /** The batch of the next step; begins building the one after it on the worker. */
  async next(): Promise<Batch> {
    const current = this.pending ?? this.request(this.step);
    this.pending = null;
    const batch = await current;
    this.step++;
    this.pending = this.request(this.step);
    return batch;
  }

  async close(): Promise<void> {
    this.pending = null;
    await this.worker.terminate();
  }
}
