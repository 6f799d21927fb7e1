// Writes a trained model as a HART.js model folder (DESIGN.md "Model folder"): hart.json,
// transformer/, tokenizer/, text_encoder/ (config.json with official field names +
// model.safetensors each; the text encoder also its tokenizer.json / tokenizer_config.json) and
// MODEL_CARD.md. The folder is built beside its destination and renamed into place, so a reader
// sees the old folder or the complete new one, never a partial one.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeSafetensorsFile } from '../io/files.node.ts';
import { float32ToFloat16Array, type Tensor as IoTensor } from '../io/dtypes.ts';
import type { Recipe } from './recipe.ts';
import type { Qwen2Config } from '../models/text/config.ts';
import { TEXT_SCOPE } from './transformer-train.ts';

export interface ModelFolderParts {
  recipe: Recipe;
  textConfig: Qwen2Config;
  tokenizerWeights: Map<string, IoTensor>;
  /** Transformer weights at the root, text-encoder weights under `text_encoder.`. */
  transformerWeights: Map<string, IoTensor>;
  tokenizerJson: object;
  tokenizerConfig: object;
  modelCard: string;
  /** Storage of float weights (default float32). */
  dtype?: 'float32' | 'float16';
  /** Recorded in hart.json `sources`. */
  sources?: Record<string, unknown>;
}

function stored(t: IoTensor, dtype: 'float32' | 'float16'): IoTensor {
  if (dtype === 'float32' || t.dtype !== 'float32') return t;
  return { dtype: 'float16', shape: t.shape, data: float32ToFloat16Array(t.data as Float32Array) };
}

/** hart.json of a trained model: parts, resolution, patch_nums, sampling defaults, prompt handling. */
export function trainedHartJson(recipe: Recipe, sources: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'hart-js',
    format_version: 1,
    parts: { transformer: 'transformer', tokenizer: 'tokenizer', text_encoder: 'text_encoder' },
    resolution: recipe.resolution,
    patch_nums: recipe.patch_nums,
    context_token: recipe.transformer.config.context_token,
    defaults: recipe.defaults,
    // the text encoder was trained on bare captions: no official system prompt before them
    prompt: { system_prompt: false },
    sources: { recipe: recipe.name, ...sources },
  };
}

export async function writeModelFolder(dir: string, p: ModelFolderParts): Promise<void> {
  const dtype = p.dtype ?? 'float32';
  const tmp = join(dirname(dir), `.${basename(dir)}.${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  try {
    for (const sub of ['transformer', 'tokenizer', 'text_encoder']) await mkdir(join(tmp, sub), { recursive: true });
    const json = (o: unknown) => `${JSON.stringify(o, null, 2)}\n`;
    const tr = new Map<string, IoTensor>(), te = new Map<string, IoTensor>();
    for (const [k, v] of p.transformerWeights) {
      if (k.startsWith(`${TEXT_SCOPE}.`)) te.set(k.slice(TEXT_SCOPE.length + 1), stored(v, dtype));
      else tr.set(k, stored(v, dtype));
    }
    const tok = new Map([...p.tokenizerWeights].map(([k, v]) => [k, stored(v, dtype)]));
    await writeFile(join(tmp, 'transformer', 'config.json'), json({ model_type: 'hart_transformer_t2i', ...p.recipe.transformer.config }));
    await writeSafetensorsFile(join(tmp, 'transformer', 'model.safetensors'), tr, { format: 'pt' });
    const { v_patch_nums: _v, norm_groups, ...tokCfg } = p.recipe.tokenizer.config;
    await writeFile(join(tmp, 'tokenizer', 'config.json'), json({ ...tokCfg, model_type: 'hart_autoencoder', v_patch_nums: p.recipe.patch_nums, ...(norm_groups !== 32 ? { norm_groups } : {}) }));
    await writeSafetensorsFile(join(tmp, 'tokenizer', 'model.safetensors'), tok, { format: 'pt' });
    await writeFile(join(tmp, 'text_encoder', 'config.json'), json({ architectures: ['Qwen2Model'], ...p.textConfig, model_type: 'qwen2' }));
    await writeSafetensorsFile(join(tmp, 'text_encoder', 'model.safetensors'), te, { format: 'pt' });
    await writeFile(join(tmp, 'text_encoder', 'tokenizer.json'), json(p.tokenizerJson));
    await writeFile(join(tmp, 'text_encoder', 'tokenizer_config.json'), json(p.tokenizerConfig));
    await writeFile(join(tmp, 'hart.json'), json(trainedHartJson(p.recipe, p.sources)));
    await writeFile(join(tmp, 'MODEL_CARD.md'), p.modelCard);
    const old = join(dirname(dir), `.${basename(dir)}.${process.pid}.old`);
    let hadOld = false;
    try {
      await rename(dir, old);
      hadOld = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await rename(tmp, dir);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
