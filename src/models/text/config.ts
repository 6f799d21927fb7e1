// The text encoder's config: HF Qwen2Config fields (transformers/models/qwen2/configuration_qwen2.py)
// parsed from text_encoder/config.json. HART's encoder is a bare Qwen2Model (no LM head) taken from
// "Qwen2-VL-1.5B-Instruct" (model_type "qwen2"); hart-spec §1.1.
//
// - `model_type: "qwen2"`: the fields are read from the top level.
// - `model_type: "qwen2_vl"`: the language-model settings live at the top level (transformers < 4.52)
//   or under `text_config` (later versions); `text_config` wins where both exist and
//   `vision_config` is ignored. Its `rope_scaling` is M-RoPE ({type: "mrope", mrope_section}); for
//   text-only input all three M-RoPE position streams equal the token index, so it is exactly the
//   1-D RoPE used here and is accepted.
// Every other HF key (architectures, torch_dtype, bos/eos ids, use_cache, tie_word_embeddings, ...)
// is tolerated and ignored. Missing size fields are an error (HF's defaults describe a 7B model and
// would only fail later as weight shape mismatches).

export interface Qwen2Config {
  /** "qwen2" or "qwen2_vl" (the file's model_type). */
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** GQA: K/V heads; query head h reads K/V head floor(h / (heads / kv_heads)) (HF repeat_kv). */
  num_key_value_heads: number;
  /** hidden_size / num_attention_heads unless the file sets head_dim. */
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  hidden_act: 'silu';
  use_sliding_window: boolean;
  sliding_window: number | null;
}

import { describe, hasOwn } from '../../io/schema.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Upper bounds on sizes (Qwen2-72B: hidden 8192, 80 layers, vocab 152k, 131k positions), so a
 * hostile config never sizes a graph, a table or a loop beyond any real model. */
const MAX: Record<string, number> = {
  vocab_size: 1 << 22, hidden_size: 1 << 16, intermediate_size: 1 << 18, num_hidden_layers: 1024, num_attention_heads: 1024,
  num_key_value_heads: 1024, head_dim: 4096, max_position_embeddings: 1 << 22,
};

/** Parses a Qwen2 (or Qwen2-VL) config.json object. */
export function parseQwen2Config(json: unknown, what = 'text_encoder/config.json'): Qwen2Config {
  if (!isObject(json)) throw new Error(`${what}: not a JSON object`);
  const modelType = json.model_type;
  if (modelType !== 'qwen2' && modelType !== 'qwen2_vl') {
    throw new Error(`${what}: model_type ${describe(modelType)} is not a Qwen2 text model (expected "qwen2" or "qwen2_vl")`);
  }
  const c: Json = modelType === 'qwen2_vl' && isObject(json.text_config) ? { ...json, ...json.text_config } : json;

  const get = (key: string) => (hasOwn(c, key) ? c[key] : undefined);
  const int = (key: string, fallback?: number): number => {
    const v = get(key) ?? fallback;
    if (v === undefined) throw new Error(`${what}: missing "${key}"`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > MAX[key]) throw new Error(`${what}: "${key}" must be an integer in [1, ${MAX[key]}], got ${describe(v)}`);
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = get(key) ?? fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`${what}: "${key}" must be a positive number, got ${describe(v)}`);
    return v;
  };

  const hidden_size = int('hidden_size');
  const num_attention_heads = int('num_attention_heads');
  const num_key_value_heads = int('num_key_value_heads', num_attention_heads);
  if (num_attention_heads % num_key_value_heads !== 0) {
    throw new Error(`${what}: num_attention_heads ${num_attention_heads} is not a multiple of num_key_value_heads ${num_key_value_heads}`);
  }
  if (get('head_dim') === undefined && hidden_size % num_attention_heads !== 0) {
    throw new Error(`${what}: hidden_size ${hidden_size} is not divisible by num_attention_heads ${num_attention_heads}`);
  }
  const head_dim = int('head_dim', Math.floor(hidden_size / num_attention_heads));
  if (head_dim % 2 !== 0) throw new Error(`${what}: head_dim ${head_dim} must be even for RoPE`);

  const act = get('hidden_act') ?? 'silu';
  if (act !== 'silu') throw new Error(`${what}: hidden_act ${describe(act)} is not supported (Qwen2 uses "silu")`);

  const rs = get('rope_scaling');
  if (rs !== undefined && rs !== null) {
    const kind = isObject(rs) ? (rs.rope_type ?? rs.type) : undefined;
    // "mrope" (Qwen2-VL) reduces to plain RoPE for text-only input; "default" is plain RoPE.
    if (kind !== 'mrope' && kind !== 'default') {
      throw new Error(`${what}: rope_scaling ${describe(rs)} is not supported (only none, "default" and Qwen2-VL "mrope")`);
    }
  }

  const sw = get('sliding_window');
  if (sw !== undefined && sw !== null && !(Number.isInteger(sw) && (sw as number) > 0)) throw new Error(`${what}: "sliding_window" must be a positive integer or null, got ${describe(sw)}`);
  return {
    model_type: modelType,
    vocab_size: int('vocab_size'),
    hidden_size,
    intermediate_size: int('intermediate_size'),
    num_hidden_layers: int('num_hidden_layers'),
    num_attention_heads,
    num_key_value_heads,
    head_dim,
    rms_norm_eps: num('rms_norm_eps', 1e-6),
    rope_theta: num('rope_theta', 10000),
    max_position_embeddings: int('max_position_embeddings', 32768),
    hidden_act: 'silu',
    use_sliding_window: get('use_sliding_window') === true,
    sliding_window: typeof sw === 'number' ? sw : null,
  };
}

