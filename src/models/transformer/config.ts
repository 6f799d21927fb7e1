// HARTForT2IConfig: the transformer's config.json (hart/modules/models/transformer/configuration.py),
// with the official field names and code defaults, strict parsing (unknown fields are an error,
// Hugging Face bookkeeping keys are tolerated) and the sizes derived from it (spec §3.1).
import { describe, f, type Field, hasOwn, isPlainObject, parseFields, reject } from '../../io/schema.ts';

export interface HARTForT2IConfig {
  vae_path: string | null;
  context_token: number;
  context_dim: number;
  depth: number;
  embed_dim: number;
  num_heads: number;
  mlp_ratio: number;
  drop_rate: number;
  attn_drop_rate: number;
  drop_path_rate: number;
  norm_eps: number;
  shared_aln: boolean;
  cond_drop_rate: number;
  attn_l2_norm: boolean;
  patch_nums: number[];
  flash_if_available: boolean;
  fused_if_available: boolean;
  mlp_type: 'llama' | 'gpt2';
  attn_type: 'llama' | 'gpt2';
  disable_aln: boolean;
  use_timestep_embed: boolean;
  sep_aln_pooling_mode: 'max' | 'avg';
  use_cross_attn: boolean;
  diff_width: number;
  diff_depth: number;
  num_sampling_steps: string;
  diffusion_batch_mul: number;
  sampler: string;
  use_context_norm: boolean;
  context_norm_scale: number;
  diffusion_head_repeats: number;
}

/** The code defaults of HARTForT2IConfig (VARTransformerT2IConfig + the HART fields). */
export const HART_T2I_DEFAULTS: Readonly<HARTForT2IConfig> = Object.freeze({
  vae_path: null,
  context_token: 77,
  context_dim: 768,
  depth: 16,
  embed_dim: 1024,
  num_heads: 16,
  mlp_ratio: 4.0,
  drop_rate: 0.0,
  attn_drop_rate: 0.0,
  drop_path_rate: 0.0,
  norm_eps: 1e-6,
  shared_aln: false,
  cond_drop_rate: 0.1,
  attn_l2_norm: false,
  patch_nums: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
  flash_if_available: true,
  fused_if_available: true,
  mlp_type: 'gpt2',
  attn_type: 'gpt2',
  disable_aln: false,
  use_timestep_embed: false,
  sep_aln_pooling_mode: 'max',
  use_cross_attn: false,
  diff_width: 1024,
  diff_depth: 6,
  num_sampling_steps: '8',
  diffusion_batch_mul: 4,
  sampler: 'iddpm',
  use_context_norm: false,
  context_norm_scale: 1.0,
  diffusion_head_repeats: 1,
} as HARTForT2IConfig);

/** Keys written by Hugging Face's PretrainedConfig, accepted and ignored. */
const HF_BOOKKEEPING = new Set([
  'architectures', 'model_type', 'torch_dtype', 'transformers_version', '_name_or_path', 'auto_map',
  'return_dict', 'output_hidden_states', 'output_attentions', 'torchscript', 'use_bfloat16', 'tf_legacy_loss',
  'pruned_heads', 'tie_word_embeddings', 'is_encoder_decoder', 'is_decoder', 'cross_attention_hidden_size',
  'add_cross_attention', 'tie_encoder_decoder', 'chunk_size_feed_forward', '_commit_hash', '_attn_implementation_autoset',
  'id2label', 'label2id', 'problem_type', 'tokenizer_class', 'prefix', 'bos_token_id', 'pad_token_id',
  'eos_token_id', 'sep_token_id', 'decoder_start_token_id', 'task_specific_params', 'finetuning_task',
]);

const MODEL_TYPE = 'hart_transformer_t2i';

/** Bounds are generous (the released model: depth 24, embed_dim 1536, patch_nums up to 64) but keep
 * a hostile config from sizing a graph or a loop by a number it never has the weights for. */
const DIM = f.int(1, 1 << 16);
const FIELDS: Record<keyof HARTForT2IConfig, Field<unknown>> = {
  vae_path: f.nullable(f.string()), context_token: f.int(1, 1 << 16), context_dim: DIM, depth: f.int(1, 1024), embed_dim: DIM,
  num_heads: f.int(1, 4096), mlp_ratio: f.number(0, 64, true), drop_rate: f.number(0, 1), attn_drop_rate: f.number(0, 1),
  drop_path_rate: f.number(0, 1), norm_eps: f.number(0, 1, true), shared_aln: f.bool(), cond_drop_rate: f.number(0, 1),
  attn_l2_norm: f.bool(), patch_nums: f.list(f.int(1, 1024), 2, 64),
  flash_if_available: f.bool(), fused_if_available: f.bool(), mlp_type: f.oneOf(['llama', 'gpt2']), attn_type: f.oneOf(['llama', 'gpt2']),
  disable_aln: f.bool(), use_timestep_embed: f.bool(), sep_aln_pooling_mode: f.oneOf(['max', 'avg']), use_cross_attn: f.bool(),
  diff_width: DIM, diff_depth: f.int(1, 1024), num_sampling_steps: samplingSteps(), diffusion_batch_mul: f.int(1, 1024), sampler: f.oneOf(['iddpm']),
  use_context_norm: f.bool(), context_norm_scale: f.number(-1e6, 1e6), diffusion_head_repeats: f.int(1, 1024),
};

