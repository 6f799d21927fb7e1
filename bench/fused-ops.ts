// ONNX Runtime contrib ops as graph ops, for the benchmark's 'fused' block lowering (inference):
//   FusedRmsNorm   x·rsqrt(mean(x²) + eps)·w       → SimplifiedLayerNormalization (ORT, ONNX domain)
//   FusedAttention softmax(q·kᵀ·scale)·v per head on [B, L, H·hd] tensors
//                                                   → com.microsoft MultiHeadAttention (CPU: flash
//                                                     attention when there is no mask, bias or cache)
// Each has a vector-Jacobian rule written with standard ops (recomputing what it needs), so graphs
// that use them still differentiate; test/bench/fused-ops.test.ts checks both against the
// standard-op forms.
import type { Tensor } from '../src/graph/index.ts';
import { defineOp } from '../src/graph/index.ts';

function sameShape(a: Tensor, b: Tensor, what: string): void {
  if (a.shape.join() !== b.shape.join()) throw new Error(`${what}: ${a} and ${b} differ in shape`);
}

defineOp({
  name: 'FusedRmsNorm',
  infer: ([x, w]) => {
    if (x.dtype !== 'float32' || w.dtype !== 'float32') throw new Error('float32 only');
    if (w.rank !== 1 || w.shape[0] !== x.shape[x.rank - 1]) throw new Error(`weight ${w} does not match the last dim of ${x}`);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  emit: (ctx, node) => ctx.node('SimplifiedLayerNormalization', node.inputs.map((t) => ctx.name(t)),
    [ctx.name(node.outputs[0])], { axis: -1, epsilon: { f: node.attrs.eps as number } }),
  vjp: (node, [g]) => {
    if (!g) return [null, null];
    const [x, w] = node.inputs;
    const r = x.mul(x).mean([-1], true).add(node.attrs.eps as number).rsqrt();
    const n = x.mul(r);
    const gn = g.mul(w);
    // d/dx of x·r: r·(gn − n·mean(gn·n))
    const gx = gn.sub(n.mul(gn.mul(n).mean([-1], true))).mul(r);
    const lead = [...Array(x.rank - 1).keys()];
    return [gx, g.mul(n).sum(lead)];
  },
});

/** RMSNorm over the last dim with a weight, as one ORT kernel. */
export function fusedRmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  return x.graph.apply1('FusedRmsNorm', [x, w], { eps });
}

defineOp({
  name: 'FusedAttention',
  infer: ([q, k, v], { heads }) => {
    sameShape(k, v, 'FusedAttention');
    if (q.rank !== 3 || k.rank !== 3) throw new Error('q, k, v must be [B, L, H·hd]');
    const C = q.shape[2];
    if (typeof C !== 'number' || C % (heads as number) !== 0 || k.shape[2] !== C) throw new Error(`hidden ${C} vs ${heads} heads`);
    return [{ dtype: q.dtype, shape: [...q.shape] }];
  },
  emit: (ctx, node) => ctx.node('MultiHeadAttention', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])],
    { num_heads: node.attrs.heads as number, scale: { f: node.attrs.scale as number } }, 'com.microsoft'),
  vjp: (node, [g]) => {
    if (!g) return [null, null, null];
    const [q, k, v] = node.inputs;
    const H = node.attrs.heads as number, scale = node.attrs.scale as number;
    const hd = (q.shape[2] as number) / H;
    const split = (t: Tensor) => t.reshape([0, 0, H, hd]).transpose([0, 2, 1, 3]); // [B, H, L, hd]
    const merge = (t: Tensor, like: Tensor) => t.transpose([0, 2, 1, 3]).reshapeAs(like);
    const qh = split(q), kh = split(k), vh = split(v), gh = split(g), oh = split(node.outputs[0]);
    const p = qh.mul(scale).matmul(kh.mT()).softmax(-1); // recomputed probabilities [B, H, Lq, Lk]
    // Softmax VJP with rowsum(gP ∘ P) = rowsum(gO ∘ O): a [.., hd] reduction instead of [.., Lk].
    const gs = p.mul(gh.matmul(vh.mT()).sub(gh.mul(oh).sum([-1], true)));
    return [merge(gs.matmul(kh).mul(scale), q), merge(gs.mT().matmul(qh).mul(scale), k), merge(p.mT().matmul(gh), v)];
  },
});

/** Multi-head softmax(q·kᵀ·scale)·v on [B, L, H·hd] tensors (heads side by side in the last dim). */
export function fusedAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, scale: number): Tensor {
  return q.graph.apply1('FusedAttention', [q, k, v], { heads, scale });
}
