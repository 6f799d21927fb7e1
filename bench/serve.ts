// `hart bench serve`: `hart serve` (a child process, the default model) under N concurrent clients
// on loopback, bounded in requests and seconds. Phase 1: clients ≤ the queue bound (concurrency +
// queue) → p50/p95 latency, throughput, and errors that must be 0. Phase 2: more clients than the
// bound → every refusal must be a 429. RSS of the server before and after (no growth beyond noise).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Opts { json?: boolean; model?: string; clients?: string; requests?: string; concurrency?: string; queue?: string; seconds?: string }

const BIN = fileURLToPath(new URL('../bin/hart.mjs', import.meta.url));
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };

async function phase(base: string, clients: number, requests: number, seconds: number) {
  const lat: number[] = [];
  const status = new Map<number, number>();
  let sent = 0, failed = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    while (sent < requests && performance.now() < deadline) {
      const i = sent++;
      const s = performance.now();
      try {
        const r = await fetch(`${base}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `bench ${c} ${i}`, seed: i }) });
        await r.arrayBuffer();
        status.set(r.status, (status.get(r.status) ?? 0) + 1);
        if (r.status === 200) lat.push(performance.now() - s);
        else if (r.status === 429) await new Promise((ok) => setTimeout(ok, 20));
      } catch {
        failed++;
      }
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const ok = status.get(200) ?? 0;
  const other = [...status].filter(([k]) => k !== 200 && k !== 429).reduce((a, [, v]) => a + v, 0) + failed;
  return { clients, requests: sent, seconds: +secs.toFixed(2), ok, rejected_429: status.get(429) ?? 0, errors: other, p50_ms: +pct(lat, 0.5).toFixed(1), p95_ms: +pct(lat, 0.95).toFixed(1), images_per_s: +(ok / secs).toFixed(2) };
}

export async function benchServe(o: Opts): Promise<void> {
  const concurrency = Number(o.concurrency ?? 1), queue = Number(o.queue ?? 8);
  const clients = Number(o.clients ?? 4), requests = Number(o.requests ?? 500), seconds = Number(o.seconds ?? 120);
  for (const [k, v] of Object.entries({ concurrency, queue, clients, requests, seconds })) if (!Number.isInteger(v) || v < (k === 'queue' ? 0 : 1)) throw new Error(`--${k} must be a positive integer`);
  const args = [BIN, 'serve', '--port', '0', '--concurrency', String(concurrency), '--queue', String(queue), '-q', ...(o.model ? ['--model', o.model] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const base = await new Promise<string>((ok, fail) => {
      let out = '';
      child.stdout!.on('data', (b) => { out += b; const m = /on (http:\/\/[^ \n]+)/.exec(out); if (m) ok(m[1]); });
      child.on('exit', (c) => fail(new Error(`hart serve exited (${c})`)));
    });
    // warm up (first-session compile), then RSS before
    await phase(base, 1, 3, seconds);
    const rss0 = rssMiB(child.pid!);
    const bound = concurrency + queue;
    const below = await phase(base, Math.min(clients, bound), requests, seconds / 2);
    const above = await phase(base, bound + Math.max(clients, 4), Math.max(50, Math.min(requests, 100)), Math.min(30, seconds / 2));
    const rss1 = rssMiB(child.pid!);
    const result = {
      bench: 'serve', concurrency, queue,
      below_bound: below, above_bound: above,
      rss_before_MiB: +rss0.toFixed(1), rss_after_MiB: +rss1.toFixed(1), rss_growth_MiB: +(rss1 - rss0).toFixed(1),
      requests_total: below.requests + above.requests,
      checks: { no_errors_below_bound: below.errors === 0 && below.rejected_429 === 0, only_429_above_bound: above.errors === 0 },
    };
    if (!o.json) {
      process.stderr.write(`below the bound (${below.clients} clients): ${below.ok} images, p50 ${below.p50_ms} ms, p95 ${below.p95_ms} ms, ${below.images_per_s}/s, errors ${below.errors}, 429 ${below.rejected_429}\n`);
      process.stderr.write(`above the bound (${above.clients} clients): ${above.ok} images, 429 ${above.rejected_429}, other errors ${above.errors}\n`);
      process.stderr.write(`server RSS ${result.rss_before_MiB} → ${result.rss_after_MiB} MiB\n`);
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    child.kill('SIGINT');
  }
}
