// A recipe's `init`: a HART.js model folder whose weights the stages start from instead of the
// random initialisation (continued training of a shipped model). The tokenizer, the transformer
// and the text encoder are read as float32 (float16 storage is widened); the folder's configs must
// be the recipe's, and its caption tokenizer the one this recipe builds, or the token ids and
// embedding rows would not line up.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readTensorFile } from '../io/files.node.ts';
import { float16ToFloat32Array, type Tensor as IoTensor } from '../io/dtypes.ts';
import type { Recipe } from './recipe.ts';
import { UserError } from '../pipeline/default-model.node.ts';
import { TEXT_SCOPE } from './transformer-train.ts';
import { InitWeightStore } from './init.ts';

export interface InitWeights {
  dir: string;
  /** The tokenizer's weights (official names). */
  tokenizer: Map<string, IoTensor>;
  /** Transformer weights at the root, the text encoder's under `text_encoder.` (the training names). */
  transformer: Map<string, IoTensor>;
  /** The folder's caption tokenizer.json, parsed. */
  tokenizerJson: unknown;
  /** The folder's hart.json `sources` (its recipe and steps), recorded in the new folder's. */
  sources: unknown;
}

function widened(m: Map<string, IoTensor>, prefix = ''): Map<string, IoTensor> {
  const out = new Map<string, IoTensor>();
  for (const [k, t] of m) {
    const data = t.dtype === 'float16' ? float16ToFloat32Array(t.data as Uint16Array) : t.data;
    out.set(prefix + k, { dtype: t.dtype === 'float16' ? 'float32' : t.dtype, shape: [...t.shape], data } as IoTensor);
  }
  return out;
}

async function json(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`init: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Field-by-field comparison of a folder's config with the recipe's (only the recipe's fields count, less `skip`). */
function sameConfig(what: string, folder: Record<string, unknown>, recipe: object, skip: readonly string[] = []): void {
  for (const [k, v] of Object.entries(recipe)) {
    if (k === 'v_patch_nums' || k === 'patch_nums' || k === 'model_type' || skip.includes(k)) continue; // written separately; the folder names its own type
    if (!Object.hasOwn(folder, k)) {
      if (k === 'norm_groups' && v === 32) continue; // the official default is not written
      throw new UserError(`init: ${what}/config.json has no "${k}" (the recipe sets ${JSON.stringify(v)})`);
    }
    if (JSON.stringify(folder[k]) !== JSON.stringify(v)) {
      throw new UserError(`init: ${what}/config.json "${k}" is ${JSON.stringify(folder[k])}, the recipe's is ${JSON.stringify(v)}`);
    }
  }
}

/** Reads and checks the model folder `dir` against `recipe` (the text encoder config is checked without vocab_size). */
export async function readInitWeights(dir: string, recipe: Recipe): Promise<InitWeights> {
  const abs = resolve(dir);
  const hart = await json(join(abs, 'hart.json'));
  if (hart.format !== 'hart-js') throw new UserError(`init: ${dir} is not a HART.js model folder written by hart train (hart.json format ${JSON.stringify(hart.format)})`);
  if (hart.resolution !== recipe.resolution || JSON.stringify(hart.patch_nums) !== JSON.stringify(recipe.patch_nums)) {
    throw new UserError(`init: ${dir} is ${String(hart.resolution)} px with patch_nums ${JSON.stringify(hart.patch_nums)}, the recipe ${recipe.resolution} px with ${JSON.stringify(recipe.patch_nums)}`);
  }
  const tokenizerConfig = await json(join(abs, 'tokenizer', 'config.json'));
  sameConfig('tokenizer', tokenizerConfig, recipe.tokenizer.config, recipe.init_grow === 'vocab' ? ['vocab_size'] : []);
  const transformerConfig = await json(join(abs, 'transformer', 'config.json'));
  sameConfig('transformer', transformerConfig, recipe.transformer.config, recipe.init_grow === 'depth' ? ['depth'] : []);
  sameConfig('text_encoder', await json(join(abs, 'text_encoder', 'config.json')), recipe.text_encoder.config);
  let tokenizer = widened(await readTensorFile(join(abs, 'tokenizer', 'model.safetensors')));
  let transformer = widened(await readTensorFile(join(abs, 'transformer', 'model.safetensors')));
  if (recipe.init_grow === 'vocab') {
    const v = tokenizerConfig.vocab_size, V = recipe.tokenizer.config.vocab_size;
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > V) {
      throw new UserError(`init_grow: ${dir}'s tokenizer has vocab_size ${JSON.stringify(v)}; the recipe's ${V} must be at least that`);
    }
    ({ tokenizer, transformer } = growVocab(tokenizer, transformer, v as number, V, recipe.seed + 1));
  }
  if (recipe.init_grow === 'depth') {
    const d = transformerConfig.depth, D = recipe.transformer.config.depth;
    if (!Number.isInteger(d) || (d as number) < 1 || (d as number) > D) {
      throw new UserError(`init_grow: ${dir}'s transformer has depth ${JSON.stringify(d)}; the recipe's depth ${D} must be at least that`);
    }
    transformer = growDepth(transformer, d as number, D, recipe.seed + 1);
  }
  const textWeights = widened(await readTensorFile(join(abs, 'text_encoder', 'model.safetensors')), `${TEXT_SCOPE}.`);
  for (const [k, v] of recipe.text_encoder.init === 'embeddings' ? identityTextLayers(textWeights) : textWeights) transformer.set(k, v);
  const tokenizerJson = await json(join(abs, 'text_encoder', 'tokenizer.json'));
  return { dir: abs, tokenizer, transformer, tokenizerJson, sources: hart.sources ?? null };
}

