// Opens a Qwen2 text-encoder folder (config.json, tokenizer.json, optional tokenizer_config.json,
// model.safetensors or sharded *.safetensors with their index) as a PromptEncoder.
import type { FileAccess } from '../io/file-access.ts';
import { readJson } from '../io/file-access.ts';
import { openWeights } from '../io/weights.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { QwenTextEncoder } from '../models/text/index.ts';
import type { PromptEncoder } from './hart-pipeline.ts';

export async function loadTextEncoder(files: FileAccess, runtime: Runtime): Promise<PromptEncoder> {
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!(await files.exists(f))) throw new Error(`${files.describe('')} is not a text-encoder folder: ${f} is missing`);
  }
  const weights = await openWeights(files);
  try {
    const enc = await QwenTextEncoder.fromPretrained({
      config: (await readJson(files, 'config.json')) as object,
      tokenizerJson: (await readJson(files, 'tokenizer.json')) as object,
      tokenizerConfig: (await files.exists('tokenizer_config.json')) ? (await readJson(files, 'tokenizer_config.json')) as object : undefined,
      weights,
    }, runtime);
    return enc;
  } finally {
    await weights.close();
  }
}
