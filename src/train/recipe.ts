// A training recipe (recipes/*.json): the data mix, the three models' configs (official field
// names) and each stage's schedule. Parsed strictly: unknown fields and wrong types are errors
// naming the field, so a typo never silently trains with a default.
import { parseHartConfig, type HARTForT2IConfig } from '../models/transformer/config.ts';
import { parseTokenizerConfig, type HartTokenizerConfig } from '../models/tokenizer/config.ts';
import { parseQwen2Config, type Qwen2Config } from '../models/text/config.ts';
import { DEFAULTS_SCHEMA } from '../pipeline/hart-json.ts';
import { modelDefaults, type ModelDefaults } from '../pipeline/options.ts';
import { parseFields } from '../io/schema.ts';

export interface StageSchedule {
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  min_lr: number;
  weight_decay: number;
  grad_clip: number;
}

export interface TokenizerStage extends StageSchedule {
  config: HartTokenizerConfig;
  /** Probability that a sample's decoder sees the discrete-only latent (HART's alternating training: 0.5). */
  skip_continuous_prob: number;
  l1_weight: number;
  /** Every this many steps, codes unused since the last restart are moved onto encoder outputs (0 = never). */
  dead_code_every: number;
  /** Probability that a training scene is drawn in random colours (src/train/data/recolour.ts; 0 = never). */
  recolour: number;
}

export interface TransformerStage extends StageSchedule {
  config: HARTForT2IConfig;
  /** Probability that a sample's text condition is dropped (trains the unconditional branch for CFG). */
  cond_drop: number;
  /** Last-scale tokens kept per sample (MAR-style subsampling; pn_last² keeps all). */
  kept_last: number;
  /** EMA decay of the weights used for sampling. */
  ema: number;
  diff_weight: number;
  /**
   * The last-scale index whose codebook row conditions the residual diffusion and is subtracted
   * from its target: "ground-truth" (the encoder's; this project's default until run 25) or
   * "sampled" (the official: drawn from the model's own logits, top-k 600, top-p 0.96, so the head
   * learns to correct the transformer's wrong tokens; src/train/sampled-index.ts).
   */
  diff_index: DiffIndex;
  /** Probability that a training scene's caption names only its shapes or only its colours (scene-vocab.ts partialCaption; 0 = never). */
  partial_captions: number;
  /**
   * Probability that a training emoji's caption is its plain label ("red apple", "a red apple")
   * instead of "twemoji: red apple" (emoji-join.ts plainEmojiCaption; 0 = never), so that prompts
   * written as people write them reach the emoji too.
   */
  plain_emoji_captions: number;
  /**
   * Probability that a teacher-forced token of a scale before the last is one of its code's nearest
   * other codes instead (transformer-batch.ts buildEncodeGraph): later scales then learn to correct
   * a wrong coarser token, as they must when generating (0 = never, the official training).
   */
  self_correction: number;
  /**
   * Which weights learn: "all" (text encoder, transformer and residual diffusion) or "text_encoder"
   * (the transformer and its diffusion head frozen as `init` gives them: new captions reach what
   * the model already draws without changing how it draws; needs init).
   */
  trained: TrainedWeights;
}

export type TrainedWeights = 'all' | 'text_encoder';
export type DiffIndex = 'ground-truth' | 'sampled';
export const DIFF_INDEX_MODES: readonly DiffIndex[] = ['ground-truth', 'sampled'];

/**
 * Optional stage 3: the tokenizer's decoder (and post_quant_conv) trained further with the
 * encoder, codebook and φ frozen (the official freeze_codebook_for_hybrid), so the transformer's
 * tokens stay valid while reconstructions sharpen.
 */
export interface DecoderStage extends StageSchedule {
  skip_continuous_prob: number;
  l1_weight: number;
  /** As the tokenizer stage's: probability that a training scene is drawn in random colours. */
  recolour: number;
}

export interface TextEncoderStage {
  config: Omit<Qwen2Config, 'vocab_size'>;
  /**
   * What the text encoder takes from the recipe's `init` folder: 'all' its weights; 'embeddings'
   * its word embeddings, norms and input projections, with every layer's output projections
   * (self_attn.o_proj, mlp.down_proj) zero, so that each layer starts as an identity and each
   * context position carries its own word alone until training mixes them again.
   */
  init: 'all' | 'embeddings';
}

