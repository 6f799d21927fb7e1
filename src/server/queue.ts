// A bounded job queue: at most `concurrency` jobs run, at most `capacity` wait; a submission beyond
// that is refused (the server answers 429 with Retry-After from the measured job time). Every job
// has an id and an AbortController, so it can be cancelled by id, or by its client going away,
// whether it is waiting (removed) or running (its signal aborts the generation).
import { randomUUID } from 'node:crypto';

export type JobState = 'waiting' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Job<T> {
  id: string;
  state: JobState;
  controller: AbortController;
  result: Promise<T>;
  createdAt: number;
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(readonly retryAfterSeconds: number) { super('the server is busy: too many requests are waiting'); }
}

export class JobQueue {
  private running = 0;
  private waiting: { job: Job<unknown>; start: () => void }[] = [];
  private jobs = new Map<string, Job<unknown>>();
  /** Exponential average of job seconds, for Retry-After. */
  private avgSeconds = 5;

  constructor(readonly concurrency = 1, readonly capacity = 8, private keepFinished = 256) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
    if (!(Number.isInteger(capacity) && capacity >= 0)) throw new RangeError(`queue capacity must be an integer ≥ 0, got ${capacity}`);
  }

  get stats() { return { running: this.running, waiting: this.waiting.length, concurrency: this.concurrency, capacity: this.capacity }; }

  /** Seconds until a slot is likely free. */
  retryAfter(): number {
    return Math.max(1, Math.ceil(this.avgSeconds * (1 + this.waiting.length) / this.concurrency));
  }

  get(id: string): Job<unknown> | undefined { return this.jobs.get(id); }

  /** Queues `run`; throws QueueFullError when `capacity` jobs already wait and every slot is busy. */
  submit<T>(run: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal): Job<T> {
    if (this.running >= this.concurrency && this.waiting.length >= this.capacity) throw new QueueFullError(this.retryAfter());
    const controller = new AbortController();
    let start!: () => void;
    const started = new Promise<void>((r) => { start = r; });
    const job = { id: randomUUID(), state: 'waiting', controller, createdAt: Date.now() } as Job<T>;
    if (parent) {
      if (parent.aborted) controller.abort(parent.reason);
      else parent.addEventListener('abort', () => this.cancel(job.id), { once: true });
    }
    job.result = (async () => {
        await started;
        const t0 = performance.now();
        try {
          if (controller.signal.aborted) throw abortError();
          job.state = 'running';
          const r = await run(controller.signal);
          if (controller.signal.aborted) throw abortError();
          job.state = 'done';
          this.avgSeconds = 0.7 * this.avgSeconds + 0.3 * (performance.now() - t0) / 1000;
          return r;
        } catch (e) {
          job.state = controller.signal.aborted ? 'cancelled' : 'failed';
          throw controller.signal.aborted ? abortError() : e;
        } finally {
          this.running--;
          this.next();
        }
      })();
    job.result.catch(() => {}); // observed by the caller; never an unhandled rejection here
    this.jobs.set(job.id, job as Job<unknown>);
    this.trim();
    this.waiting.push({ job: job as Job<unknown>, start });
    this.next();
    return job;
  }

  /** Cancels a waiting or running job; false if there is no such unfinished job. */
  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job || (job.state !== 'waiting' && job.state !== 'running')) return false;
    job.controller.abort(abortError());
    const i = this.waiting.findIndex((w) => w.job === job);
    if (i >= 0) {
      const [w] = this.waiting.splice(i, 1);
      job.state = 'cancelled';
      w.start(); // runs to its abort check and rejects; it never took a slot
      this.running++;
    }
    return true;
  }

  private next(): void {
    while (this.running < this.concurrency && this.waiting.length) {
      const w = this.waiting.shift()!;
      this.running++;
      w.start();
    }
  }

  private trim(): void {
    if (this.jobs.size <= this.keepFinished) return;
    for (const [id, j] of this.jobs) {
      if (this.jobs.size <= this.keepFinished) break;
      if (j.state !== 'waiting' && j.state !== 'running') this.jobs.delete(id);
    }
  }
}

function abortError(): DOMException {
  return new DOMException('the job was cancelled', 'AbortError');
}
