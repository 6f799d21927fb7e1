// Test helpers for the text encoder: random tiny Qwen2 weights, and an independent float64 forward
// of HF transformers' Qwen2Model (eager attention) written from its definition in plain loops:
// embedding, per layer RMSNorm → q/k/v (with bias) → rotate-half RoPE at positions 0..L−1 →
// GQA attention (query head h reads K/V head ⌊h/rep⌋) under a causal + key-padding mask →
// o_proj (no bias) → residual → RMSNorm → SwiGLU → residual; final RMSNorm.
import type { Qwen2Config } from '../../../src/models/text/config.ts';
import { mulberry32 } from '../../mulberry32.ts';

export { mulberry32 };

export function tinyQwen2Config(over: Partial<Qwen2Config> = {}): Qwen2Config {
  return {
    model_type: 'qwen2', vocab_size: 272, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, rms_norm_eps: 1e-6, rope_theta: 1e6,
    max_position_embeddings: 32768, hidden_act: 'silu', use_sliding_window: false, sliding_window: null, ...over,
  };
}

/** The same tiny model as an HF config.json object (with keys we must ignore). */
export function tinyQwen2ConfigJson(cfg: Qwen2Config): Record<string, unknown> {
  return {
    architectures: ['Qwen2ForCausalLM'], attention_dropout: 0, bos_token_id: 151643, eos_token_id: 151645,
    hidden_act: 'silu', hidden_size: cfg.hidden_size, initializer_range: 0.02, intermediate_size: cfg.intermediate_size,
    max_position_embeddings: 32768, max_window_layers: 28, model_type: 'qwen2', num_attention_heads: cfg.num_attention_heads,
    num_hidden_layers: cfg.num_hidden_layers, num_key_value_heads: cfg.num_key_value_heads, rms_norm_eps: cfg.rms_norm_eps,
    rope_theta: cfg.rope_theta, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16',
    transformers_version: '4.45.0', use_cache: true, use_sliding_window: false, vocab_size: cfg.vocab_size,
  };
}

/**
 * Random weights by canonical name (float32). Q/K weights are large enough that attention is
 * peaked (so a wrong mask or head mapping shows), biases and norm weights are non-trivial.
 */
export function randomQwen2Weights(cfg: Qwen2Config, seed: number): Map<string, Float32Array> {
  const rnd = mulberry32(seed);
  const C = cfg.hidden_size, hd = cfg.head_dim, I = cfg.intermediate_size;
  const qDim = cfg.num_attention_heads * hd, kvDim = cfg.num_key_value_heads * hd;
  const u = (n: number, a: number, center = 0) => Float32Array.from({ length: n }, () => center + a * (2 * rnd() - 1));
  const m = new Map<string, Float32Array>();
  m.set('embed_tokens.weight', u(cfg.vocab_size * C, 1.7));
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `layers.${l}.`;
    m.set(p + 'input_layernorm.weight', u(C, 0.3, 1));
    m.set(p + 'self_attn.q_proj.weight', u(qDim * C, 2 / Math.sqrt(C)));
    m.set(p + 'self_attn.q_proj.bias', u(qDim, 0.3));
    m.set(p + 'self_attn.k_proj.weight', u(kvDim * C, 2 / Math.sqrt(C)));
    m.set(p + 'self_attn.k_proj.bias', u(kvDim, 0.3));
    m.set(p + 'self_attn.v_proj.weight', u(kvDim * C, 1.7 / Math.sqrt(C)));
    m.set(p + 'self_attn.v_proj.bias', u(kvDim, 0.3));
    m.set(p + 'self_attn.o_proj.weight', u(C * qDim, 1.7 / Math.sqrt(qDim)));
    m.set(p + 'post_attention_layernorm.weight', u(C, 0.3, 1));
    m.set(p + 'mlp.gate_proj.weight', u(I * C, 1.7 / Math.sqrt(C)));
    m.set(p + 'mlp.up_proj.weight', u(I * C, 1.7 / Math.sqrt(C)));
    m.set(p + 'mlp.down_proj.weight', u(C * I, 1.7 / Math.sqrt(I)));
  }
  m.set('norm.weight', u(C, 0.3, 1));
  return m;
}

/** y[n, o] = Σ_i x[n, i] W[o, i] (+ b[o]); x [N, In], W [Out, In]. */
function linear(x: Float64Array, N: number, In: number, W: ArrayLike<number>, Out: number, b?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(N * Out);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < In; i++) s += x[n * In + i] * W[o * In + i];
      y[n * Out + o] = s;
    }
  }
  return y;
}

