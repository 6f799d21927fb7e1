// HART.js, browser-safe core: the pipeline, the models, the engine, file formats, the request
// schema and PNG metadata shared by the CLI, the server and the web app.
export { HartPipeline, type PipelineOptions, type PromptEncoder, type GenerateResult } from './pipeline/hart-pipeline.ts';
export type { GenerateOptions, ResolvedOptions } from './pipeline/options.ts';
export type { PreviewEvent } from './pipeline/progress.ts';
export { loadTextEncoder } from './pipeline/text-encoder-folder.ts';
export { demoTextEncoder } from './pipeline/demo-text-encoder.ts';
export { Runtime, type RuntimeOptions } from './runtime/runtime.ts';
export { webRuntime, type WebRuntimeOptions } from './runtime/web.ts';
export type { HostTensor } from './runtime/host-tensor.ts';
export { memoryFiles, type FileAccess } from './io/file-access.ts';
export { encodePng, readPngText, type ImageCHW } from './io/png.ts';
// the public decoder checks the file's structure and size before fast-png allocates (io/png-check.ts)
export { decodePngChecked as decodePng } from './io/png-check.ts';
export { encodeImagePng, pngText, type ImageRecord } from './api/metadata.ts';
export { generationSchema, parseGenerationRequest, toGenerateOptions, RequestError, type GenerationRequest } from './api/request.ts';
export { VERSION } from './api/version.ts';
export { Philox } from './random/philox.ts';
