// A real redis-server for the queue tests, on a free loopback port, with an append-only file in a
// temp folder (so a restart keeps the queue, as a production Redis with persistence does). Fails
// loudly when redis-server is missing (.ci/run installs Debian's): these tests never skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function redisServerPath(): string {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('redis-server is missing: the queue tests need a real Redis (apt-get install -y redis-server; .ci/run installs it)');
  }
  return 'redis-server';
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => ok(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => { c.end(); done(true); });
      c.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  /** Stops it (SIGTERM: it writes its append-only file) and starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops it for good and removes its folder. */
  stop(): Promise<void>;
}

export async function startRedis(o: { password?: string } = {}): Promise<TestRedis> {
  const bin = redisServerPath();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hart-redis-'));
  let child: ChildProcess | undefined;
  let log = '';
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'];
  if (o.password) args.push('--requirepass', o.password);
  const start = async () => {
    child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { log += d; });
    child.stderr!.on('data', (d) => { log += d; });
    const exited = new Promise<never>((_, fail) => child!.once('exit', (code) => fail(new Error(`redis-server exited (${code}):\n${log.slice(-2000)}`))));
    await Promise.race([waitForPort(port), exited]);
  };
  const halt = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((ok) => { c.removeAllListeners('exit'); c.once('exit', () => ok()); c.kill('SIGTERM'); });
  };
  await start();
  const auth = o.password ? `:${encodeURIComponent(o.password)}@` : '';
  const stop = async () => { await halt(); rmSync(dir, { recursive: true, force: true }); };
  return { port, url: `redis://${auth}127.0.0.1:${port}`, dir, stop, async restart() { await halt(); await start(); } };
}