export interface Recipe {
  name: string;
  /**
   * A HART.js model folder (relative to the working directory) whose weights every stage starts
   * from instead of the random initialisation; null = from scratch. A tokenizer stage of 0 steps
   * keeps its tokenizer as it is.
   */
  init: string | null;
  /**
   * 'depth': the transformer may be deeper than the init folder's. Its blocks are spread evenly
   * through the deeper stack (old block i becomes block ⌊i·D/d⌋) and each added block starts as
   * an identity (output projections zero, the rest freshly initialised), so the grown model computes
   * what the folder's did until training moves it. 'vocab': the tokenizer's codebook may be larger
   * than the folder's. Its codes keep their rows and the added ones start fresh, near zero (those
   * the quantizer does not pick move onto encoder outputs at the dead-code restarts); the logit
   * head keeps its rows and gets fresh ones for the added codes, their biases at the least of the
   * old ones. null: every config must match the folder's.
   */
  init_grow: 'depth' | 'vocab' | null;
  seed: number;
  resolution: number;
  patch_nums: number[];
  data: { emoji: number; scenes: number; emoji_sets: ('twitter' | 'google')[] };
  tokenizer: TokenizerStage;
  text_encoder: TextEncoderStage;
  transformer: TransformerStage;
  decoder: DecoderStage | null;
  /** Write a checkpoint every this many steps (and at the end of a stage, and on Ctrl-C). */
  checkpoint_every: number;
  /** Write a grid of samples for `sample_prompts` every this many transformer steps (0 = only at the end). */
  sample_every: number;
  sample_prompts: string[];
  /** The generated model's sampling defaults (hart.json). */
  defaults: Required<ModelDefaults>;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class RecipeError extends Error {}

function obj(v: unknown, where: string, keys: readonly string[]): Json {
  if (!isObj(v)) throw new RecipeError(`${where} must be an object`);
  const unknown = Object.keys(v).filter((k) => !keys.includes(k));
  if (unknown.length) throw new RecipeError(`${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${keys.join(', ')})`);
  return v;
}

function diffIndex(v: unknown): DiffIndex {
  if (v === undefined) return 'ground-truth';
  if (!DIFF_INDEX_MODES.includes(v as DiffIndex)) throw new RecipeError(`transformer.diff_index must be ${DIFF_INDEX_MODES.map((m) => `"${m}"`).join(' or ')}, got ${JSON.stringify(v)}`);
  return v as DiffIndex;
}

function trainedWeights(v: unknown, hasInit: boolean): TrainedWeights {
  if (v === undefined || v === 'all') return 'all';
  if (v !== 'text_encoder') throw new RecipeError(`transformer.trained must be "all" or "text_encoder", got ${JSON.stringify(v)}`);
  if (!hasInit) throw new RecipeError('transformer.trained "text_encoder" needs init (the model folder whose transformer stays as it is)');
  return v;
}

function num(o: Json, k: string, where: string, min: number, max: number, int = false, fallback?: number): number {
  const v = Object.hasOwn(o, k) ? o[k] : fallback;
  if (v === undefined) throw new RecipeError(`${where}.${k} is missing`);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    throw new RecipeError(`${where}.${k} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

const SCHEDULE_KEYS = ['steps', 'batch', 'lr', 'warmup', 'min_lr', 'weight_decay', 'grad_clip'];

function schedule(o: Json, where: string): StageSchedule {
  const s = {
    steps: num(o, 'steps', where, 0, 1e8, true),
    batch: num(o, 'batch', where, 1, 4096, true),
    lr: num(o, 'lr', where, 0, 10),
    warmup: num(o, 'warmup', where, 0, 1e8, true, 0),
    min_lr: num(o, 'min_lr', where, 0, 10, false, 0),
    weight_decay: num(o, 'weight_decay', where, 0, 10, false, 0),
    grad_clip: num(o, 'grad_clip', where, 0, 1e6, false, 1),
  };
  if (s.min_lr > s.lr) throw new RecipeError(`${where}.min_lr ${s.min_lr} exceeds lr ${s.lr}`);
  return s;
}

function wrap<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new RecipeError(`${where}: ${(e as Error).message}`);
  }
}

/**
 * Fingerprint of what the weights of each stage depend on (seed, sizes, data, the stages'
 * configs and schedules), not of sampling settings or logging: a run may be resumed with a recipe
 * that differs only in those, or that adds a later stage.
 */
export function stageFingerprint(r: Recipe, stage: 'tokenizer' | 'transformer' | 'decoder'): unknown {
  const base = { ...(r.init !== null ? { init: r.init } : {}), ...(r.init_grow !== null ? { init_grow: r.init_grow } : {}), seed: r.seed, resolution: r.resolution, patch_nums: r.patch_nums, data: r.data, tokenizer: withoutDefaults(r.tokenizer, { recolour: 0 }) };
  if (stage === 'tokenizer') return base;
  const transformer = withoutDefaults(r.transformer, { partial_captions: 0, diff_index: 'ground-truth', plain_emoji_captions: 0, self_correction: 0, trained: 'all' });
  const tr = { ...base, text_encoder: withoutDefaults(r.text_encoder, { init: 'all' }), transformer };
  return stage === 'transformer' ? tr : { ...tr, decoder: r.decoder && withoutDefaults(r.decoder, { recolour: 0 }) };
}

/** A stage without the fields added later that have their defaults, so runs checkpointed before those fields existed still resume. */
function withoutDefaults<T extends object>(s: T, defaults: Partial<T>): Partial<T> {
  const out: Partial<T> = { ...s };
  for (const k of Object.keys(defaults) as (keyof T)[]) if (out[k] === defaults[k]) delete out[k];
  return out;
}

/** Parses and checks a recipe object (from recipes/*.json); `what` names the file in errors. */
export function parseRecipe(json: unknown, what = 'recipe'): Recipe {
  try {
    return parse(json);
  } catch (e) {
    if (e instanceof RecipeError) throw new Error(`${what}: ${e.message}`);
    throw e;
  }
}

function parse(json: unknown): Recipe {
  const o = obj(json, 'the recipe', ['name', 'seed', 'resolution', 'patch_nums', 'data', 'tokenizer', 'text_encoder', 'transformer', 'decoder',
    'checkpoint_every', 'sample_every', 'sample_prompts', 'defaults', 'comment', 'init', 'init_grow']);
  if (o.init !== undefined && (typeof o.init !== 'string' || o.init.trim() === '' || o.init.length > 1000)) {
    throw new RecipeError('init must be the path of a model folder (a non-empty string)');
  }
  if (o.init_grow !== undefined && o.init_grow !== 'depth' && o.init_grow !== 'vocab') throw new RecipeError(`init_grow must be "depth" or "vocab" (got ${JSON.stringify(o.init_grow)})`);
  if (o.init_grow !== undefined && o.init === undefined) throw new RecipeError('init_grow needs init (the model folder to grow)');
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(o.name)) throw new RecipeError('name must be 1–64 letters, digits, "_", "." or "-"');
  const pn = o.patch_nums;
  if (!Array.isArray(pn) || pn.length < 2 || pn.length > 32 || pn.some((v) => !Number.isInteger(v) || v < 1 || v > 256)) {
    throw new RecipeError('patch_nums must be 2–32 integers in [1, 256]');
  }
  const patch_nums = pn as number[];
  const resolution = num(o, 'resolution', 'the recipe', 8, 4096, true);

  const d = obj(o.data, 'data', ['emoji', 'scenes', 'emoji_sets']);
  const sets = d.emoji_sets ?? ['twitter', 'google'];
  if (!Array.isArray(sets) || sets.length === 0 || sets.some((s) => s !== 'twitter' && s !== 'google')) {
    throw new RecipeError('data.emoji_sets must be a non-empty list of "twitter" / "google"');
  }
  const data = { emoji: num(d, 'emoji', 'data', 0, 1), scenes: num(d, 'scenes', 'data', 0, 1), emoji_sets: sets as ('twitter' | 'google')[] };
  if (data.emoji + data.scenes <= 0) throw new RecipeError('data: emoji and scenes weights are both 0');

  const tk = obj(o.tokenizer, 'tokenizer', ['config', ...SCHEDULE_KEYS, 'skip_continuous_prob', 'l1_weight', 'dead_code_every', 'recolour']);
  const tokConfig = wrap('tokenizer.config', () => parseTokenizerConfig({ ...(tk.config as object), v_patch_nums: patch_nums }));
  const down = 2 ** (tokConfig.ch_mult.length - 1);
  if (resolution / down !== patch_nums[patch_nums.length - 1]) {
    throw new RecipeError(`the last patch num ${patch_nums[patch_nums.length - 1]} must be resolution / ${down} = ${resolution / down}`);
  }
  const tokenizer: TokenizerStage = {
    ...schedule(tk, 'tokenizer'),
    config: tokConfig,
    skip_continuous_prob: num(tk, 'skip_continuous_prob', 'tokenizer', 0, 1, false, 0.5),
    l1_weight: num(tk, 'l1_weight', 'tokenizer', 0, 100, false, 0.5),
    dead_code_every: num(tk, 'dead_code_every', 'tokenizer', 0, 1e8, true, 0),
    recolour: num(tk, 'recolour', 'tokenizer', 0, 1, false, 0),
  };

  const te = obj(o.text_encoder, 'text_encoder', ['config', 'init']);
  if (te.init !== undefined && te.init !== 'all' && te.init !== 'embeddings') throw new RecipeError(`text_encoder.init must be "all" or "embeddings" (got ${JSON.stringify(te.init)})`);
  if (te.init === 'embeddings' && o.init === undefined) throw new RecipeError('text_encoder.init "embeddings" needs init (the model folder to start from)');
  const textConfig = wrap('text_encoder.config', () => parseQwen2Config({ model_type: 'qwen2', ...(te.config as object), vocab_size: 1 }));
  const { vocab_size: _v, ...textRest } = textConfig;

  const tr = obj(o.transformer, 'transformer', ['config', ...SCHEDULE_KEYS, 'cond_drop', 'kept_last', 'ema', 'diff_weight', 'diff_index', 'partial_captions', 'plain_emoji_captions', 'self_correction', 'trained']);
  const trConfig = wrap('transformer.config', () => parseHartConfig({ ...(tr.config as object), patch_nums, context_dim: textConfig.hidden_size }));
  const last = patch_nums[patch_nums.length - 1] ** 2;
  const transformer: TransformerStage = {
    ...schedule(tr, 'transformer'),
    config: trConfig,
    cond_drop: num(tr, 'cond_drop', 'transformer', 0, 1, false, 0.1),
    kept_last: num(tr, 'kept_last', 'transformer', 1, last, true, last),
    ema: num(tr, 'ema', 'transformer', 0, 1, false, 0.999),
    diff_weight: num(tr, 'diff_weight', 'transformer', 0, 100, false, 1),
    diff_index: diffIndex(tr.diff_index),
    partial_captions: num(tr, 'partial_captions', 'transformer', 0, 1, false, 0),
    plain_emoji_captions: num(tr, 'plain_emoji_captions', 'transformer', 0, 1, false, 0),
    self_correction: num(tr, 'self_correction', 'transformer', 0, 1, false, 0),
    trained: trainedWeights(tr.trained, o.init !== undefined),
  };

  let decoder: DecoderStage | null = null;
  if (o.decoder !== undefined) {
    const dc = obj(o.decoder, 'decoder', [...SCHEDULE_KEYS, 'skip_continuous_prob', 'l1_weight', 'recolour']);
    decoder = {
      ...schedule(dc, 'decoder'),
      skip_continuous_prob: num(dc, 'skip_continuous_prob', 'decoder', 0, 1, false, 0.5),
      l1_weight: num(dc, 'l1_weight', 'decoder', 0, 100, false, tokenizer.l1_weight),
      recolour: num(dc, 'recolour', 'decoder', 0, 1, false, 0),
    };
  }

  const sp = o.sample_prompts ?? [];
  if (!Array.isArray(sp) || sp.length > 64 || sp.some((s) => typeof s !== 'string' || s.trim() === '' || s.length > 200)) {
    throw new RecipeError('sample_prompts must be up to 64 non-empty strings of ≤ 200 characters');
  }
  // the same schema hart.json's defaults are read with, so a recipe cannot write a model folder that fails to load
  let df: Partial<ModelDefaults>;
  try {
    df = parseFields(o.defaults ?? {}, DEFAULTS_SCHEMA, 'defaults') as Partial<ModelDefaults>;
  } catch (e) {
    throw new RecipeError((e as Error).message);
  }
  return {
    name: o.name,
    init: (o.init as string | undefined) ?? null,
    init_grow: (o.init_grow as 'depth' | 'vocab' | undefined) ?? null,
    seed: num(o, 'seed', 'the recipe', 0, Number.MAX_SAFE_INTEGER, true),
    resolution,
    patch_nums,
    data,
    tokenizer,
    text_encoder: { config: textRest, init: (te.init as 'all' | 'embeddings' | undefined) ?? 'all' },
    transformer,
    decoder,
    checkpoint_every: num(o, 'checkpoint_every', 'the recipe', 1, 1e8, true, 200),
    sample_every: num(o, 'sample_every', 'the recipe', 0, 1e8, true, 0),
    sample_prompts: sp as string[],
    // absent ones as for a hart.json without them: the config's num_sampling_steps, else sample.py's values
    defaults: modelDefaults(df, trConfig),
  };
}
