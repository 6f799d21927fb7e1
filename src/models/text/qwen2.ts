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
// Graph inputs:  hidden [B, L, C] float32 · rope_cos, rope_sin [L, head_dim] · attn_bias [B, L, P + L]
//                · per layer past_k.{i}, past_v.{i} [1, KV, 1, P, head_dim] (a cached prefix; P may be 0)
// Graph outputs: hidden_out [B, L, C] float32 · per layer present_k.{i}, present_v.{i} [B, KV, 1, L, head_dim]
import { Graph, concat, type Tensor } from '../../graph/index.ts';
import { Params, applyRope, attention, linear, rmsNorm, swiglu, type WeightStore } from '../../nn/index.ts';
import type { Qwen2Config } from './config.ts';

/** Keys (after RoPE) and values of one layer, grouped by K/V head: [B, KV, 1, L, hd]. */
export interface Qwen2LayerKv { k: Tensor; v: Tensor }

/**
 * One Qwen2DecoderLayer on x_BLC; p is scoped at `layers.{i}`. With `past` (the layer's keys/values of
 * P earlier tokens, [1, KV, 1, P, hd], shared by every batch row; P may be 0), the L tokens attend to
 * them before their own, and bias is [B, 1, 1, L, P + L]. Returns the layer's output and this call's
 * keys/values.
 */
export function qwen2LayerKv(
  p: Params, cfg: Qwen2Config, x_BLC: Tensor, cos_Ld: Tensor, sin_Ld: Tensor, bias: Tensor, past?: Qwen2LayerKv,
): { out: Tensor } & Qwen2LayerKv {
  const C = cfg.hidden_size, hd = cfg.head_dim, H = cfg.num_attention_heads, KV = cfg.num_key_value_heads;
  const rep = H / KV;
  const a = p.scope('self_attn');
  const h_BLC = rmsNorm(p.scope('input_layernorm'), x_BLC, cfg.rms_norm_eps);
  // Heads grouped by their K/V head: q [B, KV, rep, L, hd], k/v [B, KV, 1, L, hd]; MatMul broadcasts
  // the K/V head over its `rep` query heads, which is repeat_kv without the copy.
  const q = linear(a.scope('q_proj'), h_BLC, H * hd).reshape([0, 0, KV, rep, hd]).transpose([0, 2, 3, 1, 4]);
  const k = applyRope(linear(a.scope('k_proj'), h_BLC, KV * hd).reshape([0, 0, KV, 1, hd]).transpose([0, 2, 3, 1, 4]), cos_Ld, sin_Ld);
  const v = linear(a.scope('v_proj'), h_BLC, KV * hd).reshape([0, 0, KV, 1, hd]).transpose([0, 2, 3, 1, 4]);
  let kAll = k, vAll = v;
  if (past) {
    // the past rows broadcast over the batch: expanded against one token's [B, KV, 1, 1, hd]
    const like = k.slice([3], [0], [1]);
    kAll = concat([past.k.expandAs(like), k], 3);
    vAll = concat([past.v.expandAs(like), v], 3);
  }
  const o = attention(applyRope(q, cos_Ld, sin_Ld), kAll, vAll, 1 / Math.sqrt(hd), bias);
  const o_BLC = o.transpose([0, 3, 1, 2, 4]).reshape([0, 0, H * hd]);
  const x1 = x_BLC.add(linear(a.scope('o_proj'), o_BLC, C, false));
  const m_BLC = swiglu(p.scope('mlp'), rmsNorm(p.scope('post_attention_layernorm'), x1, cfg.rms_norm_eps), cfg.intermediate_size);
  return { out: x1.add(m_BLC), k, v };
}

/** One Qwen2DecoderLayer on x_BLC with an additive bias [B, 1, 1, L, L]; p is scoped at `layers.{i}`. */
export function qwen2Layer(p: Params, cfg: Qwen2Config, x_BLC: Tensor, cos_Ld: Tensor, sin_Ld: Tensor, bias_B11LL: Tensor): Tensor {
  return qwen2LayerKv(p, cfg, x_BLC, cos_Ld, sin_Ld, bias_B11LL).out;
}

export interface Qwen2SegmentSpec {
  /** First layer index (inclusive). */
  start: number;
  /** Last layer index (exclusive). */
  end: number;
  /** Apply the final `norm` after the last layer (the last segment). */
  finalNorm: boolean;
}

/**
 * The graph of layers [start, end) (+ the final norm), weights by canonical name: its output `hidden_out`.
 * The tokens attend to P earlier tokens (a cached prefix, such as the system prompt; P may be 0) given
 * per layer i as inputs `past_k.{i}` / `past_v.{i}` [1, KV, 1, P, hd]; `attn_bias` is [B, L, P + L],
 * and the rope tables hold positions P … P + L − 1. Outputs `present_k.{i}` / `present_v.{i}`
 * [B, KV, 1, L, hd] are the layers' keys/values of these L tokens (the prefix's, when it runs alone).
 */
export function qwen2SegmentOutputs(store: WeightStore, cfg: Qwen2Config, seg: Qwen2SegmentSpec): Record<string, Tensor> {
  if (!(seg.start >= 0 && seg.end > seg.start && seg.end <= cfg.num_hidden_layers)) {
    throw new Error(`Qwen2 segment [${seg.start}, ${seg.end}) outside 0..${cfg.num_hidden_layers}`);
  }
  const g = new Graph();
  const p = new Params(g, store);
  const KV = cfg.num_key_value_heads, hd = cfg.head_dim;
  const x = g.input('hidden', 'float32', ['B', 'L', cfg.hidden_size]);
  const cos = g.input('rope_cos', 'float32', ['L', hd]);
  const sin = g.input('rope_sin', 'float32', ['L', hd]);
  const bias = g.input('attn_bias', 'float32', ['B', 'L', '(P+L)']).unsqueeze([1, 2]);
  const outputs: Record<string, Tensor> = {};
  let h = x;
  for (let i = seg.start; i < seg.end; i++) {
    const past = { k: g.input(`past_k.${i}`, 'float32', [1, KV, 1, 'P', hd]), v: g.input(`past_v.${i}`, 'float32', [1, KV, 1, 'P', hd]) };
    const r = qwen2LayerKv(p.scope('layers').scope(i), cfg, h, cos, sin, bias, past);
    h = r.out;
    outputs[`present_k.${i}`] = r.k;
    outputs[`present_v.${i}`] = r.v;
  }
  if (seg.finalNorm) h = rmsNorm(p.scope('norm'), h, cfg.rms_norm_eps);
  return { hidden_out: h, ...outputs };
}
