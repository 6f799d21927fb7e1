// The Qwen2 decoder stack as graphs (HF transformers Qwen2Model: pre-norm blocks of GQA self-attention
// with RoPE and a SwiGLU MLP, a final RMSNorm; hart-spec §1.1). One graph holds a contiguous run of
// layers (a "segment"), so a 1.5B model (6 GB in float32) is split into ONNX files below protobuf's
// 2 GB limit; the token embedding is gathered on the host (encoder.ts).
//
// Per layer (HF names):   h = x + o_proj(attn(input_layernorm(x)))
//                         y = h + mlp(post_attention_layernorm(h)),  mlp = down(silu(gate)·up)
// attention: q/k/v_proj with bias, o_proj without; q,k rotated with rotate-half RoPE; query head
// j·rep + r reads K/V head j (repeat_kv); scale 1/√head_dim; an additive mask (causal + padding,
// built on the host) before the softmax; the last segment ends with `norm`.
//
// Graph inputs:  hidden [B, L, C] float32 · rope_cos, rope_sin [L, head_dim] · attn_bias [B, L, L]
// Graph output:  hidden_out [B, L, C] float32
import { Graph, type Tensor } from '../../graph/index.ts';
import { Params, applyRope, attention, linear, rmsNorm, swiglu, type WeightStore } from '../../nn/index.ts';
import type { Qwen2Config } from './config.ts';

/** One Qwen2DecoderLayer on x_BLC; p is scoped at `layers.{i}`. */
export function qwen2Layer(p: Params, cfg: Qwen2Config, x_BLC: Tensor, cos_Ld: Tensor, sin_Ld: Tensor, bias_B11LL: Tensor): Tensor {
  const C = cfg.hidden_size, hd = cfg.head_dim, H = cfg.num_attention_heads, KV = cfg.num_key_value_heads;
  const rep = H / KV;
  const a = p.scope('self_attn');
  const h_BLC = rmsNorm(p.scope('input_layernorm'), x_BLC, cfg.rms_norm_eps);
  // Heads grouped by their K/V head: q [B, KV, rep, L, hd], k/v [B, KV, 1, L, hd]; MatMul broadcasts
  // the K/V head over its `rep` query heads, which is repeat_kv without the copy.
  const q = linear(a.scope('q_proj'), h_BLC, H * hd).reshape([0, 0, KV, rep, hd]).transpose([0, 2, 3, 1, 4]);
  const k = linear(a.scope('k_proj'), h_BLC, KV * hd).reshape([0, 0, KV, 1, hd]).transpose([0, 2, 3, 1, 4]);
  const v = linear(a.scope('v_proj'), h_BLC, KV * hd).reshape([0, 0, KV, 1, hd]).transpose([0, 2, 3, 1, 4]);
  const o = attention(applyRope(q, cos_Ld, sin_Ld), applyRope(k, cos_Ld, sin_Ld), v, 1 / Math.sqrt(hd), bias_B11LL);
  const o_BLC = o.transpose([0, 3, 1, 2, 4]).reshape([0, 0, H * hd]);
  const x1 = x_BLC.add(linear(a.scope('o_proj'), o_BLC, C, false));
  const m_BLC = swiglu(p.scope('mlp'), rmsNorm(p.scope('post_attention_layernorm'), x1, cfg.rms_norm_eps), cfg.intermediate_size);
  return x1.add(m_BLC);
}

export interface Qwen2SegmentSpec {
  /** First layer index (inclusive). */
  start: number;
  /** Last layer index (exclusive). */
  end: number;
  /** Apply the final `norm` after the last layer (the last segment). */
  finalNorm: boolean;
}

/** The graph of layers [start, end) (+ the final norm), weights by canonical name: its output `hidden_out`. */
export function qwen2SegmentOutputs(store: WeightStore, cfg: Qwen2Config, seg: Qwen2SegmentSpec): Record<string, Tensor> {
  if (!(seg.start >= 0 && seg.end > seg.start && seg.end <= cfg.num_hidden_layers)) {
    throw new Error(`Qwen2 segment [${seg.start}, ${seg.end}) outside 0..${cfg.num_hidden_layers}`);
  }
  const g = new Graph();
  const p = new Params(g, store);
  const x = g.input('hidden', 'float32', ['B', 'L', cfg.hidden_size]);
  const cos = g.input('rope_cos', 'float32', ['L', cfg.head_dim]);
  const sin = g.input('rope_sin', 'float32', ['L', cfg.head_dim]);
  const bias = g.input('attn_bias', 'float32', ['B', 'L', 'L']).unsqueeze([1, 2]);
  let h = x;
  for (let i = seg.start; i < seg.end; i++) h = qwen2Layer(p.scope('layers').scope(i), cfg, h, cos, sin, bias);
  if (seg.finalNorm) h = rmsNorm(p.scope('norm'), h, cfg.rms_norm_eps);
  return { hidden_out: h };
}
