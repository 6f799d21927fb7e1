// hart enqueue / hart worker / hart queue status end to end, through the real binary, on a real
// redis-server (test/queue/redis-server.ts), with the embedded default model (64 px): 40 jobs, 2
// worker processes, one killed with SIGKILL
// while it makes an image, Redis restarted mid-run → all 40 PNGs exist exactly once (one manifest
// line each, no temp files) and are byte-for-byte the PNGs `hart generate` writes for the same
// prompts and seeds (metadata included); resubmitting adds nothing; poisoned jobs (a bad field, a
// foreign model, a path-like id) are parked with their errors; Ctrl-C drains (the running job
// finishes, the rest wait); a `hart serve --redis` front end gets the same bytes through the queue.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from './redis-server.ts';
import { enqueueCommand, jobId } from '../../src/queue/enqueue.node.ts';
import { queueStatus } from '../../src/queue/status.node.ts';
import { redisBackend } from '../../src/queue/serve-backend.node.ts';
import { generateCommand } from '../../src/cli/generate.node.ts';

const BIN = resolve(fileURLToPath(new URL('../../bin/hart.mjs', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'hart-queue-'));
const QUEUE = 't';
const PROMPTS = ['a red circle above a blue square', 'ein grünes Dreieck 猫'];
/** The words of PROMPTS[1] the embedded model's caption vocabulary lacks (lower-cased as it reads them). */
const MISSING_1 = ['ein', 'grünes', 'dreieck', '猫'];
const SEEDS = 20;

function hart(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: `${r.stderr}${r.error ? ` (${r.error.message})` : ''}${r.signal ? ` (signal ${r.signal})` : ''} status ${r.status}` };
}

