// The Redis connection of `hart enqueue / worker / queue status / serve --redis`: a redis:// or
// rediss:// (TLS) URL that may carry a user and password; ioredis reconnects on its own after Redis
// restarts (BullMQ needs maxRetriesPerRequest: null so commands wait for the reconnect instead of
// failing). Passwords never appear in messages (redactUrl).
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { UserError } from '../pipeline/default-model.node.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_QUEUE = 'hart';

/** The URL with its password replaced by ***. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

export interface RedisTarget { url: string; tls: boolean; display: string }

/** Checks a --redis URL (or $HART_REDIS_URL): redis://[user:password@]host[:port][/db] or rediss:// for TLS. */
export function parseRedisUrl(url: string | undefined): RedisTarget {
  const raw = url ?? process.env.HART_REDIS_URL ?? DEFAULT_REDIS_URL;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError(`--redis must be a URL like redis://127.0.0.1:6379 or rediss://:password@host:6380, got ${JSON.stringify(raw.replace(/:[^:@/]*@/, ':***@'))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError(`--redis: ${redactUrl(raw)} is not a redis:// or rediss:// URL`);
  if (!u.hostname) throw new UserError(`--redis: ${redactUrl(raw)} names no host`);
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d{1,2}$/.test(db)) throw new UserError(`--redis: the database in ${redactUrl(raw)} must be a number`);
  return { url: raw, tls: u.protocol === 'rediss:', display: redactUrl(raw) };
}

/** Checks a --queue name: BullMQ joins key parts with ':'. */
export function checkQueueName(name: string | undefined): string {
  const q = name ?? DEFAULT_QUEUE;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(q)) throw new UserError(`--queue must be 1-64 letters, digits, '_', '.', '-', got ${JSON.stringify(q)}`);
  return q;
}

export interface ConnectOptions {
  /** Fail at once when Redis is unreachable (the CLI's one-shot commands) instead of retrying forever (workers). */
  failFast?: boolean;
  /** Connection name (CLIENT LIST), e.g. hart-worker:host:pid. */
  name?: string;
}

/** An ioredis client for BullMQ (it duplicates it for its blocking connection). */
export function redisClient(t: RedisTarget, o: ConnectOptions = {}): Redis {
  const opts: RedisOptions = {
    maxRetriesPerRequest: null,
    connectionName: o.name,
    // reconnect with a capped backoff, forever (a Redis restart must not end a worker)
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    enableReadyCheck: true,
  };
  if (t.tls) {
    // rediss://: TLS with certificate checks; a private CA via $HART_REDIS_CA (a PEM file) or NODE_EXTRA_CA_CERTS
    opts.tls = process.env.HART_REDIS_CA ? { ca: readFileSync(process.env.HART_REDIS_CA) } : {};
  }
  if (o.failFast) {
    opts.maxRetriesPerRequest = 1;
    opts.retryStrategy = (times) => (times > 2 ? null : 200);
  }
  const client = new Redis(t.url, opts);
  client.on('error', () => { /* reported by the commands that fail; reconnects are automatic */ });
  return client;
}

/** Waits for the first connection; a UserError naming the (redacted) URL if Redis cannot be reached. */
export async function connected(client: Redis, t: RedisTarget, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => done(new UserError(`cannot reach Redis at ${t.display} (no answer in ${timeoutMs / 1000} s)`)), timeoutMs);
    const onReady = () => done();
    const onError = (e: Error & { code?: string }) => {
      if (/NOAUTH|WRONGPASS|invalid password/i.test(e.message)) done(new UserError(`Redis at ${t.display} refused the password: ${e.message.split('\n')[0]}`));
      else if (client.status === 'end') done(new UserError(`cannot reach Redis at ${t.display} (${e.code ?? e.message})`));
      else last = e;
    };
    const onEnd = () => done(new UserError(`cannot reach Redis at ${t.display}${last ? ` (${last.code ?? last.message})` : ''}`));
    let last: (Error & { code?: string }) | undefined;
    const done = (e?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady); client.off('error', onError); client.off('end', onEnd);
      if (e) fail(e); else ok();
    };
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('end', onEnd);
  });
}