/**
 * A Qwen2-1.5B-sized config (the official text encoder's dimensions: hidden 1536, 28 layers,
 * 12 heads, 2 KV heads, intermediate 8960, vocab 151936, θ 1e6), for benchmarks with random weights.
 */
export function qwen2_1_5bConfig(): Qwen2Config {
  return {
    model_type: 'qwen2',
    vocab_size: 151936,
    hidden_size: 1536,
    intermediate_size: 8960,
    num_hidden_layers: 28,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    head_dim: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 1e6,
    max_position_embeddings: 32768,
    hidden_act: 'silu',
    use_sliding_window: false,
    sliding_window: null,
  };
}

/** Parameter shapes of the language model, by canonical (prefix-free) name, in checkpoint order. */
export function qwen2ParamShapes(cfg: Qwen2Config): Map<string, number[]> {
  const C = cfg.hidden_size, hd = cfg.head_dim, qDim = cfg.num_attention_heads * hd, kvDim = cfg.num_key_value_heads * hd;
  const I = cfg.intermediate_size;
  const m = new Map<string, number[]>([['embed_tokens.weight', [cfg.vocab_size, C]]]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    for (const [k, s] of qwen2LayerShapes(C, qDim, kvDim, I)) m.set(`layers.${i}.${k}`, s);
  }
  m.set('norm.weight', [C]);
  return m;
}

function qwen2LayerShapes(C: number, qDim: number, kvDim: number, I: number): [string, number[]][] {
  return [
    ['input_layernorm.weight', [C]],
    ['self_attn.q_proj.weight', [qDim, C]], ['self_attn.q_proj.bias', [qDim]],
    ['self_attn.k_proj.weight', [kvDim, C]], ['self_attn.k_proj.bias', [kvDim]],
    ['self_attn.v_proj.weight', [kvDim, C]], ['self_attn.v_proj.bias', [kvDim]],
    ['self_attn.o_proj.weight', [C, qDim]],
    ['post_attention_layernorm.weight', [C]],
    ['mlp.gate_proj.weight', [I, C]], ['mlp.up_proj.weight', [I, C]], ['mlp.down_proj.weight', [C, I]],
  ];
}

/** Total parameter count (1,543,714,304 for qwen2_1_5bConfig()). */
export function qwen2ParamCount(cfg: Qwen2Config): number {
  let n = 0;
  for (const s of qwen2ParamShapes(cfg).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}
