// Node adapter: a Runtime on onnxruntime-node (CPU; CUDA when asked for and present).
import * as ort from 'onnxruntime-node';
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.ts';

export function nodeRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(ort as unknown as OrtModule, options);
}
