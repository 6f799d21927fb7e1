// HARTForT2IConfig: the transformer's config.json (hart/modules/models/transformer/configuration.py),
// with the official field names and code defaults, strict parsing (unknown fields are an error,
// Hugging Face bookkeeping keys are tolerated) and the sizes derived from it (spec §3.1).

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

type Kind = 'int' | 'number' | 'bool' | 'string' | 'string?' | 'ints' | readonly string[];
const FIELDS: Record<keyof HARTForT2IConfig, Kind> = {
  vae_path: 'string?', context_token: 'int', context_dim: 'int', depth: 'int', embed_dim: 'int', num_heads: 'int',
  mlp_ratio: 'number', drop_rate: 'number', attn_drop_rate: 'number', drop_path_rate: 'number', norm_eps: 'number',
  shared_aln: 'bool', cond_drop_rate: 'number', attn_l2_norm: 'bool', patch_nums: 'ints',
  flash_if_available: 'bool', fused_if_available: 'bool', mlp_type: ['llama', 'gpt2'], attn_type: ['llama', 'gpt2'],
  disable_aln: 'bool', use_timestep_embed: 'bool', sep_aln_pooling_mode: ['max', 'avg'], use_cross_attn: 'bool',
  diff_width: 'int', diff_depth: 'int', num_sampling_steps: 'string', diffusion_batch_mul: 'int', sampler: 'string',
  use_context_norm: 'bool', context_norm_scale: 'number', diffusion_head_repeats: 'int',
};

function checkField(key: string, kind: Kind, v: unknown): unknown {
  const bad = (want: string) => new Error(`HARTForT2IConfig.${key}: expected ${want}, got ${JSON.stringify(v)}`);
  if (Array.isArray(kind)) {
    if (!kind.includes(v as string)) throw bad(`one of ${kind.map((s) => JSON.stringify(s)).join(', ')}`);
    return v;
  }
  switch (kind) {
    case 'int': if (!Number.isInteger(v)) throw bad('an integer'); return v;
    case 'number': if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('a number'); return v;
    case 'bool': if (typeof v !== 'boolean') throw bad('true or false'); return v;
    case 'string': if (typeof v === 'number') return String(v); if (typeof v !== 'string') throw bad('a string'); return v;
    case 'string?': if (v !== null && typeof v !== 'string') throw bad('a string or null'); return v;
    case 'ints':
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x > 0)) throw bad('a list of positive integers');
      return [...v];
  }
  throw bad(String(kind));
}

/**
 * Parses a transformer config.json object: code defaults for absent fields, a clear error for an
 * unknown field or a wrong type, and the structural checks the official __init__ makes.
 */
export function parseHartConfig(json: unknown): HARTForT2IConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('HARTForT2IConfig: config.json must be a JSON object');
  const src = json as Record<string, unknown>;
  if (src.model_type !== undefined && src.model_type !== MODEL_TYPE) {
    throw new Error(`HARTForT2IConfig: model_type is ${JSON.stringify(src.model_type)}, expected "${MODEL_TYPE}"`);
  }
  const unknown = Object.keys(src).filter((k) => !(k in FIELDS) && !HF_BOOKKEEPING.has(k));
  if (unknown.length) {
    throw new Error(`HARTForT2IConfig: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} ` +
      `(known: ${Object.keys(FIELDS).join(', ')})`);
  }
  const out: Record<string, unknown> = { ...HART_T2I_DEFAULTS, patch_nums: [...HART_T2I_DEFAULTS.patch_nums] };
  for (const [k, kind] of Object.entries(FIELDS)) if (src[k] !== undefined) out[k] = checkField(k, kind, src[k]);
  const cfg = out as unknown as HARTForT2IConfig;
  if (cfg.embed_dim % cfg.num_heads !== 0) {
    throw new Error(`HARTForT2IConfig: embed_dim ${cfg.embed_dim} is not divisible by num_heads ${cfg.num_heads}`);
  }
  if (cfg.patch_nums.length < 2) throw new Error('HARTForT2IConfig: patch_nums needs at least 2 scales');
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
