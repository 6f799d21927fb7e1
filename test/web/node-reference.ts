// The Node (onnxruntime-node, CPU) image for a prompt and seed on the default model: the reference
// the browser backends are compared with.
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { HartPipeline } from '../../src/pipeline/hart-pipeline.ts';
import { resolveModel } from '../../src/pipeline/default-model.node.ts';

export async function nodeImage(prompt: string, seed: number, options: { topK?: number } = {}): Promise<Float32Array> {
  const model = await resolveModel();
  const runtime = nodeRuntime({ threads: 1 });
  try {
    const pipe = await HartPipeline.fromPretrained(model.files, { runtime, textEncoder: () => model.textEncoder(runtime) });
    const r = await pipe.generate(prompt, { seed, ...options });
    await pipe.dispose();
    return r.images[0].data;
  } finally {
    await runtime.dispose();
  }
}
