// Loads the three HART parts (transformer, hybrid tokenizer, residual diffusion) from a model
// folder: the HART.js layout (hart.json, transformer/, tokenizer/) or the official one
// (llm/ with config.json and ema_model.bin or model.safetensors, tokenizer/). Half-precision weights
// are cast to float32 inside the graphs (nn/params.ts); int4 Linear weights run as MatMulNBits.
import type { FileAccess } from '../io/file-access.ts';
import { readJson } from '../io/file-access.ts';
import { parseHartJson, type HartJson } from './hart-json.ts';
import { modelDefaults, type ModelDefaults } from './options.ts';
import { openWeights } from '../io/weights.ts';
import { int4Source, MapWeightStore, type StoredTensor, type WeightStore } from '../nn/index.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { HartTransformer, ignoredBuffers, parseHartConfig, type HARTForT2IConfig, type MatmulPrecision } from '../models/transformer/index.ts';
import { HartTokenizer, parseTokenizerConfig, type HartTokenizerConfig } from '../models/tokenizer/index.ts';
import { DiffusionSampler, diffLossConfig } from '../models/diffusion/index.ts';
import type { HartParts } from './generate-loop.ts';

export interface LoadedHart extends HartParts {
  transformerConfig: HARTForT2IConfig;
  tokenizerConfig: HartTokenizerConfig;
  /** Where the transformer weights came from (e.g. "llm/ema_model.bin"). */
  transformerWeights: string;
  /** The HART.js folder's hart.json (absent for the official layout). */
  hartJson?: HartJson;
  /** Sampling defaults for this model (hart.json, else the transformer config, else sample.py). */
  defaults: Required<ModelDefaults>;
}

export interface HartFolderLayout { transformerDir: string; tokenizerDir: string; weights: string[]; hartJson?: HartJson }

export async function detectLayout(files: FileAccess): Promise<HartFolderLayout> {
  if (await files.exists('hart.json')) {
    const hartJson = parseHartJson(await readJson(files, 'hart.json'), files.describe('hart.json'));
    return { transformerDir: hartJson.parts.transformer, tokenizerDir: hartJson.parts.tokenizer, weights: ['model.safetensors'], hartJson };
  }
  if (await files.exists('llm/config.json')) {
    // sample.py generates with the EMA weights
    return { transformerDir: 'llm', tokenizerDir: 'tokenizer', weights: ['ema_model.bin', 'model.safetensors', 'pytorch_model.bin'] };
  }
  throw new Error(`${files.describe('')} is not a HART model folder: expected hart.json (HART.js) or llm/config.json (official)`);
}

/**
 * Reads a part's tensors (int4 parts grouped into their logical weight, see nn/int4.ts); the
 * buffers in `skip` (name → the shape the config implies) are shape-checked but never read.
 */
async function readStore(files: FileAccess, name?: string, skip = new Map<string, number[]>()): Promise<WeightStore> {
  const src = int4Source(await openWeights(files, name));
  try {
    const map = new Map<string, StoredTensor>();
    for (const n of src.names()) {
      const want = skip.get(n);
      if (!want) map.set(n, await src.read(n) as StoredTensor);
      else if (src.info(n).shape.join() !== want.join()) throw new Error(`${files.describe(name ?? '')}: ${n} has shape [${src.info(n).shape}], the config implies [${want}]`);
    }
    return new MapWeightStore(map);
  } finally {
    await src.close();
  }
}

/** A loading milestone: `done` of `total` steps (weights read, graphs compiled), and what just finished. */
export interface LoadProgress {
  done: number;
  total: number;
  what: string;
}

export interface LoadHartOptions {
  /** Matrix precision of the transformer blocks; default hart.json's `precision`, else float32. */
  precision?: MatmulPrecision;
  /** Called after each step of loading (the two weight files, then each compiled graph). */
  onProgress?: (e: LoadProgress) => void;
  /** The transformer's prompt prefix cache budget (HartTransformerOptions.promptCacheBytes). */
  promptCacheBytes?: number;
}

export async function loadHart(files: FileAccess, runtime: Runtime, o: LoadHartOptions = {}): Promise<LoadedHart> {
  const layout = await detectLayout(files);
  const tdir = files.sub(layout.transformerDir), kdir = files.sub(layout.tokenizerDir);
  const transformerConfig = parseHartConfig(await readJson(tdir, 'config.json'), tdir.describe('config.json'));
  const tokenizerConfig = parseTokenizerConfig(await readJson(kdir, 'config.json'), kdir.describe('config.json'));
  const hj = layout.hartJson;
  if (hj && (hj.patch_nums.join() !== transformerConfig.patch_nums.join() || hj.context_token !== transformerConfig.context_token)) {
    throw new Error(`${files.describe('hart.json')}: patch_nums/context_token disagree with ${tdir.describe('config.json')}`);
  }
  let weightsName: string | undefined;
  for (const w of layout.weights) if (await tdir.exists(w)) { weightsName = w; break; }
  if (!weightsName) throw new Error(`${tdir.describe('')} has none of ${layout.weights.join(', ')}`);
  // the official files' recomputed buffers (attn_bias_for_masking is 380 MB at full size) are never read
  // steps: 2 weight files, the transformer's graphs (prefix, embedding, diffusion condition, step segments), the diffusion MLP
  let done = 0;
  const total = 2 + HartTransformer.graphCount(transformerConfig) + 1;
  const step = (what: string) => o.onProgress?.({ done: ++done, total, what });
  const tStore = await readStore(tdir, weightsName, ignoredBuffers(transformerConfig));
  step(`read ${layout.transformerDir}/${weightsName}`);
  const kStore = await readStore(kdir);
  step(`read ${layout.tokenizerDir}/`);
  const [transformer, diffusion] = await Promise.all([
    HartTransformer.fromWeights(transformerConfig, tStore, runtime, {
      precision: o.precision ?? hj?.precision ?? 'float32', onGraph: step, promptCacheBytes: o.promptCacheBytes,
    }),
    DiffusionSampler.create(runtime, tStore, diffLossConfig(transformerConfig, tokenizerConfig)).then((d) => { step('compiled the diffusion MLP'); return d; }),
  ]);
  const tokenizer = HartTokenizer.fromWeights(tokenizerConfig, kStore, runtime);
  return {
    transformer, tokenizer, diffusion, transformerConfig, tokenizerConfig, transformerWeights: `${layout.transformerDir}/${weightsName}`, hartJson: hj,
    defaults: modelDefaults(hj?.defaults, transformerConfig),
  };
}