/** num_sampling_steps: the diffusion step count, a string ("8") as officially, or a number; 1–1000. */
function samplingSteps(): Field<string> {
  const want = 'a step count from 1 to 1000 (e.g. "8")';
  return {
    want,
    check: (v) => {
      const s = typeof v === 'number' ? String(v) : v;
      if (typeof s === 'string' && /^\d{1,4}$/.test(s) && Number(s) >= 1 && Number(s) <= 1000) return String(Number(s));
      return reject(want, v);
    },
  };
}

/** The diffusion step count num_sampling_steps names (the model's default for diffusionSteps). */
export function samplingStepCount(cfg: Pick<HARTForT2IConfig, 'num_sampling_steps'>): number {
  return Number(cfg.num_sampling_steps);
}

/**
 * Parses a transformer config.json object: code defaults for absent fields, a clear error for an
 * unknown field or a value of the wrong type or out of range, and the structural checks the
 * official __init__ makes. `what` names the file in messages.
 */
export function parseHartConfig(json: unknown, what = 'HARTForT2IConfig'): HARTForT2IConfig {
  if (!isPlainObject(json)) throw new Error(`${what}: config.json must be a JSON object, got ${describe(json)}`);
  if (hasOwn(json, 'model_type') && json.model_type !== MODEL_TYPE) {
    throw new Error(`${what}: model_type is ${describe(json.model_type)}, expected "${MODEL_TYPE}"`);
  }
  const checked = parseFields(json, FIELDS, what, HF_BOOKKEEPING);
  const out: Record<string, unknown> = { ...HART_T2I_DEFAULTS, patch_nums: [...HART_T2I_DEFAULTS.patch_nums], ...checked };
  const cfg = out as unknown as HARTForT2IConfig;
  if (cfg.embed_dim % cfg.num_heads !== 0) {
    throw new Error(`${what}: embed_dim ${cfg.embed_dim} is not divisible by num_heads ${cfg.num_heads}`);
  }
  return cfg;
}

/** Sizes derived from the config (and, for V and Cvae, from the tokenizer / the weights). */
export interface HartDims {
  C: number;
  depth: number;
  heads: number;
  headDim: number;
  /** SwiGLU hidden size int(C·mlp_ratio·2/3 + 255) // 256 · 256 (llama mlp). */
  ffnHidden: number;
  /** context_token: the number of prefix (text) tokens. */
  T: number;
  contextDim: number;
  patchNums: number[];
  numScales: number;
  /** Σ pn² over all scales. */
  L: number;
  /** Full training sequence: T + L − 1 (the 1×1 scale is predicted from the last context token). */
  seqLen: number;
  /** pn_last² tokens of the last scale. */
  lastScaleTokens: number;
  /** Image tokens before the last scale (scales 1 … N−2). */
  imageTokensBeforeLast: number;
  /** Start of the last scale in the full sequence: T + L − 1 − pn_last². */
  lastScaleStart: number;
  /** Attention softmax scale: 0.25/√hd, or 1 with attn_l2_norm. */
  attnScale: number;
  normEps: number;
}

export function hartDims(cfg: HARTForT2IConfig): HartDims {
  const C = cfg.embed_dim, heads = cfg.num_heads, headDim = C / heads;
  const patchNums = [...cfg.patch_nums];
  const L = patchNums.reduce((s, pn) => s + pn * pn, 0);
  const last = patchNums[patchNums.length - 1] ** 2;
  const T = cfg.context_token;
  return {
    C, depth: cfg.depth, heads, headDim,
    ffnHidden: Math.floor(Math.trunc((C * cfg.mlp_ratio * 2) / 3 + 255) / 256) * 256,
    T, contextDim: cfg.context_dim, patchNums, numScales: patchNums.length, L,
    seqLen: T + L - 1, lastScaleTokens: last, imageTokensBeforeLast: L - 1 - last,
    lastScaleStart: T + L - 1 - last,
    attnScale: cfg.attn_l2_norm ? 1 : 0.25 / Math.sqrt(headDim),
    normEps: cfg.norm_eps,
  };
}

/** Throws for config paths this port does not implement (GPT-2 blocks, cross-attention). */
export function assertSupported(cfg: HARTForT2IConfig): void {
  const no: string[] = [];
  if (cfg.attn_type !== 'llama') no.push(`attn_type "${cfg.attn_type}" (only "llama")`);
  if (cfg.mlp_type !== 'llama') no.push(`mlp_type "${cfg.mlp_type}" (only "llama")`);
  if (cfg.use_cross_attn) no.push('use_cross_attn: true');
  if (cfg.context_token < 1) no.push('context_token < 1 (class-conditional HART)');
  if (no.length) throw new Error(`HART transformer: unsupported config: ${no.join('; ')}`);
}