/**
 * The text encoder's weights with every layer's output projections (self_attn.o_proj, mlp.down_proj)
 * zero: with Qwen2's pre-norm residual layers (h + f(norm h)) each layer is then an identity, and
 * the encoder's output at each position is the final norm of that position's word embedding.
 */
export function identityTextLayers(weights: Map<string, IoTensor>): Map<string, IoTensor> {
  const out = new Map<string, IoTensor>();
  let zeroed = 0;
  for (const [k, t] of weights) {
    const zero = /(^|\.)layers\.\d+\.(self_attn\.o_proj|mlp\.down_proj)\.weight$/.test(k);
    if (zero) zeroed++;
    out.set(k, zero ? { dtype: 'float32', shape: [...t.shape], data: new Float32Array(t.data.length) } as IoTensor : t);
  }
  if (zeroed === 0 && [...weights.keys()].some((k) => /(^|\.)layers\.\d+\./.test(k))) throw new UserError('text_encoder.init "embeddings": no layer output projections found to zero');
  return out;
}

/** Where block i of a d-block stack goes in a D-block one: spread evenly, ⌊i·D/d⌋. */
export function grownBlockIndex(i: number, d: number, D: number): number {
  return Math.floor((i * D) / d);
}

/**
 * The weights of a d-block transformer grown to D blocks: old block i becomes block ⌊i·D/d⌋; each
 * added block gets block 0's weight names and shapes, initialised by `initRule` (seeded by `seed`)
 * except its output projections (attention proj, MLP down_proj), which are zero, so that with the
 * pre-norm residual blocks (x + f(norm x)) it is an identity until training moves it.
 */
export function growDepth(weights: Map<string, IoTensor>, d: number, D: number, seed: number): Map<string, IoTensor> {
  const out = new Map<string, IoTensor>();
  const block0: [string, IoTensor][] = [];
  for (const [k, t] of weights) {
    const m = /^blocks\.(\d+)\.(.*)$/.exec(k);
    if (!m) { out.set(k, t); continue; }
    const i = Number(m[1]);
    if (i >= d) throw new UserError(`init_grow: weight ${k} is beyond the folder's depth ${d}`);
    out.set(`blocks.${grownBlockIndex(i, d, D)}.${m[2]}`, t);
    if (i === 0) block0.push([m[2], t]);
  }
  const kept = new Set(Array.from({ length: d }, (_, i) => grownBlockIndex(i, d, D)));
  const fresh = new InitWeightStore(seed, { depth: D });
  for (let j = 0; j < D; j++) {
    if (kept.has(j)) continue;
    for (const [rest, t] of block0) {
      const name = `blocks.${j}.${rest}`;
      const zero = /^(attn\.proj|ffn\.down_proj)\.(weight|bias)$/.test(rest); // the blocks' output projections
      const data = zero ? new Float32Array(t.data.length) : (fresh.get(name, t.shape)!.data as Float32Array);
      out.set(name, { dtype: 'float32', shape: [...t.shape], data } as IoTensor);
    }
  }
  return out;
}

/**
 * The weights of a v-code model grown to V codes: codebook rows kept, added codes initialised as
 * from scratch; the logit head's rows kept, the added rows initialised as from scratch with biases
 * at the least old bias (the grown model starts almost never choosing a code it has not learnt).
 */
export function growVocab(tokenizer: Map<string, IoTensor>, transformer: Map<string, IoTensor>, v: number, V: number, seed: number):
  { tokenizer: Map<string, IoTensor>; transformer: Map<string, IoTensor> } {
  const fresh = new InitWeightStore(seed);
  /** `name` [v, ...] in `m` grown to [V, ...]: its rows, then `added(t)` (the V − v new rows, flat). */
  const grow = (m: Map<string, IoTensor>, name: string, added: (t: IoTensor) => Float32Array): Map<string, IoTensor> => {
    const t = m.get(name);
    if (!t || t.shape[0] !== v) throw new UserError(`init_grow: ${name} is ${t ? JSON.stringify(t.shape) : 'missing'}, expected ${v} rows`);
    const data = new Float32Array(V * (t.data.length / v));
    data.set(t.data as Float32Array);
    data.set(added(t), t.data.length);
    return new Map(m).set(name, { dtype: 'float32', shape: [V, ...t.shape.slice(1)], data } as IoTensor);
  };
  const fromScratch = (name: string) => (t: IoTensor) =>
    (fresh.get(name, [V, ...t.shape.slice(1)])!.data as Float32Array).subarray(t.data.length);
  const tk = grow(tokenizer, 'quantize.embedding.weight', fromScratch('quantize.embedding.weight'));
  let tr = grow(transformer, 'head.weight', fromScratch('head.weight'));
  if (transformer.has('head.bias')) tr = grow(tr, 'head.bias', (t) => new Float32Array(V - v).fill((t.data as Float32Array).reduce((a, b) => Math.min(a, b), Infinity)));
  return { tokenizer: tk, transformer: tr };
}

/** sha256 of the folder's weight files, for the run's recipe fingerprint. */
export async function initFingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const part of ['tokenizer', 'transformer', 'text_encoder']) {
    try {
      h.update(await readFile(join(resolve(dir), part, 'model.safetensors')));
    } catch (e) {
      throw new UserError(`init: cannot read ${join(dir, part, 'model.safetensors')}: ${(e as Error).message}`);
    }
  }
  return h.digest('hex');
}

/** Throws unless the caption tokenizer this recipe builds is the init folder's. */
export function checkCaptionTokenizer(init: InitWeights, built: object): void {
  if (JSON.stringify(init.tokenizerJson) !== JSON.stringify(JSON.parse(JSON.stringify(built)))) {
    throw new UserError(`init: ${init.dir}'s caption tokenizer differs from the one this recipe builds from its data (train the init model with the same data and emoji sets)`);
  }
}
