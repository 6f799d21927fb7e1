// The Node (onnxruntime-node, CPU) image for a prompt and seed on the default model: the reference
// the browser backends are compared with, and the Node side of `hart bench browser`.
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { HartPipeline } from '../../src/pipeline/hart-pipeline.ts';
import { resolveModel } from '../../src/pipeline/default-model.node.ts';

/** The default model loaded once on one onnxruntime-node thread (as the page keeps its worker's). */
export async function nodeReference(): Promise<{ pipe: HartPipeline; dispose(): Promise<void> }> {
  const model = await resolveModel();
  const runtime = nodeRuntime({ threads: 1 });
  const pipe = await HartPipeline.fromPretrained(model.files, { runtime, textEncoder: () => model.textEncoder(runtime) });
  return { pipe, dispose: async () => { await pipe.dispose(); await runtime.dispose(); } };
}

export async function nodeImage(prompt: string, seed: number, options: { topK?: number } = {}): Promise<Float32Array> {
  const ref = await nodeReference();
  try {
    return (await ref.pipe.generate(prompt, { seed, ...options })).images[0].data;
  } finally {
    await ref.dispose();
  }
}
