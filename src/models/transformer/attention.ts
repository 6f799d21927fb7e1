// HART's LlamaAttention (basic_hart.py, spec §3.4): qkv_proj without bias plus cat(q_bias,
// zero_k_bias, v_bias), optional l2-normalised q/k (attn_l2_norm), RoPE (rotate_half) applied to q
// and k from precomputed cos/sin tables, K/V appended to a cache, softmax(q·kᵀ·0.25/√hd + bias)·v,
// then proj (with bias). Heads can be processed in static groups so that the [l, P] score matrix
// of all heads is never materialised at once (the full model's last scale: 2×4096 queries against
// ~9750 keys per head), or lowered to ONNX Runtime's com.microsoft MultiHeadAttention.
import { concat, defineOp, type Tensor } from '../../graph/index.ts';
import { applyRope, type Params } from '../../nn/index.ts';
import type { HARTForT2IConfig } from './config.ts';
import { precisionLinear, type MatmulPrecision } from './precision.ts';

export interface AttentionOptions {
  /** 'graph': plain ops (default). 'mha': com.microsoft MultiHeadAttention (ONNX Runtime only, no masks). */
  kernel?: 'graph' | 'mha';
  /** Split the heads into this many groups, computed one after another (must divide num_heads). */
  headGroups?: number;
  /**
   * With head groups: split the queries into chunks of this many tokens as well, so a score matrix
   * is at most [B, heads/groups, queryChunk, keys]. Needs maxQueries, the largest token count a
   * call will see (chunks past the call's tokens are empty).
   */
  queryChunk?: number;
  maxQueries?: number;
  /** Precision of the blocks' Linear layers (precision.ts; default float32). */
  precision?: MatmulPrecision;
  /** dynq8's largest weight code (default 127; DYNQ8_REDUCED_MAX_CODE where the u8·s8 kernel saturates). */
  dynq8MaxCode?: number;
}

export interface AttentionIO {
  /** RoPE tables for this call's tokens, [B, l, hd]. */
  cos_BlD: Tensor;
  sin_BlD: Tensor;
  /** Cached keys/values of earlier tokens, [B, H, P, hd] (RoPE already applied to the keys). */
  past?: { k_BHPD: Tensor; v_BHPD: Tensor };
  /**
   * The same in an inference cache's token-major layout, [P, B, H, hd]: this call's keys are
   * appended in that layout and the result transposed once. The copy then depends on this call's
   * keys, so ONNX Runtime runs it with its block; a transpose of the cache input alone depends on
   * nothing and its reverse-DFS order runs every block's before the first block, holding all of
   * them at once (3 GB at the released model's last scale).
   */
  pastTokenMajor?: { k_PBHD: Tensor; v_PBHD: Tensor };
  /** Additive mask broadcastable to [B, H, l, P + l] (training's block-causal level mask). */
  bias?: Tensor;
}

export interface AttentionResult {
  out_BlC: Tensor;
  /** Keys/values of past + this call's tokens, [B, H, P + l, hd]. */
  k_BHLD: Tensor;
  v_BHLD: Tensor;
  /** This call's keys (RoPE applied) and values alone, [B, H, l, hd]: what a KV cache appends. */
  kNew_BHlD: Tensor;
  vNew_BHlD: Tensor;
}

const MAX_SCALE_MUL = Math.log(100);

/** F.normalize(x, dim=-1): x / max(‖x‖₂, 1e-12). */
function l2Normalize(x: Tensor): Tensor {
  return x.div(x.mul(x).sum([-1], true).sqrt().maximum(1e-12));
}

/** softmax(q·scale·kᵀ + bias)·v on [B, h, l, hd] × [B, h, S, hd]. */
function sdpa(q: Tensor, k: Tensor, v: Tensor, scale: number, bias?: Tensor): Tensor {
  let s = q.mul(scale).matmul(k.mT());
  if (bias) s = s.add(bias);
  return s.softmax(-1).matmul(v);
}