interface Proc { child: ChildProcess; log: string; exit: Promise<number | null> }
function spawnHart(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir });
  const p: Proc = { child, log: '', exit: new Promise((ok) => child.once('exit', (code) => ok(code))) };
  child.stderr!.on('data', (d) => { p.log += d; });
  child.stdout!.on('data', (d) => { p.log += d; });
  return p;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${procs.map((p, i) => `--- worker ${i} (exit ${p.child.exitCode}):\n${p.log.slice(-3000)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Jobs a worker log shows started and not yet done or failed. */
function running(log: string): string[] {
  const open = new Set<string>();
  for (const m of log.matchAll(/^hart worker: (j[0-9a-f]{24}): (started|done|already|parked|failed)/gm)) {
    if (m[2] === 'started') open.add(m[1]); else open.delete(m[1]);
  }
  return [...open];
}

let redis: TestRedis | undefined;
let conn: Redis | undefined;
const procs: Proc[] = [];
after(async () => {
  conn?.disconnect();
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('2 workers, 40 jobs, one kill -9 and a Redis restart: every image once, bitwise = hart generate; duplicates add nothing; poison is parked; Ctrl-C drains', { timeout: 900_000 }, async () => {
  redis = await startRedis();
  const out = join(dir, 'out');
  const promptsFile = join(dir, 'prompts.txt');
  writeFileSync(promptsFile, `${PROMPTS.join('\n')}\n`);
  const common = ['--redis', redis.url, '--queue', QUEUE];
  // the workers start first (loading takes longest); they wait for jobs
  const worker = () => spawnHart(['worker', ...common, '--stall-timeout', '5', '--threads', '1']);
  const a = worker(), b = worker();
  procs.push(a, b);

  // submit, twice: the second adds nothing (the second through the same code in this process)
  let r = hart(['enqueue', promptsFile, ...common, '--out', out, '--seeds', `1-${SEEDS}`, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ...JSON.parse(r.stdout), jobs: 40, added: 40, existing: 0 });
  const again = await enqueueCommand(promptsFile, { redis: redis.url, queue: QUEUE, out, seeds: `1-${SEEDS}`, moreSmooth: true, quiet: true });
  assert.deepEqual([again.jobs, again.added, again.existing], [40, 0, 40]);

  // poisoned jobs, written straight into Redis as a hostile or buggy producer could
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {}); // reconnects across the restart below
  const q = new Queue(QUEUE, { connection: conn });
  q.on('error', () => {}); // (the Redis restart)
  const base = { v: 1, prompt: 'x', seed: 1, model: 'hart-js-default', out };
  await q.add('image', { ...base, cfg: 'abc' }, { jobId: 'jbad000000000000000000001', attempts: 3 });
  await q.add('image', { ...base, model: 'someone-else' }, { jobId: 'jbad000000000000000000002', attempts: 3 });
  await q.add('image', base, { jobId: '..-..-etc-passwd', attempts: 3 });
  const c0 = await q.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  assert.equal(Object.values(c0).reduce((x, y) => x + y, 0), 43);
  const counts = () => q.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed');

  // kill -9 worker a while it is making an image
  // (freeze it first and ask Redis: a job it logged as started may already be complete, its
  // 'done' line not yet written; only a job still active in Redis must be redone by b)
  let killedJob: string | undefined;
  await until('worker a to be frozen while making its 3rd image or later', async () => {
    if ((a.log.match(/: done in/g)?.length ?? 0) < 2 || running(a.log).length === 0) return false;
    a.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 300)); // let its last log lines arrive
    for (const id of running(a.log)) if (await q.getJobState(id) === 'active') killedJob = id;
    if (!killedJob) a.child.kill('SIGCONT');
    return killedJob !== undefined;
  }, 400_000);
  a.child.kill('SIGKILL');
  assert.equal(await a.exit, null);

  // restart Redis mid-run
  await until('10 images', async () => (await counts()).completed >= 10, 300_000);
  await redis.restart();
  await until('all 40 images and 3 parked jobs', async () => { const c = await counts(); return c.completed === 40 && c.failed === 3; }, 300_000);
  // (a may have written the PNG and manifest line before it froze: then b only records it)
  assert.match(b.log, new RegExp(`${killedJob}: (done in|already recorded)`), 'worker b did not redo the killed job');

  // status: counts, the parked jobs with their errors, the workers
  const s = await queueStatus(conn, QUEUE, 'test');
  assert.equal(s.counts.completed, 40);
  assert.equal(s.counts.failed, 3);
  assert.ok(s.rate > 0);
  const parked = Object.fromEntries(s.parked.map((p: { id: string; error: string }) => [p.id, p.error]));
  assert.match(parked.jbad000000000000000000001, /bad job payload: cfg must be a number in \[0, 50\], got "abc"/);
  assert.match(parked.jbad000000000000000000002, /for model "someone-else"; this worker serves "hart-js-default"/);
  assert.match(parked['..-..-etc-passwd'], /is not a hart job id/);
  assert.equal(s.workers.length, 2);
  assert.equal(s.workers.reduce((n: number, w: { done: number; skipped: number }) => n + w.done + w.skipped, 0), 40);
  r = hart(['queue', 'status', ...common]);
  assert.match(r.stdout, /\[#+\] 40\/40 made · 0 running · 0 waiting · 3 parked/);

  // exactly once: 40 PNGs, no temp file, 40 manifest lines, each the hash of its prompt/seed/model
  const files = readdirSync(out).sort();
  const ids = PROMPTS.flatMap((prompt) => Array.from({ length: SEEDS }, (_, k) => jobId({ prompt, seed: k + 1, model: 'hart-js-default' })));
  assert.deepEqual(files, [...ids.map((id) => `${id}.png`), 'manifest.jsonl'].sort());
  const lines = readFileSync(join(out, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 40);
  assert.deepEqual(lines.map((l) => l.id).sort(), [...ids].sort());
  for (const l of lines) {
    assert.equal(l.file, `${l.id}.png`);
    assert.equal(typeof l.settings.cfg, 'number');
    assert.ok(l.seconds > 0);
    assert.deepEqual(l.missing_words, l.prompt === PROMPTS[1] ? MISSING_1 : [], l.prompt);
  }

  // bitwise equal to hart generate (its own code, in this process; image b of a batch = seed 1 + b alone)
  const ref = join(dir, 'ref');
  for (const [i, p] of PROMPTS.entries()) {
    await generateCommand(p.split(' '), { output: join(ref, `p${i}.png`), seed: '1', batch: String(SEEDS), moreSmooth: true, quiet: true, threads: '1' });
  }
  for (const [i, prompt] of PROMPTS.entries()) {
    for (let k = 0; k < SEEDS; k++) {
      const want = readFileSync(join(ref, `p${i}-${k + 1}.png`));
      const got = readFileSync(join(out, `${jobId({ prompt, seed: k + 1, model: 'hart-js-default' })}.png`));
      assert.ok(want.equals(got), `prompt ${i} seed ${k + 1} differs from hart generate`);
    }
  }

  // hart serve --redis: a front end without a worker of its own gets its images from worker b
  // through the queue, the same bytes again
  const backend = await redisBackend({ redis: redis.url, queue: QUEUE, model: 'hart-js-default', concurrency: 0, render: () => Promise.reject(new Error('no local worker')) });
  const served = await backend.generate({ prompt: PROMPTS[1], seed: 5, n: 2 }, { signal: new AbortController().signal });
  assert.deepEqual(served.map((im) => im.seed), [5, 6]);
  for (const im of served) assert.ok(Buffer.from(im.png).equals(readFileSync(join(ref, `p1-${im.seed}.png`))), `served seed ${im.seed} differs`);
  // and the prompt's words the embedded model never read, as hart generate names them
  for (const im of served) assert.deepEqual(im.missingWords, MISSING_1);
  await backend.close();

  // Ctrl-C drains: the running job is finished and recorded, no new one is taken, the rest stay queued
  const before = (await counts()).completed;
  const more = await enqueueCommand(promptsFile, { redis: redis.url, queue: QUEUE, out, seeds: '21-23', moreSmooth: true, quiet: true });
  assert.equal(more.added, 6);
  await until('worker b to start a new job', () => running(b.log).length > 0, 60_000);
  b.child.kill('SIGINT');
  assert.equal(await b.exit, 0, b.log);
  const tail = b.log.slice(b.log.indexOf('draining: finishing'));
  const finishing = Number(/draining: finishing (\d+) running job/.exec(tail)?.[1]);
  assert.ok(finishing <= 1, tail);
  assert.equal(tail.match(/: started/g)?.length ?? 0, 0, tail);
  assert.equal(tail.match(/: done in/g)?.length ?? 0, finishing, tail);
  const c = await counts();
  assert.equal(c.active, 0);
  assert.ok(c.waiting >= 1);
  assert.equal(c.completed + c.waiting, before + 6);
  assert.equal(readFileSync(join(out, 'manifest.jsonl'), 'utf8').trim().split('\n').length, 40 + c.completed - before);
  await q.close();
});
