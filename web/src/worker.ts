// The generation worker: the same HartPipeline as Node, on onnxruntime-web (WebGPU when the page
// asks and an adapter exists, wasm otherwise), off the page's main thread. Protocol:
//   → { type: 'load', modelUrl?, files?, backend: 'auto' | 'webgpu' | 'wasm' }   ← loaded | error
//   → { type: 'generate', id, request }   ← progress (per-scale preview PNGs) … image … done | cancelled | error
//   → { type: 'cancel', id }
import { HartPipeline } from '../../src/pipeline/hart-pipeline.ts';
import { detectLayout } from '../../src/pipeline/load.ts';
import { loadTextEncoder } from '../../src/pipeline/text-encoder-folder.ts';
import { demoTextEncoder } from '../../src/pipeline/demo-text-encoder.ts';
import { webRuntime } from '../../src/runtime/web.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { encodePng } from '../../src/io/png.ts';
import { encodeImagePng } from '../../src/api/metadata.ts';
import { parseGenerationRequest, toGenerateOptions } from '../../src/api/request.ts';
import type { FileAccess } from '../../src/io/file-access.ts';
import { httpFiles, pickedFiles } from './http-files.ts';

type Backend = 'auto' | 'webgpu' | 'wasm';
let pipe: HartPipeline | undefined;
let runtime: Runtime | undefined;
let modelName = 'model';
const jobs = new Map<string, AbortController>();
const post = (m: unknown, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try { return !!(await gpu.requestAdapter()); } catch { return false; }
}

async function load(m: { modelUrl?: string; files?: { path: string; bytes: ArrayBuffer }[]; backend: Backend; name?: string; wasmPaths?: string }) {
  const t0 = performance.now();
  let bytes = 0;
  const files: FileAccess = m.files ? await pickedFiles(m.files)
    : httpFiles(m.modelUrl!, (_u, n, cached) => { bytes += n; post({ type: 'download', bytes, cached }); });
  const backend = m.backend === 'auto' ? ((await hasWebGpu()) ? 'webgpu' : 'wasm') : m.backend;
  if (backend === 'webgpu' && !(await hasWebGpu())) throw new Error('WebGPU is not available in this browser (no adapter); choose wasm');
  await pipe?.dispose();
  await runtime?.dispose();
  runtime = await webRuntime({ executionProviders: [backend], wasmPaths: m.wasmPaths });
  const layout = await detectLayout(files);
  const teDir = layout.hartJson?.parts.text_encoder ?? 'text_encoder';
  const demo = !(await files.exists(`${teDir}/config.json`));
  const rt = runtime;
  pipe = await HartPipeline.fromPretrained(files, {
    runtime: rt,
    // a model without a text encoder (the random parity model) gets the random stand-in: noise, but every stage runs
    textEncoder: demo ? () => demoTextEncoder(rt) : () => loadTextEncoder(files.sub(teDir), rt),
  });
  modelName = m.name ?? 'model';
  const dims = pipe.model.transformer.dims;
  post({ type: 'loaded', backend, name: modelName, demo, resolution: pipe.model.tokenizer.downsample * dims.patchNums.at(-1)!, scales: dims.patchNums.length, seconds: (performance.now() - t0) / 1000, bytes });
}

async function generate(id: string, request: unknown) {
  if (!pipe) throw new Error('no model loaded');
  const req = parseGenerationRequest(request, 'json');
  const controller = new AbortController();
  jobs.set(id, controller);
  const t0 = performance.now();
  try {
    const n = req.n ?? 1;
    const r = await pipe.generate(Array.from({ length: n }, () => req.prompt), {
      ...toGenerateOptions(req),
      signal: controller.signal,
      previews: true,
      onProgress: async (e) => {
        const previews = e.previews?.map((im) => encodePng(im));
        post({ type: 'progress', id, stage: e.stage, step: e.step, total: e.total, elapsed: e.elapsed, previews }, previews?.map((p) => p.buffer as ArrayBuffer) ?? []);
        // a macrotask turn, so a waiting 'cancel' message is handled before the next stage
        await new Promise((ok) => setTimeout(ok, 0));
      },
    });
    for (const [i, im] of r.images.entries()) {
      const png = encodeImagePng(im, { prompt: req.prompt, seed: r.seeds[i], settings: r.settings, width: im.width, height: im.height, model: modelName });
      // the raw float image too, for exact cross-backend comparisons
      post({ type: 'image', id, index: i, seed: r.seeds[i], png, data: im.data, width: im.width, height: im.height }, [png.buffer as ArrayBuffer]);
    }
    post({ type: 'done', id, seconds: (performance.now() - t0) / 1000, missingWords: r.missingWords[0] ?? [] });
  } finally {
    jobs.delete(id);
  }
}

self.onmessage = async (ev: MessageEvent) => {
  const m = ev.data;
  try {
    if (m.type === 'load') await load(m);
    else if (m.type === 'generate') await generate(m.id, m.request);
    else if (m.type === 'cancel') jobs.get(m.id)?.abort();
  } catch (e) {
    const err = e as Error;
    if (err?.name === 'AbortError') post({ type: 'cancelled', id: m.id });
    else post({ type: 'error', id: m.id, message: err?.message ?? String(e) });
  }
};
