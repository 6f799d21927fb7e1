// HART.js for Node: the library entry point. `loadHartPipeline(dir)` opens a model folder on disk
// on onnxruntime-node; everything else is re-exported from the browser-safe core.
import { diskFiles } from './io/file-access.node.ts';
import { nodeRuntime } from './runtime/node.node.ts';
import type { Runtime } from './runtime/runtime.ts';
import { HartPipeline } from './pipeline/hart-pipeline.ts';
import { loadTextEncoder } from './pipeline/text-encoder-folder.ts';

export * from './index.ts';
export { nodeRuntime, diskFiles };
export { convertHart } from './convert/convert.node.ts';

export interface NodePipelineOptions {
  /** 'cpu' (default) or 'cuda' (needs onnxruntime-node's CUDA build and a GPU). */
  backend?: 'cpu' | 'cuda';
  threads?: number;
  /** Qwen2 text-encoder folder; default <dir>/text_encoder when present. */
  textEncoder?: string;
  /** Keep the text encoder loaded between generations (default true). */
  keepTextEncoder?: boolean;
  runtime?: Runtime;
}

export async function loadHartPipeline(dir: string, o: NodePipelineOptions = {}): Promise<HartPipeline> {
  const runtime = o.runtime ?? nodeRuntime({ threads: o.threads, executionProviders: o.backend === 'cuda' ? ['cuda', 'cpu'] : ['cpu'] });
  const files = diskFiles(dir);
  const te = o.textEncoder ? diskFiles(o.textEncoder)
    : (await files.exists('text_encoder/config.json')) ? files.sub('text_encoder') : undefined;
  return HartPipeline.fromPretrained(files, {
    runtime,
    textEncoder: te ? () => loadTextEncoder(te, runtime) : undefined,
    keepTextEncoder: o.keepTextEncoder,
  });
}
