// HART.js, browser-safe core: the pipeline, the models, the engine, file formats.
export { HartPipeline, type PipelineOptions, type PromptEncoder, type GenerateResult } from './pipeline/hart-pipeline.ts';
export type { GenerateOptions } from './pipeline/options.ts';
export type { PreviewEvent } from './pipeline/progress.ts';
export { loadTextEncoder } from './pipeline/text-encoder-folder.ts';
export { Runtime, type RuntimeOptions } from './runtime/runtime.ts';
export { webRuntime } from './runtime/web.ts';
export type { HostTensor } from './runtime/host-tensor.ts';
export { memoryFiles, type FileAccess } from './io/file-access.ts';
export { encodePng, decodePng, type ImageCHW } from './io/png.ts';
export { Philox } from './random/philox.ts';
