// Opens a Qwen2 text-encoder folder (config.json, tokenizer.json, optional tokenizer_config.json,
// model.safetensors or sharded *.safetensors with their index) as a PromptEncoder. Every file is
// bounded and checked (config.json by its schema, tokenizer.json structurally) before the weights
// are opened, with messages naming the file.
import type { FileAccess } from '../io/file-access.ts';
import { readJson } from '../io/file-access.ts';
import { TOKENIZER_JSON_LIMITS } from '../io/schema.ts';
import { openWeights } from '../io/weights.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { checkTokenizerJson, parseQwen2Config, QwenTextEncoder } from '../models/text/index.ts';
import type { PromptEncoder } from './hart-pipeline.ts';

export async function loadTextEncoder(files: FileAccess, runtime: Runtime): Promise<PromptEncoder> {
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!(await files.exists(f))) throw new Error(`${files.describe('')} is not a text-encoder folder: ${f} is missing`);
  }
  const config = (await readJson(files, 'config.json')) as object;
  parseQwen2Config(config, files.describe('config.json'));
  const tokenizerJson = (await readJson(files, 'tokenizer.json', TOKENIZER_JSON_LIMITS)) as object;
  checkTokenizerJson(tokenizerJson, files.describe('tokenizer.json'));
  const tokenizerConfig = (await files.exists('tokenizer_config.json')) ? (await readJson(files, 'tokenizer_config.json', TOKENIZER_JSON_LIMITS)) as object : undefined;
  const weights = await openWeights(files);
  try {
    return await QwenTextEncoder.fromPretrained({ config, tokenizerJson, tokenizerConfig, weights, what: files.describe('tokenizer.json') }, runtime);
  } finally {
    await weights.close();
  }
}