/** Self-attention of one block: p is scoped at `blocks.{i}.attn`. */
export function llamaAttention(
  p: Params, cfg: HARTForT2IConfig, x_BlC: Tensor, io: AttentionIO, opts: AttentionOptions = {},
): AttentionResult {
  const C = cfg.embed_dim, H = cfg.num_heads, hd = C / H;
  const zeroK = p.has('zero_k_bias') ? p.get('zero_k_bias', [C]) : p.graph.constant(new Float32Array(C), [C]);
  const bias3C = concat([p.get('q_bias', [C]), zeroK, p.get('v_bias', [C])], 0);
  const qkv = precisionLinear(p.scope('qkv_proj'), x_BlC, 3 * C, false, opts.precision, opts.dynq8MaxCode).add(bias3C);
  // [B, l, 3, H, hd] → [3, B, H, l, hd]
  const qkv_3BHlD = qkv.reshape([0, 0, 3, H, hd]).transpose([2, 0, 3, 1, 4]);
  let [q, k, v] = qkv_3BHlD.split(0, [1, 1, 1]).map((t) => t.squeeze([0]));
  let scale = 0.25 / Math.sqrt(hd);
  if (cfg.attn_l2_norm) {
    const mul_1H11 = p.get('scale_mul_1H11', [1, H, 1, 1]).minimum(MAX_SCALE_MUL).exp();
    q = l2Normalize(q).mul(mul_1H11);
    k = l2Normalize(k);
    scale = 1;
  }
  const cos = io.cos_BlD.unsqueeze([1]), sin = io.sin_BlD.unsqueeze([1]);
  q = applyRope(q, cos, sin);
  k = applyRope(k, cos, sin);
  let kAll = k, vAll = v;
  // token-major keys/values [S, B, H, hd] (with a token-major cache), from which head groups are sliced
  let kCat_SBHD: Tensor | undefined, vCat_SBHD: Tensor | undefined;
  if (io.past) {
    kAll = concat([io.past.k_BHPD, k], 2);
    vAll = concat([io.past.v_BHPD, v], 2);
  } else if (io.pastTokenMajor) {
    // [P, B, H, hd] ++ [l, B, H, hd] → [B, H, P + l, hd]
    kCat_SBHD = concat([io.pastTokenMajor.k_PBHD, k.transpose([2, 0, 1, 3])], 0);
    vCat_SBHD = concat([io.pastTokenMajor.v_PBHD, v.transpose([2, 0, 1, 3])], 0);
    kAll = kCat_SBHD.transpose([1, 2, 0, 3]);
    vAll = vCat_SBHD.transpose([1, 2, 0, 3]);
  }

  let o_BHlD: Tensor;
  if (opts.kernel === 'mha') {
    if (io.bias) throw new Error('llamaAttention: the MultiHeadAttention kernel takes no mask (inference only)');
    const o = multiHeadAttention(q, kAll, vAll, H, scale);
    return { out_BlC: precisionLinear(p.scope('proj'), o, C, true, opts.precision, opts.dynq8MaxCode), k_BHLD: kAll, v_BHLD: vAll, kNew_BHlD: k, vNew_BHlD: v };
  }
  const groups = opts.headGroups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || H % groups !== 0) {
    throw new Error(`llamaAttention: headGroups ${groups} must divide num_heads ${H}`);
  }
  if (groups === 1) {
    o_BHlD = sdpa(q, kAll, vAll, scale, io.bias);
  } else {
    const hg = H / groups;
    const sizes = new Array(groups).fill(hg);
    // Per group, its heads' keys/values: from the token-major concatenation one slice each (so
    // the whole [B, H, S, hd] transpose is never held), else a split of [B, H, S, hd].
    const split = kCat_SBHD && vCat_SBHD ? undefined : { k: kAll.split(1, sizes), v: vAll.split(1, sizes) };
    const tokenMajor = (t: Tensor, g: number, perm: number[]) => t.slice([2], [g * hg], [(g + 1) * hg]).transpose(perm);
    const k_BhSD = (g: number) => (split ? split.k[g] : tokenMajor(kCat_SBHD!, g, [1, 2, 0, 3]));
    const kT_BhDS = (g: number) => (split ? split.k[g].mT() : tokenMajor(kCat_SBHD!, g, [1, 2, 3, 0]));
    const v_BhSD = (g: number) => (split ? split.v[g] : tokenMajor(vCat_SBHD!, g, [1, 2, 0, 3]));
    const Q = opts.queryChunk, maxL = opts.maxQueries;
    const chunks = Q && maxL && maxL > Q ? Math.ceil(maxL / Q) : 1;
    if (chunks === 1) {
      o_BHlD = concat(q.split(1, sizes).map((qg, g) => sdpa(qg, k_BhSD(g), v_BhSD(g), scale, io.bias)), 1);
    } else {
      if (io.bias) throw new Error('llamaAttention: query chunks take no attention bias');
      // groups × chunks products (96 per block at the released 1024 px): the queries are scaled
      // once, cut into chunks (the last runs to the end, so they add up to the call's l tokens) and
      // each chunk split into the groups, and each group's keys are transposed once for all its
      // chunks: ~3 nodes per product instead of ~6 (ONNX Runtime's optimizer time grows faster
      // than the node count: bench/transformer-compile.ts).
      const qScaled = q.mul(scale);
      const chunkGroups = Array.from({ length: chunks }, (_, c) => qScaled.slice([2], [c * Q!], [c === chunks - 1 ? Infinity : (c + 1) * Q!]).split(1, sizes));
      o_BHlD = concat(Array.from({ length: groups }, (_, g) => {
        const kT = kT_BhDS(g), vg = v_BhSD(g);
        return concat(chunkGroups.map((qc) => qc[g].matmul(kT).softmax(-1).matmul(vg)), 2);
      }), 1);
    }
  }
  const o_BlC = o_BHlD.transpose([0, 2, 1, 3]).reshape([0, 0, C]);
  return { out_BlC: precisionLinear(p.scope('proj'), o_BlC, C, true, opts.precision, opts.dynq8MaxCode), k_BHLD: kAll, v_BHLD: vAll, kNew_BHlD: k, vNew_BHlD: v };
}

