// `hart bench queue`: what the BullMQ queue costs. In one run, on one machine:
//  - generate: the model loaded once, N images made one after another exactly as `hart generate`
//    makes each (pipeline call, PNG with metadata, atomic write): the baseline;
//  - queue ×1: the same N images as jobs through Redis to one worker on the same loaded pipeline
//    (enqueue, take, generate, write, manifest line, complete): the queue overhead per image;
//  - queue ×2: two `hart worker` processes (warmed up first), N images;
//  - Redis per job (server-side INFO deltas over the ×1 run): commands, bytes in/out, Redis CPU, memory
//    kept per finished job; and the no-op rate: jobs/s through one worker whose "generation" is free,
//    i.e. the queue's own ceiling per worker.
// Ratios against the baseline measured in the same run (machines here are shared and noisy).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { HartPipeline } from '../src/pipeline/hart-pipeline.ts';
import { resolveModel } from '../src/pipeline/default-model.node.ts';
import { atomicWriteFile } from '../src/io/files.node.ts';
import { pipelineRenderer, startImageWorker, type Renderer } from '../src/queue/worker.node.ts';
import { jobId } from '../src/queue/enqueue.node.ts';
import { PAYLOAD_VERSION, jobFileName, type JobPayload } from '../src/queue/job.ts';
import { parseRedisUrl } from '../src/queue/connection.node.ts';
import { startRedis } from '../test/queue/redis-server.ts';

const BIN = resolve(fileURLToPath(new URL('../bin/hart.mjs', import.meta.url)));

export interface BenchQueueOptions { json?: boolean; model?: string; images?: string; threads?: string }

async function info(r: Redis): Promise<Record<string, number>> {
  const text = await r.info();
  const o: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    const m = /^(\w+):([\d.]+)$/.exec(line);
    if (m) o[m[1]] = Number(m[2]);
  }
  return o;
}

