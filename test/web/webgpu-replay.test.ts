// WebGPU graph by graph, fast enough for the default run: one generation of the default model on
// Node (onnxruntime-node, CPU) with the graphs the browser's WebGPU runtime emits
// (webRuntimeOptions({ executionProviders: ['webgpu'] })), every ONNX session recorded with its first
// run's inputs and outputs; then each session is replayed in headless Chromium on onnxruntime-web's
// WebGPU backend (SwiftShader) and must agree with Node. This caught the text encoder's
// FusedMatMul(transB) form computing wrongly on WebGPU (RuntimeOptions.fusedLinearWeights), which the
// whole-app check (webgpu.check.ts, minutes per image) only shows as a wrong picture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import type { Browser } from 'playwright-core';
import { Runtime, type OrtModule } from '../../src/runtime/runtime.ts';
import { webRuntimeOptions } from '../../src/runtime/web.ts';
import { HartPipeline } from '../../src/pipeline/hart-pipeline.ts';
import { resolveModel } from '../../src/pipeline/default-model.node.ts';
import { launch, repo } from './browser.ts';

/** A tensor as it crosses to the page: ORT type, dims, raw bytes in base64. */
interface Wire { type: string; dims: number[]; b64: string }
interface Recorded { model: Uint8Array; feeds?: Record<string, Wire>; outputs?: Record<string, Wire> }

const wire = (t: { type: string; dims: readonly number[]; data: ArrayBufferView }): Wire => ({
  type: t.type, dims: [...t.dims], b64: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64'),
});
function values(w: Wire): Float64Array {
  const b = Buffer.from(w.b64, 'base64');
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  if (w.type === 'float32') return Float64Array.from(new Float32Array(ab));
  if (w.type === 'int64') return Float64Array.from(new BigInt64Array(ab), Number);
  if (w.type === 'int32') return Float64Array.from(new Int32Array(ab));
  throw new Error(`replay: no comparison for ${w.type}`);
}

/** onnxruntime-node with every created session recorded (model bytes; first run's feeds and outputs). */
function recordingOrt(sessions: Recorded[]): OrtModule {
  const real = ortNode as unknown as OrtModule;
  return {
    ...real,
    InferenceSession: {
      create: async (model, options) => {
        if (!(model instanceof Uint8Array)) throw new Error('replay: sessions must be created from bytes');
        const session = await real.InferenceSession.create(model, options);
        const rec: Recorded = { model };
        sessions.push(rec);
        const run = session.run.bind(session) as (...a: unknown[]) => Promise<Record<string, never>>;
        return Object.assign(Object.create(session), {
          run: async (feeds: Record<string, never>, fetches?: unknown) => {
            const inputs = rec.feeds ? undefined : Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, wire(t)]));
            const out = fetches === undefined ? await run(feeds) : await run(feeds, fetches);
            if (!rec.feeds) {
              rec.feeds = inputs;
              rec.outputs = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, wire(t)]));
            }
            return out;
          },
        });
      },
    },
  } as OrtModule;
}

const sessions: Recorded[] = [];
let server: Server, base = '', browser: Browser;
const ORT_DIST = join(repo, 'node_modules', 'onnxruntime-web', 'dist');

before(async () => {
  const model = await resolveModel();
  // CPU sessions, but the graphs the browser's WebGPU runtime emits; no disk cache (sessions from bytes)
  const runtime = new Runtime(recordingOrt(sessions), { ...webRuntimeOptions({ executionProviders: ['webgpu'] }), executionProviders: ['cpu'], threads: 1, outputsInPlace: true });
  const pipe = await HartPipeline.fromPretrained(model.files, { runtime, textEncoder: () => model.textEncoder(runtime) });
  await pipe.generate('a red circle above a blue square', { seed: 1 });
  await pipe.dispose();
  await runtime.dispose();
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    const m = /^\/(model|feeds)\/(\d+)$/.exec(url);
    if (url === '/') res.setHeader('content-type', 'text/html').end('<!doctype html><title>replay</title>');
    else if (m && sessions[Number(m[2])]) {
      const s = sessions[Number(m[2])];
      res.end(m[1] === 'model' ? Buffer.from(s.model) : JSON.stringify(s.feeds));
    } else if (url.startsWith('/ort/') && !url.includes('..')) {
      try {
        const body = readFileSync(join(ORT_DIST, url.slice(5)));
        res.setHeader('content-type', extname(url) === '.wasm' ? 'application/wasm' : 'text/javascript').end(body);
      } catch { res.writeHead(404).end(); }
    } else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await launch();
});
after(async () => { await browser?.close(); server?.close(); });

test('WebGPU (SwiftShader) replays every session of a default-model generation as Node computes it', { timeout: 600_000 }, async () => {
  assert.ok(sessions.length >= 10 && sessions.every((s) => s.feeds), `recorded ${sessions.length} sessions, all run`);
  const page = await browser.newPage();
  await page.addInitScript('globalThis.__name = (f) => f;'); // tsx's helper for named functions in evaluate()
  await page.goto(base);
  const rows: string[] = [];
  for (const [id, s] of sessions.entries()) {
    const got = await page.evaluate(async (id) => {
      const ort = await import('/ort/ort.bundle.min.mjs' as string);
      ort.env.wasm.numThreads = 1;
      const model = new Uint8Array(await (await fetch(`/model/${id}`)).arrayBuffer());
      const feeds = await (await fetch(`/feeds/${id}`)).json() as Record<string, { type: string; dims: number[]; b64: string }>;
      const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
      const arrays: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array };
      const inputs: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(feeds)) {
        const bytes = Uint8Array.from(atob(v.b64), (c) => c.charCodeAt(0));
        inputs[k] = new ort.Tensor(v.type, new arrays[v.type](bytes.buffer), v.dims);
      }
      const out = await session.run(inputs);
      const r: Record<string, { type: string; dims: number[]; b64: string }> = {};
      for (const [k, t] of Object.entries(out) as [string, { type: string; dims: number[]; data: ArrayBufferView }][]) {
        const u = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        let bin = '';
        for (let i = 0; i < u.length; i += 8192) bin += String.fromCharCode(...u.subarray(i, i + 8192));
        r[k] = { type: t.type, dims: [...t.dims], b64: btoa(bin) };
      }
      await session.release();
      return r;
    }, id);
    for (const [name, want] of Object.entries(s.outputs!)) {
      assert.ok(got[name], `session ${id}: WebGPU returned no ${name}`);
      assert.deepEqual(got[name].dims, want.dims, `session ${id} ${name}: shape`);
      const a = values(want), b = values(got[name]);
      let d = 0, scale = 0;
      for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(a[i])); }
      rows.push(`session ${id} (${Object.keys(s.feeds!).slice(0, 3).join(', ')}…) ${name}: max |Δ| ${d.toExponential(2)}, max |x| ${scale.toExponential(2)}`);
      assert.ok(d <= 1e-3 * Math.max(1, scale), rows.at(-1));
    }
  }
  console.log(rows.map((r) => `# ${r}`).join('\n'));
});