/**
 * com.microsoft MultiHeadAttention on RoPE'd q [B, H, l, hd] and full k/v [B, H, S, hd]:
 * returns [B, l, H·hd]. ONNX Runtime only (CPU, CUDA, WebGPU); no autodiff.
 */
function multiHeadAttention(q_BHlD: Tensor, k_BHSD: Tensor, v_BHSD: Tensor, heads: number, scale: number): Tensor {
  const C = heads * (q_BHlD.shape[3] as number);
  const q_BlC = q_BHlD.transpose([0, 2, 1, 3]).reshape([0, 0, C]);
  return q_BlC.graph.apply1('HartMHA', [q_BlC, k_BHSD, v_BHSD], { heads, scale });
}

defineOp({
  name: 'HartMHA',
  infer: ([q, k, v], attrs) => {
    if (q.rank !== 3 || k.rank !== 4 || v.rank !== 4) throw new Error('HartMHA: q [B,l,C], k/v [B,H,S,hd]');
    if (k.shape[1] !== attrs.heads) throw new Error(`HartMHA: k has ${k.shape[1]} heads, expected ${attrs.heads}`);
    return [{ dtype: q.dtype, shape: [q.shape[0], q.shape[1], q.shape[2]] }];
  },
  // Keys/values in BNSH layout are accepted by MultiHeadAttention as "cross attention with
  // pre-projected K/V" (no past/present), which is exactly the cached-attention case.
  emit: (ctx, node) => {
    const [q, k, v] = node.inputs;
    ctx.node('MultiHeadAttention', [ctx.name(q), ctx.name(k), ctx.name(v)], [ctx.name(node.outputs[0])],
      { num_heads: node.attrs.heads as number, scale: { f: node.attrs.scale as number } }, 'com.microsoft');
  },
});