function rmsNorm(x: Float64Array, N: number, C: number, w: ArrayLike<number>, eps: number): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[n * C + c] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[n * C + c] = x[n * C + c] * r * w[c];
  }
  return y;
}

/** Rotate-half RoPE in place on x [L, heads·hd] at positions 0..L−1. */
function rope(x: Float64Array, L: number, heads: number, hd: number, theta: number): void {
  const half = hd / 2;
  for (let t = 0; t < L; t++) {
    for (let h = 0; h < heads; h++) {
      const o = t * heads * hd + h * hd;
      const v = x.slice(o, o + hd);
      for (let d = 0; d < hd; d++) {
        const ang = t * Math.pow(theta, -(2 * (d % half)) / hd);
        const rot = d < half ? -v[d + half] : v[d - half];
        x[o + d] = v[d] * Math.cos(ang) + rot * Math.sin(ang);
      }
    }
  }
}

/**
 * Qwen2Model's last_hidden_state in float64 for one row of `ids` (length L) with a 0/1 attention
 * mask. A query with no visible key gets uniform weights over all L keys (HF eager attention adds
 * float32-min to every masked score, so such a row's scores are all equal).
 */
export function qwen2ReferenceRow(cfg: Qwen2Config, w: Map<string, ArrayLike<number>>, ids: ArrayLike<number>, mask: ArrayLike<number>): Float64Array {
  const C = cfg.hidden_size, hd = cfg.head_dim, H = cfg.num_attention_heads, KV = cfg.num_key_value_heads, I = cfg.intermediate_size;
  const L = ids.length, rep = H / KV, eps = cfg.rms_norm_eps;
  const W = (k: string) => {
    const v = w.get(k);
    if (!v) throw new Error(`reference: no weight ${k}`);
    return v;
  };
  let x: Float64Array = new Float64Array(L * C);
  const E = W('embed_tokens.weight');
  for (let t = 0; t < L; t++) for (let c = 0; c < C; c++) x[t * C + c] = E[ids[t] * C + c];

  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `layers.${l}.`;
    const h = rmsNorm(x, L, C, W(p + 'input_layernorm.weight'), eps);
    const q = linear(h, L, C, W(p + 'self_attn.q_proj.weight'), H * hd, W(p + 'self_attn.q_proj.bias'));
    const k = linear(h, L, C, W(p + 'self_attn.k_proj.weight'), KV * hd, W(p + 'self_attn.k_proj.bias'));
    const v = linear(h, L, C, W(p + 'self_attn.v_proj.weight'), KV * hd, W(p + 'self_attn.v_proj.bias'));
    rope(q, L, H, hd, cfg.rope_theta);
    rope(k, L, KV, hd, cfg.rope_theta);
    const o = new Float64Array(L * H * hd);
    const s = new Float64Array(L);
    for (let hh = 0; hh < H; hh++) {
      const g = Math.floor(hh / rep);
      for (let i = 0; i < L; i++) {
        const visible: number[] = [];
        for (let j = 0; j <= i; j++) if (mask[j]) visible.push(j);
        const keys = visible.length ? visible : [...Array(L).keys()];
        let mx = -Infinity;
        for (const j of keys) {
          let d = 0;
          for (let e = 0; e < hd; e++) d += q[i * H * hd + hh * hd + e] * k[j * KV * hd + g * hd + e];
          s[j] = visible.length ? d / Math.sqrt(hd) : 0;
          mx = Math.max(mx, s[j]);
        }
        let z = 0;
        for (const j of keys) z += Math.exp(s[j] - mx);
        for (const j of keys) {
          const pj = Math.exp(s[j] - mx) / z;
          for (let e = 0; e < hd; e++) o[i * H * hd + hh * hd + e] += pj * v[j * KV * hd + g * hd + e];
        }
      }
    }
    const a = linear(o, L, H * hd, W(p + 'self_attn.o_proj.weight'), C);
    for (let n = 0; n < L * C; n++) a[n] += x[n];
    x = a;
    const h2 = rmsNorm(x, L, C, W(p + 'post_attention_layernorm.weight'), eps);
    const gate = linear(h2, L, C, W(p + 'mlp.gate_proj.weight'), I);
    const up = linear(h2, L, C, W(p + 'mlp.up_proj.weight'), I);
    for (let n = 0; n < L * I; n++) gate[n] = (gate[n] / (1 + Math.exp(-gate[n]))) * up[n];
    const m = linear(gate, L, I, W(p + 'mlp.down_proj.weight'), C);
    for (let n = 0; n < L * C; n++) x[n] += m[n];
  }
  return rmsNorm(x, L, C, W('norm.weight'), eps);
}

/** Largest |a − b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
