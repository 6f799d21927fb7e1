// `hart serve` through the real binary on loopback: every route, with malformed JSON, wrong types,
// unknown fields, oversized bodies, a full queue (429 + Retry-After), cancel by job id, a client
// that disconnects mid-job, cross-origin POSTs, static files that must not escape their folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../../src/io/png.ts';
import { fixtureDir } from '../fixtures.ts';

const BIN = resolve(fileURLToPath(new URL('../../bin/hart.mjs', import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), 'hart-serve-'));
let server: ChildProcess;
let base = '';

before(async () => {
  fixtureDir();
  const web = join(tmp, 'web');
  mkdirSync(web);
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>hart</title>');
  writeFileSync(join(tmp, 'secret.txt'), 'secret');
  symlinkSync(join(tmp, 'secret.txt'), join(web, 'link.txt'));
  // the parity fixture (128 px, its llm/ files), named explicitly: the routes do not depend on the embedded model
  server = spawn(process.execPath, [BIN, 'serve', '--model', fixtureDir(), '--port', '0', '--concurrency', '1', '--queue', '1', '--max-n', '4', '--body-limit', '2048', '--web', web, '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  server.stderr!.on('data', (b) => { err += b; });
  base = await new Promise<string>((ok, fail) => {
    let out = '';
    server.stdout!.on('data', (b) => {
      out += b;
      const m = /on (http:\/\/[^ \n]+)/.exec(out);
      if (m) ok(m[1]);
    });
    server.on('exit', (c) => fail(new Error(`hart serve exited (${c}): ${err}`)));
  });
});
after(async () => {
  if (server && server.exitCode === null) {
    await new Promise((ok) => {
      server.once('exit', ok);
      server.kill('SIGINT');
      setTimeout(() => server.kill('SIGKILL'), 10_000).unref();
    });
  }
  rmSync(tmp, { recursive: true, force: true });
});

const post = (path: string, body: string | object, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(base + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers }, signal });

async function badRequest(path: string, body: string | object, status: number, message: RegExp, param?: string) {
  const r = await post(path, body);
  assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} → ${r.status}`);
  const j = await r.json() as { error: { message: string; type: string; param: string | null } };
  assert.match(j.error.message, message);
  if (param !== undefined) assert.equal(j.error.param, param);
}

/** Reads Server-Sent Events until `until` returns true or the stream ends. */
async function readEvents(res: Response, until: (ev: { event: string; data: any }) => boolean = () => false) {
  const events: { event: string; data: any }[] = [];
  const reader = res.body!.getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += new TextDecoder().decode(value);
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
      events.push({ event, data });
      if (until(events.at(-1)!)) { reader.cancel().catch(() => {}); return events; }
    }
  }
  return events;
}

test('binds 127.0.0.1; GET /health, /api/models, /v1/models; no CORS headers by default', async () => {
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  const h = await fetch(`${base}/health`, { headers: { origin: 'http://example.com' } });
  assert.equal(h.status, 200);
  assert.equal(h.headers.get('access-control-allow-origin'), null);
  assert.deepEqual(await h.json(), { status: 'ok', model: 'hart-parity-tiny', queue: { running: 0, waiting: 0, concurrency: 1, capacity: 1 } });
  const m = await (await fetch(`${base}/api/models`)).json() as { data: { id: string; size: string; files: string }[] };
  assert.equal(m.data[0].id, 'hart-parity-tiny');
  assert.equal(m.data[0].size, '128x128');
  const cfg = await fetch(`${base}${m.data[0].files}llm/config.json`);
  assert.equal(cfg.status, 200);
  assert.equal(((await (await fetch(`${base}/v1/models`)).json()) as { data: unknown[] }).data.length, 1);
  assert.equal((await fetch(`${base}/api/nope`)).status, 404);
});

test('POST /v1/images/generations: b64_json PNGs with metadata; n images with seed + b', async () => {
  const r = await post('/v1/images/generations', { prompt: 'a red circle', n: 2, size: '128x128', response_format: 'b64_json', seed: 5, steps: 4, cfg: 3 });
  assert.equal(r.status, 200);
  const j = await r.json() as { created: number; data: { b64_json: string; seed: number }[] };
  assert.equal(j.data.length, 2);
  assert.deepEqual(j.data.map((d) => d.seed), [5, 6]);
  const png = decodePng(new Uint8Array(Buffer.from(j.data[1].b64_json, 'base64')));
  assert.equal(png.width, 128);
  assert.match(png.text.parameters, /^a red circle\nSteps: 4, Sampler: HART, CFG scale: 3, Seed: 6, Size: 128x128, Model: hart-parity-tiny/);
});

test('malformed JSON, wrong types, unknown fields, bounds, oversized bodies: specific 4xx', async () => {
  const g = '/v1/images/generations';
  await badRequest(g, '{"prompt": "x",', 400, /not valid JSON/);
  await badRequest(g, '', 400, /body is empty/);
  await badRequest(g, '[1]', 400, /must be a JSON object/);
  await badRequest(g, { prompt: 5 }, 400, /^prompt must be a non-empty string/, 'prompt');
  await badRequest(g, { n: 1 }, 400, /^prompt is required$/, 'prompt');
  await badRequest(g, { prompt: 'x', cfg: '4' }, 400, /^cfg must be a number in \[0, 50\], got "4"$/, 'cfg');
  await badRequest(g, { prompt: 'x', n: 'two' }, 400, /^n must be an integer in \[1, 64\], got "two"$/, 'n');
  await badRequest(g, { prompt: 'x', n: 5 }, 400, /^n must be at most 4 on this server/, 'n');
  await badRequest(g, { prompt: 'x', steps: 0 }, 400, /^steps must be an integer in \[1, 1000\]/, 'steps');
  await badRequest(g, { prompt: 'x', seed: -1 }, 400, /^seed must be an integer/, 'seed');
  await badRequest(g, { prompt: 'x', size: '1024x1024' }, 400, /^size must be "128x128"/, 'size');
  await badRequest(g, { prompt: 'x', response_format: 'url' }, 400, /^response_format must be "b64_json"/, 'response_format');
  await badRequest(g, { prompt: 'x', colour: 'red' }, 400, /^unknown field "colour"$/, 'colour');
  await badRequest('/api/generate', { prompt: 'x', previews: 'yes' }, 400, /^previews must be true or false/, 'previews');
  await badRequest(g, { prompt: 'x'.repeat(3000) }, 413, /larger than 2048 bytes/);
  // a web page on another origin cannot make this machine generate
  const x = await post(g, { prompt: 'x' }, { origin: 'http://evil.example' });
  assert.equal(x.status, 403);
});

test('POST /api/generate streams queued, per-scale progress with previews in order, the image, done', async () => {
  const events = await readEvents(await post('/api/generate', { prompt: 'a cat', seed: 2 }));
  const names = events.map((e) => (e.event === 'progress' ? `${e.data.stage}` : e.event));
  assert.deepEqual(names, ['queued', 'scale', 'scale', 'scale', 'scale', 'scale', 'scale', 'diffusion', 'decode', 'done', 'image', 'done']);
  const scales = events.filter((e) => e.data?.stage === 'scale');
  assert.deepEqual(scales.map((e) => e.data.step), [0, 1, 2, 3, 4, 5]);
  const sizes = scales.map((e) => decodePng(new Uint8Array(Buffer.from(e.data.previews[0].split(',')[1], 'base64'))).width);
  assert.deepEqual(sizes, [16, 32, 48, 64, 80, 96]);
  const img = events.find((e) => e.event === 'image')!.data;
  assert.equal(img.seed, 2);
  // the fixture's Qwen2 BPE tokenizer has no whole-word vocabulary: nothing to name
  assert.deepEqual(events.at(-1)!.data.missing_words, []);
  assert.equal(decodePng(new Uint8Array(Buffer.from(img.png, 'base64'))).width, 128);
});

test('a full queue answers 429 with Retry-After; a disconnecting client cancels its job; the waiting one runs', { timeout: 120_000 }, async () => {
  // 1 running + 1 waiting fill this server (--concurrency 1 --queue 1); 1000 diffusion steps keep the first
  // busy (with warm sessions a 100-step job can finish before the third request arrives)
  const c1 = new AbortController();
  const r1 = await post('/api/generate', { prompt: 'one', n: 4, steps: 1000, previews: false }, {}, c1.signal);
  // keep reading the first stream (stopping would be a disconnect, which cancels the job)
  const q1 = { data: { id: '' } };
  const ev1 = readEvents(r1, (e) => { if (e.event === 'queued') q1.data.id = e.data.id; return false; }).catch(() => []);
  const r2 = await post('/api/generate', { prompt: 'two', n: 1, previews: false });
  const ev2 = readEvents(r2);
  // the streamed job is submitted once its stream is being read: wait until it is queued
  for (let i = 0; i < 200; i++) {
    const h = (await (await fetch(`${base}/health`)).json()) as { queue: { running: number; waiting: number } };
    if (h.queue.running === 1 && h.queue.waiting === 1) break;
    await new Promise((s) => setTimeout(s, 25));
  }
  const full = await post('/v1/images/generations', { prompt: 'three' });
  assert.equal(full.status, 429);
  assert.match(full.headers.get('retry-after') ?? '', /^\d+$/);
  assert.equal(((await full.json()) as { error: { type: string } }).error.type, 'rate_limit_error');
  assert.ok(q1.data.id, 'the first job was not queued');
  // the first client goes away: its job is cancelled, not finished
  c1.abort();
  await ev1;
  let state = '';
  for (let i = 0; i < 400 && state !== 'cancelled' && state !== 'done'; i++) {
    await new Promise((s) => setTimeout(s, 50));
    state = ((await (await fetch(`${base}/api/jobs/${q1.data.id}`)).json()) as { state: string }).state;
  }
  assert.equal(state, 'cancelled');
  // the waiting job then runs to the end
  const events2 = await ev2;
  assert.deepEqual(events2.map((e) => e.event).filter((e) => e !== 'progress'), ['queued', 'image', 'done']);
  assert.ok(events2.filter((e) => e.event === 'progress').every((e) => e.data.previews === undefined));
});

test('cancel by id: POST /api/jobs/:id/cancel ends the stream with "cancelled"; unknown ids are 404', async () => {
  const r = await post('/api/generate', { prompt: 'slow', n: 4, steps: 1000, previews: false });
  let id = '';
  const events = await readEvents(r, (e) => {
    if (e.event === 'queued') {
      id = e.data.id;
      void post(`/api/jobs/${id}/cancel`, '');
    }
    return e.event === 'cancelled' || e.event === 'done';
  });
  assert.equal(events.at(-1)!.event, 'cancelled');
  assert.equal(((await (await fetch(`${base}/api/jobs/${id}`)).json()) as { state: string }).state, 'cancelled');
  assert.equal((await post('/api/jobs/00000000-0000-0000-0000-000000000000/cancel', '')).status, 404);
});

test('static files never leave their folder', async () => {
  const get = (path: string) => new Promise<number>((ok) => {
    request(`${base}${path}`, { method: 'GET' }, (res) => { res.resume(); ok(res.statusCode!); }).end();
  });
  assert.equal(await get('/'), 200);
  assert.equal(await get('/index.html'), 200);
  assert.equal(await get('/../secret.txt'), 404);
  assert.equal(await get('/%2e%2e/secret.txt'), 404);
  assert.equal(await get('/..%2fsecret.txt'), 404);
  assert.equal(await get('/link.txt'), 404); // a symlink pointing outside
  assert.equal(await get('/models/hart-parity-tiny/../../secret.txt'), 404);
  assert.equal(await get('/models/hart-parity-tiny/%2e%2e/%2e%2e/secret.txt'), 404);
  const html = await fetch(`${base}/`);
  assert.equal(html.headers.get('cross-origin-opener-policy'), 'same-origin');
});

test('hart serve / hart worker: a bad --prompt-cache-mb is a one-line error before anything loads', async () => {
  const { spawnSync } = await import('node:child_process');
  for (const cmd of ['serve', 'worker']) {
    const r = spawnSync(process.execPath, [BIN, cmd, '--model', fixtureDir(), '--prompt-cache-mb', '-5'], { encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(r.status, 0, cmd);
    assert.match(r.stderr, /--prompt-cache-mb must be an integer in \[0, 1048576\], got "-5"/, `${cmd}: ${r.stderr}`);
  }
});
