// Browser (and Node-for-testing) adapter: a Runtime on onnxruntime-web (wasm; WebGPU in browsers).
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.ts';

export async function webRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const ort = await import('onnxruntime-web');
  if (options.threads) ort.env.wasm.numThreads = options.threads;
  return new Runtime(ort as unknown as OrtModule, { executionProviders: ['wasm'], ...options });
}
