// What HART.js keeps in Redis beside BullMQ's own keys (bull:<queue>:*): a hash of worker
// heartbeats, hart:<queue>:workers (field = worker id, value = WorkerBeat JSON), read by
// `hart queue status`. Browser-safe.

export const workersKey = (queue: string): string => `hart:${queue}:workers`;

/** A worker's heartbeat (every 5 s and after each job). */
export interface WorkerBeat {
  id: string;
  host: string;
  pid: number;
  model: string;
  concurrency: number;
  state: 'running' | 'draining' | 'stopped';
  started: number;
  lastSeen: number;
  /** Images made, jobs found already recorded, jobs parked. */
  done: number;
  skipped: number;
  failed: number;
  busySeconds: number;
  /** Images per second over the last minute. */
  rate: number;
  current: string[];
}

/** A heartbeat older than this marks its worker lost (killed, or cut off from Redis). */
export const LOST_AFTER_MS = 20_000;
