// The ONNX Runtime module for Node: onnxruntime-node (native, MLAS) when it is installed, else
// onnxruntime-web's WebAssembly backend with a one-time warning. onnxruntime-node is an optional
// dependency because its install script downloads CUDA libraries on Linux x64 and fails the whole
// `npm install` when it cannot (offline, firewalled); npm then drops it and HART.js still runs.
import type { OrtModule } from './runtime.ts';

async function load(): Promise<{ ort: OrtModule; native: boolean }> {
  try {
    return { ort: (await import('onnxruntime-node')) as unknown as OrtModule, native: true };
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    const web = await import('onnxruntime-web');
    // one wasm thread: no worker threads that would keep a Node process alive
    web.env.wasm.numThreads = 1;
    process.emitWarning('onnxruntime-node is not installed (its install script may have failed offline); running on '
      + 'onnxruntime-web (WebAssembly, several times slower). Reinstall it with ONNXRUNTIME_NODE_INSTALL=skip '
      + 'npm install onnxruntime-node for native speed.', { code: 'HART_ORT_WASM' });
    return { ort: web as unknown as OrtModule, native: false };
  }
}

export const { ort, native: ortNative } = await load();
