// Browser (and Node-for-testing) adapter: a Runtime on onnxruntime-web (wasm; WebGPU in browsers).
// onnxruntime-web keeps its wasm settings in one global `env` that is read when the first session
// is created, so `threads` and `wasmPaths` take effect on the first call only.
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.ts';

export interface WebRuntimeOptions extends RuntimeOptions {
  /**
   * Where the ort-wasm-*.{mjs,wasm} files are served from (a URL prefix ending in "/"). Bundlers
   * and Node find them next to the package's entry point by default; set this when an app serves
   * them elsewhere (e.g. "/ort/").
   */
  wasmPaths?: string;
}

/** The Runtime options webRuntime uses (Node tests emit the browser's graphs with them). */
export function webRuntimeOptions(options: RuntimeOptions = {}): RuntimeOptions {
  const executionProviders = options.executionProviders ?? ['wasm'];
  // WebGPU miscomputes FusedMatMul(transB) graphs (RuntimeOptions.fusedLinearWeights)
  return { outputsInPlace: false, fusedLinearWeights: !executionProviders.includes('webgpu'), ...options, executionProviders };
}

export async function webRuntime(options: WebRuntimeOptions = {}): Promise<Runtime> {
  const ort = await import('onnxruntime-web');
  // wasm threads; 1 runs without worker threads (deterministic, and a Node test process can exit).
  if (options.threads) ort.env.wasm.numThreads = options.threads;
  if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  const { wasmPaths: _unused, ...rest } = options;
  return new Runtime(ort as unknown as OrtModule, webRuntimeOptions(rest));
}
