// HART.js for Node: the library entry point. `loadHartPipeline()` opens the embedded default model
// (or any model folder on disk) on onnxruntime-node; everything else is re-exported from the
// browser-safe core.
import { diskFiles } from './io/file-access.node.ts';
import { nodeRuntime } from './runtime/node.node.ts';
import type { Runtime } from './runtime/runtime.ts';
import type { MatmulPrecision } from './models/transformer/precision.ts';
import { HartPipeline } from './pipeline/hart-pipeline.ts';
import { resolveModel } from './pipeline/default-model.node.ts';

export * from './index.ts';
export { nodeRuntime, diskFiles };
export { convertHart } from './convert/convert.node.ts';
export { defaultModelDir, resolveModel, UserError, type ModelRef } from './pipeline/default-model.node.ts';

export interface NodePipelineOptions {
  /** 'cpu' (default) or 'cuda' (needs onnxruntime-node's CUDA build and a GPU). */
  backend?: 'cpu' | 'cuda';
  threads?: number;
  /** Qwen2 text-encoder folder; default <dir>/text_encoder. */
  textEncoder?: string;
  /** Keep the text encoder loaded between generations (default true). */
  keepTextEncoder?: boolean;
  runtime?: Runtime;
  /** Matrix precision of the transformer blocks; default the model's (hart.json `precision`), else float32. */
  precision?: MatmulPrecision;
  /** Memory for reusing the work of prompts generated again (PipelineOptions.promptCacheBytes; default 256 MiB, 0 none). */
  promptCacheBytes?: number;
}

/**
 * A pipeline on a model folder (HART.js layout with hart.json, or the official hart-0.7b-1024px);
 * without `dir`, the model embedded in the package.
 */
export async function loadHartPipeline(dir?: string, o: NodePipelineOptions = {}): Promise<HartPipeline> {
  const model = await resolveModel(dir, o.textEncoder);
  const runtime = o.runtime ?? nodeRuntime({ threads: o.threads, executionProviders: o.backend === 'cuda' ? ['cuda', 'cpu'] : ['cpu'] });
  return HartPipeline.fromPretrained(model.files, {
    runtime,
    textEncoder: () => model.textEncoder(runtime),
    keepTextEncoder: o.keepTextEncoder,
    precision: o.precision,
    promptCacheBytes: o.promptCacheBytes,
  });
}
