// `hart queue status`: where a distributed run stands — job counts (waiting, running, made, parked),
// throughput over the last minute, ETA, each worker (made, rate, current job, last heartbeat) and
// the parked jobs with their errors. --watch redraws with a progress bar until the queue is drained.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { checkQueueName, connected, parseRedisUrl, redisClient, type RedisTarget } from './connection.node.ts';
import { LOST_AFTER_MS, workersKey, type WorkerBeat } from './keys.ts';
import { UserError } from '../pipeline/default-model.node.ts';

export interface QueueStatus {
  queue: string;
  redis: string;
  counts: { waiting: number; active: number; completed: number; failed: number; delayed: number; prioritized: number };
  /** Images per second over the last minute (or since the first image, if sooner). */
  rate: number;
  /** Seconds until the waiting and running jobs are made at that rate; null when nothing is being made. */
  eta: number | null;
  workers: (WorkerBeat & { status: 'running' | 'draining' | 'stopped' | 'lost'; ageSeconds: number })[];
  parked: { id: string; error: string; attempts: number; prompt?: string; seed?: number }[];
}

export async function queueStatus(client: Redis, queueName: string, display: string, o: { parked?: number } = {}): Promise<QueueStatus> {
  const q = new Queue(queueName, { connection: client });
  try {
    const c = await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    const counts = {
      waiting: c.waiting ?? 0, active: c.active ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0,
      delayed: c.delayed ?? 0, prioritized: c.prioritized ?? 0,
    };
    const now = Date.now();
    const completedKey = q.toKey('completed');
    const recent = await client.zcount(completedKey, String(now - 60_000), '+inf');
    // the first image's time (RESP2 answers [member, score], RESP3 [[member, score]])
    const first = (await client.call('ZRANGE', completedKey, '0', '0', 'WITHSCORES')) as unknown[];
    const firstAt = first.length ? Number(Array.isArray(first[0]) ? first[0][1] : first[1]) : NaN;
    const window = Number.isFinite(firstAt) ? Math.min(60, Math.max(1, (now - firstAt) / 1000)) : 60;
    const rate = recent / window;
    const remaining = counts.waiting + counts.active + counts.delayed + counts.prioritized;
    const eta = remaining === 0 ? 0 : rate > 0 ? remaining / rate : null;
    const beats = await client.hgetall(workersKey(queueName));
    const workers: QueueStatus['workers'] = [];
    for (const [id, v] of Object.entries(beats)) {
      let b: WorkerBeat;
      try { b = JSON.parse(v); } catch { continue; }
      const age = now - b.lastSeen;
      const status = b.state === 'stopped' ? 'stopped' : age > LOST_AFTER_MS ? 'lost' : b.state;
      if (status !== 'running' && status !== 'draining' && age > 3600_000) { await client.hdel(workersKey(queueName), id); continue; }
      workers.push({ ...b, status, ageSeconds: Math.round(age / 100) / 10 });
    }
    workers.sort((a, b) => a.id.localeCompare(b.id));
    const failed = await q.getFailed(0, (o.parked ?? 10) - 1);
    const parked = failed.filter(Boolean).map((j) => ({
      id: j.id ?? '?', error: j.failedReason ?? '', attempts: j.attemptsMade,
      prompt: typeof j.data?.prompt === 'string' ? j.data.prompt.slice(0, 80) : undefined,
      seed: typeof j.data?.seed === 'number' ? j.data.seed : undefined,
    }));
    return { queue: queueName, redis: display, counts, rate, eta, workers, parked };
  } finally {
    await q.close();
  }
}

const fmtSeconds = (s: number) => s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86400).toFixed(1)} days`;

export function formatStatus(s: QueueStatus, width = 30): string {
  const c = s.counts;
  const total = c.completed + c.waiting + c.active + c.delayed + c.prioritized;
  const f = total ? c.completed / total : 1;
  const n = Math.round(f * width);
  const lines = [
    `queue    ${s.queue} on ${s.redis}`,
    `images   [${'#'.repeat(n)}${'.'.repeat(width - n)}] ${c.completed}/${total} made · ${c.active} running · ${c.waiting + c.prioritized} waiting${c.delayed ? ` · ${c.delayed} to retry` : ''} · ${c.failed} parked`,
    `rate     ${s.rate.toFixed(2)} images/s (last minute) · ETA ${s.eta === null ? '— (no worker is making images)' : fmtSeconds(s.eta)}`,
  ];
  const live = s.workers.filter((w) => w.status === 'running' || w.status === 'draining').length;
  lines.push(`workers  ${live} live${s.workers.length > live ? `, ${s.workers.length - live} stopped or lost` : ''}`);
  for (const w of s.workers) {
    lines.push(`  ${w.id.padEnd(28)} ${w.status.padEnd(8)} ${String(w.done).padStart(6)} made  ${w.rate.toFixed(2)}/s  ${w.failed} parked${w.current.length ? `  now ${w.current.join(', ')}` : ''}${w.status === 'lost' ? `  (silent ${fmtSeconds(w.ageSeconds)})` : ''}`);
  }
  if (s.parked.length) {
    lines.push(`parked   ${c.failed} job(s)${c.failed > s.parked.length ? `, the last ${s.parked.length}` : ''}:`);
    for (const p of s.parked) lines.push(`  ${p.id}  ${p.error.split('\n')[0]}${p.prompt !== undefined ? `  (prompt ${JSON.stringify(p.prompt)}, seed ${p.seed})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface StatusCliOptions { redis?: string; queue?: string; json?: boolean; watch?: boolean; interval?: string; parked?: string }

export async function statusCommand(o: StatusCliOptions, signal: AbortSignal): Promise<void> {
  const target: RedisTarget = parseRedisUrl(o.redis);
  const queue = checkQueueName(o.queue);
  const interval = o.interval === undefined ? 1 : Number(o.interval);
  if (!(interval >= 0.1 && interval <= 3600)) throw new UserError(`--interval must be seconds in [0.1, 3600], got ${JSON.stringify(o.interval)}`);
  const parkedN = o.parked === undefined ? 10 : Number(o.parked);
  if (!Number.isInteger(parkedN) || parkedN < 1 || parkedN > 1000) throw new UserError(`--parked must be an integer in [1, 1000], got ${JSON.stringify(o.parked)}`);
  const client = redisClient(target, { failFast: !o.watch });
  await connected(client, target).catch((e) => { client.disconnect(); throw e; });
  try {
    const tty = process.stdout.isTTY && !o.json;
    let drawn = 0;
    for (;;) {
      const s = await queueStatus(client, queue, target.display, { parked: parkedN });
      if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
      else {
        const text = formatStatus(s);
        if (tty && drawn) process.stdout.write(`\x1b[${drawn}F\x1b[0J`);
        process.stdout.write(text);
        drawn = text.split('\n').length - 1;
      }
      const remaining = s.counts.waiting + s.counts.active + s.counts.delayed + s.counts.prioritized;
      if (!o.watch || remaining === 0 || signal.aborted) return;
      await new Promise<void>((ok) => {
        const t = setTimeout(ok, interval * 1000);
        signal.addEventListener('abort', () => { clearTimeout(t); ok(); }, { once: true });
      });
      if (signal.aborted) return;
    }
  } finally {
    client.disconnect();
  }
}