async function waitCompleted(q: Queue, n: number, timeoutMs = 1800_000): Promise<void> {
  const t0 = Date.now();
  while ((await q.getJobCounts('completed')).completed < n) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`bench queue: ${n} jobs not completed in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchQueue(o: BenchQueueOptions): Promise<void> {
  const N = Number(o.images ?? 16);
  const threads = o.threads === undefined ? undefined : Number(o.threads);
  const say = (s: string) => { if (!o.json) process.stderr.write(`${s}\n`); };
  const model = await resolveModel(o.model);
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  const target = parseRedisUrl(redis.url);
  const dir = mkdtempSync(join(tmpdir(), 'hart-bench-queue-'));
  const prompts = ['a red circle above a blue square', 'a green triangle', 'a yellow star left of a purple heart', 'two blue squares'];
  const payloads = (queueOut: string, from: number): JobPayload[] => Array.from({ length: N }, (_, i) => ({
    v: PAYLOAD_VERSION, prompt: prompts[i % prompts.length], seed: from + i, model: model.name, out: queueOut, deliver: 'file',
  }));
  const enqueue = async (q: Queue, ps: JobPayload[]) => {
    await q.addBulk(ps.map((data) => ({ name: 'image', data, opts: { jobId: jobId(data), attempts: 3, removeOnComplete: false, removeOnFail: false } })));
  };
  const children: ChildProcess[] = [];
  const runtime = nodeRuntime({ threads });
  try {
    const pipe = await HartPipeline.fromPretrained(model.files, { runtime, textEncoder: () => model.textEncoder(runtime), keepTextEncoder: true });
    const render = pipelineRenderer(pipe, model.name);
    const res = pipe.model.tokenizer.downsample * pipe.model.transformer.dims.patchNums.at(-1)!;
    say(`bench queue: ${model.name} at ${res} px, ${N} images per measurement`);
    await render({ prompt: 'warm up', seed: 0 }); // session creation

    // baseline and queue ×1 in alternating rounds (the machine's load drifts): hart generate's
    // per-image work with the model loaded, then the same work behind an in-process worker
    const rounds = Math.max(1, Math.min(4, Math.floor(N / 4)));
    const per = Math.ceil(N / rounds);
    const { mkdir } = await import('node:fs/promises');
    const q1 = new Queue('bench1', { connection: admin });
    let completed = 0;
    const w1 = await startImageWorker({ target, queue: 'bench1', render, model: model.name });
    w1.worker.on('completed', () => { completed++; });
    const done = (n: number) => new Promise<void>((ok) => {
      const check = () => (completed >= n ? ok() : setTimeout(check, 5));
      check();
    });
    await enqueue(q1, payloads(join(dir, 'warm'), 0).slice(0, 1));
    await done(1);
    let generateS = 0, queue1S = 0;
    const baseDir = join(dir, 'generate');
    await mkdir(baseDir, { recursive: true });
    const all = payloads(baseDir, 1000);
    let redisAcc = { commands: 0, bytesIn: 0, bytesOut: 0, cpu: 0, mem: 0 };
    for (let r = 0; r < rounds; r++) {
      const part = all.slice(r * per, (r + 1) * per);
      let t0 = performance.now();
      for (const [i, p] of part.entries()) {
        const out = await render({ prompt: p.prompt, seed: p.seed });
        await atomicWriteFile(join(baseDir, `${r * per + i}.png`), out.png);
      }
      generateS += (performance.now() - t0) / 1000;
      const before = await info(admin);
      const target1 = completed + part.length;
      t0 = performance.now();
      await enqueue(q1, part.map((p) => ({ ...p, out: join(dir, 'q1') })));
      await done(target1);
      queue1S += (performance.now() - t0) / 1000;
      const after = await info(admin);
      const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      redisAcc = {
        commands: redisAcc.commands + d('total_commands_processed') - 1, // less our own INFO
        bytesIn: redisAcc.bytesIn + d('total_net_input_bytes'), bytesOut: redisAcc.bytesOut + d('total_net_output_bytes'),
        cpu: redisAcc.cpu + d('used_cpu_user') + d('used_cpu_sys'), mem: redisAcc.mem + d('used_memory'),
      };
      say(`round ${r + 1}/${rounds}: generate ${generateS.toFixed(1)} s, queue x1 ${queue1S.toFixed(1)} s so far`);
    }
    await w1.close();
    say(`generate  ${(N / generateS).toFixed(3)} images/s`);
    say(`queue x1  ${(N / queue1S).toFixed(3)} images/s`);
    const redisPerJob = {
      commands: redisAcc.commands / N, bytesIn: redisAcc.bytesIn / N, bytesOut: redisAcc.bytesOut / N,
      cpuMs: 1000 * redisAcc.cpu / N, memoryBytes: redisAcc.mem / N,
    };

    // the queue's own ceiling: a free "generation", one job at a time and 8 at a time
    const png = (await render({ prompt: 'noop', seed: 1 })).png;
    const noop: Renderer = async () => ({ png, settings: {}, seed: 1 });
    const M = 200;
    const noopRun = async (concurrency: number) => {
      const name = `noop${concurrency}`;
      const qn = new Queue(name, { connection: admin });
      let n = 0;
      const wn = await startImageWorker({ target, queue: name, render: noop, model: model.name, concurrency });
      wn.worker.on('completed', () => { n++; });
      const b = await info(admin);
      const t0 = performance.now();
      await qn.addBulk(Array.from({ length: M }, (_, i) => {
        const data: JobPayload = { v: PAYLOAD_VERSION, prompt: 'noop', seed: i, model: model.name, out: join(dir, name), deliver: 'file' };
        return { name: 'image', data, opts: { jobId: jobId(data), removeOnComplete: false } };
      }));
      await new Promise<void>((ok) => { const c = () => (n >= M ? ok() : setTimeout(c, 5)); c(); });
      const secs = (performance.now() - t0) / 1000;
      const a = await info(admin);
      await wn.close();
      await qn.close();
      return { concurrency, jobsPerSecond: M / secs, msPerJob: 1000 * secs / M, redisCpuMsPerJob: 1000 * ((a.used_cpu_user - b.used_cpu_user) + (a.used_cpu_sys - b.used_cpu_sys)) / M };
    };
    await mkdir(join(dir, 'writes'), { recursive: true });
    const tw = performance.now();
    for (let i = 0; i < M; i++) await atomicWriteFile(join(dir, 'writes', `${i}.png`), png);
    const writeMs = (performance.now() - tw) / M;
    const noop1 = await noopRun(1);
    const noop8 = await noopRun(8);
    say(`no-op     ${noop1.jobsPerSecond.toFixed(1)} jobs/s one at a time (${noop1.msPerJob.toFixed(2)} ms/job, of which ${writeMs.toFixed(2)} ms the atomic PNG write), ${noop8.jobsPerSecond.toFixed(1)} jobs/s 8 at a time; Redis CPU ${noop8.redisCpuMsPerJob.toFixed(3)} ms/job`);
    await pipe.dispose();

    // queue ×2: two worker processes, warmed up on one job each
    const q2 = new Queue('bench2', { connection: admin });
    const workerThreads = String(threads ?? 1);
    for (let k = 0; k < 2; k++) {
      const c = spawn(process.execPath, [BIN, 'worker', '--redis', redis.url, '--queue', 'bench2', '--threads', workerThreads, '-q', ...(o.model ? ['--model', o.model] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr!.on('data', (x) => { if (!o.json) process.stderr.write(`[worker ${k}] ${x}`); });
      children.push(c);
    }
    await enqueue(q2, payloads(join(dir, 'warm2'), 0).slice(0, 1).concat(payloads(join(dir, 'warm2'), 500).slice(0, 1)));
    await waitCompleted(q2, 2);
    const t0 = performance.now();
    await enqueue(q2, payloads(join(dir, 'q2'), 1000));
    await waitCompleted(q2, N + 2);
    const queue2S = (performance.now() - t0) / 1000;
    say(`queue x2  ${(N / queue2S).toFixed(3)} images/s (2 processes, ${workerThreads} thread(s) each)`);
    const { readFile } = await import('node:fs/promises');
    let same = true; // every queued image has the baseline's bytes
    for (const [i, p] of all.entries()) same &&= Buffer.compare(await readFile(join(baseDir, `${i}.png`)), await readFile(join(dir, 'q1', jobFileName(jobId(p))))) === 0;

    const result = {
      model: model.name, resolution: res, images: N, threads: threads ?? null,
      generate: { imagesPerSecond: N / generateS, secondsPerImage: generateS / N },
      queue1: { imagesPerSecond: N / queue1S, secondsPerImage: queue1S / N, overheadPercent: 100 * (queue1S - generateS) / generateS, sameBytes: same, rounds },
      queue2: { imagesPerSecond: N / queue2S, secondsPerImage: queue2S / N, speedup: generateS / queue2S, threadsPerWorker: Number(workerThreads) },
      redisPerJob,
      noop: [noop1, noop8],
      atomicWriteMs: writeMs,
      queueMsPerJob: noop1.msPerJob - writeMs,
    };
    say(`overhead per image through the queue: ${result.queue1.overheadPercent.toFixed(1)}%; Redis per job: ${redisPerJob.commands.toFixed(1)} commands, ${Math.round(redisPerJob.bytesIn)} B in, ${Math.round(redisPerJob.bytesOut)} B out, ${redisPerJob.cpuMs.toFixed(3)} ms CPU, ${Math.round(redisPerJob.memoryBytes)} B kept`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    await q1.close(); await q2.close();
  } finally {
    for (const c of children) c.kill('SIGKILL');
    admin.disconnect();
    await redis.stop();
    await runtime.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
