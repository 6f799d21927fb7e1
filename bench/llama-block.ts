// The benchmark's transformer block: HART's Llama-style block (spec §3.3, disable_aln path) without
// biases, x += proj(attn(rope(qkv(RMSNorm(x))))); x += down(silu(gate(h))·up(h)), h = RMSNorm(x),
// with a separate norm weight per sub-layer (as Llama), full (unmasked) attention and 1-D RoPE
// (positions 0..L−1). Weights [out, in] as torch.nn.Linear; bench/torch_block.py is the same block.
//
// Two lowerings of the same math:
//   'standard' — src/nn building blocks, only ONNX standard ops;
//   'fused'    — ONNX Runtime contrib ops (bench/fused-ops.ts): SimplifiedLayerNormalization and
//                MultiHeadAttention on [B, L, C] (RoPE applied on [B, L, H, hd]: no head transposes).
//                (com.microsoft RotaryEmbedding is not used: it assumes equal cos for both halves of
//                a rotated pair, which HART's 2-D image RoPE [fx, fx, fy, fy] breaks.)
// FLOPs (forward, matmuls only, 2·M·N·K each): with T = B·L tokens,
//   qkv 2·T·C·3C + proj 2·T·C·C + gate/up 2·2·T·C·F + down 2·T·F·C + QKᵀ 2·B·H·L·L·hd + AV 2·B·H·L·L·hd
//   = 2·T·(4·C² + 3·C·F) + 4·B·L²·C          (F = FFN hidden, hd = C/H).
import type { Tensor } from '../src/graph/index.ts';
import { Graph } from '../src/graph/index.ts';
import type { StoredTensor } from '../src/nn/index.ts';
import { MapWeightStore, Params, applyRope, attention, linear, rmsNorm, swiglu } from '../src/nn/index.ts';
import { contextRope } from '../src/tables/rope.ts';
import { fusedAttention, fusedRmsNorm } from './fused-ops.ts';

export interface BlockConfig { B: number; L: number; C: number; heads: number; hidden: number; eps: number }

/** HART's FFN width: int(C·4·2/3 + 255) // 256 · 256 (spec §3.3); 1536 for C = 512. */
export const hartHidden = (C: number): number => Math.floor(Math.floor(C * 4 * 2 / 3 + 255) / 256) * 256;

export function benchConfig(B = 2, L = 1024, C = 512, heads = 8): BlockConfig {
  return { B, L, C, heads, hidden: hartHidden(C), eps: 1e-6 };
}

/** Forward matmul FLOPs of one block (formula in the header). */
export function blockFlops({ B, L, C, hidden: F }: BlockConfig): number {
  const T = B * L;
  return 2 * T * (4 * C * C + 3 * C * F) + 4 * B * L * L * C;
}

/** [name, shape] of every weight, in a fixed order (torch_block.py uses the same names). */
export function blockWeightShapes({ C, hidden: F }: BlockConfig): [string, number[]][] {
  return [
    ['attn_norm.weight', [C]],
    ['attn.qkv_proj.weight', [3 * C, C]],
    ['attn.proj.weight', [C, C]],
    ['ffn_norm.weight', [C]],
    ['ffn.gate_proj.weight', [F, C]],
    ['ffn.up_proj.weight', [F, C]],
    ['ffn.down_proj.weight', [C, F]],
  ];
}

/** Deterministic weights: norms 1, linears uniform in ±1/√in (torch.nn.Linear's range). */
export function blockWeights(cfg: BlockConfig, seed = 1): Map<string, StoredTensor> {
  let s = seed >>> 0;
  const rand = () => { // xorshift32, uniform in [0, 1)
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  const m = new Map<string, StoredTensor>();
  for (const [name, shape] of blockWeightShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else { const r = 1 / Math.sqrt(shape[1]); for (let i = 0; i < n; i++) data[i] = (2 * rand() - 1) * r; }
    m.set(name, { dtype: 'float32', shape, data });
  }
  return m;
}

export type Lowering = 'standard' | 'fused';

export interface BlockGraph {
  graph: Graph;
  /** [B, L, C] */
  x: Tensor;
  /** [B, L, C] */
  y: Tensor;
  /** The weights as graph parameters, in blockWeightShapes order. */
  params: Tensor[];
}

/** Records the block on a fresh graph; x is a graph input named 'x'. */
export function buildBlock(cfg: BlockConfig, weights: Map<string, StoredTensor>, lowering: Lowering): BlockGraph {
  const { B, L, C, heads: H, hidden: F, eps } = cfg;
  const hd = C / H;
  const graph = new Graph();
  const p = new Params(graph, new MapWeightStore(weights));
  const x = graph.input('x', 'float32', [B, L, C]);
  const rope = contextRope(Float32Array.from({ length: L }, (_, i) => i), hd);
  const scale = 1 / Math.sqrt(hd);
  let y: Tensor;
  if (lowering === 'standard') {
    const cos = graph.constant(rope.cos, [L, hd]), sin = graph.constant(rope.sin, [L, hd]);
    const heads = (t: Tensor) => t.reshape([B, L, H, hd]).transpose([0, 2, 1, 3]); // [B, H, L, hd]
    const h = rmsNorm(p.scope('attn_norm'), x, eps);
    const [q, k, v] = linear(p.scope('attn.qkv_proj'), h, 3 * C, false).split(-1, [C, C, C]).map(heads);
    const o = attention(applyRope(q, cos, sin), applyRope(k, cos, sin), v, scale);
    const x1 = x.add(linear(p.scope('attn.proj'), o.transpose([0, 2, 1, 3]).reshape([B, L, C]), C, false));
    y = x1.add(swiglu(p.scope('ffn'), rmsNorm(p.scope('ffn_norm'), x1, eps), F));
  } else {
    // RoPE on [B, L, H, hd] (cos/sin [L, 1, hd]) and attention on [B, L, C]: no head transposes.
    const cos = graph.constant(rope.cos, [L, 1, hd]), sin = graph.constant(rope.sin, [L, 1, hd]);
    const roped = (t: Tensor) => applyRope(t.reshape([B, L, H, hd]), cos, sin).reshape([B, L, C]);
    const h = fusedRmsNorm(x, p.get('attn_norm.weight', [C]), eps);
    const [q, k, v] = linear(p.scope('attn.qkv_proj'), h, 3 * C, false).split(-1, [C, C, C]);
    const o = fusedAttention(roped(q), roped(k), v, H, scale);
    const x1 = x.add(linear(p.scope('attn.proj'), o, C, false));
    y = x1.add(swiglu(p.scope('ffn'), fusedRmsNorm(x1, p.get('ffn_norm.weight', [C]), eps), F));
  }
  const params = blockWeightShapes(cfg).map(([name, shape]) => p.get(name, shape));
  return { graph, x, y, params };
}
