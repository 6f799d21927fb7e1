// The transformer's training step as one graph (HART §3.2–3.3; hart_transformer_t2i.py::forward
// and forward_diff_loss): the small Qwen2 text encoder (trained jointly, scope `text_encoder.`) turns
// caption tokens into the context; rows whose condition is dropped get zero context (the model's
// unconditional input at inference); the teacher-forced sequence [context | scales 1 … N−1 with
// the last scale subsampled] runs under the block-causal mask; the loss is
//   cross-entropy over every kept position (the logits at T−1 … predict scale 0 … N−1)
//   + the residual diffusion loss on the kept last-scale tokens:
//     z = decoder_norm(h + word_embed(codebook[idx])), target = f_rest_wo_last − codebook[idx],
// with idx the ground-truth last-scale index (diffIndex 'ground-truth') or, as the official code,
// drawn from the model's own last-scale logits under no_grad (diffIndex 'sampled': top-k 600,
// top-p 0.96, sampled-index.ts), so that the head learns to correct the transformer's wrong tokens.
// The batch dimension is symbolic: one graph serves every batch size.
import { Graph, type Tensor } from '../graph/index.ts';
import { Params, rmsNorm, type WeightStore } from '../nn/index.ts';
import { forward, type ForwardInputs } from '../models/transformer/forward.ts';
import { diffusionCondition } from '../models/transformer/head.ts';
import { hartDims, type HARTForT2IConfig } from '../models/transformer/config.ts';
import { forwardDiffLoss } from '../models/diffusion/loss.ts';
import { diffLossConfig } from '../models/diffusion/config.ts';
import { qwen2Layer } from '../models/text/qwen2.ts';
import type { Qwen2Config } from '../models/text/config.ts';
import type { DiffIndex } from './recipe.ts';
import { DIFF_INDEX_TOP_K, DIFF_INDEX_TOP_P, sampleIndexInGraph } from './sampled-index.ts';

export const TEXT_SCOPE = 'text_encoder';

export interface TransformerTrainOptions {
  /** Latent channels Cvae (tokenizer z_channels) and codebook size V. */
  Cvae: number;
  vocabSize: number;
  /** Last-scale tokens kept per sample (MAR-style subsampling; pn_last² keeps all). */
  keptLast: number;
  /** Weight of the diffusion loss beside the cross-entropy (default 1). */
  diffWeight?: number;
  /**
   * The diffusion target's last-scale index: 'ground-truth' (default; inputs last_embed, last_residual)
   * or 'sampled' (also inputs diff_gumbel [B, K, V] and codebook [V, Cvae]; extras diff_idx [B, K]
   * and idx_match, the share of them equal to the ground truth).
   */
  diffIndex?: DiffIndex;
  /**
   * Where the context comes from: 'text-encoder' (default: the Qwen2 text encoder in the graph,
   * trained jointly) or 'input' (text features fed as `context` [B, T, context_dim], e.g. from a
   * frozen encoder, as the official model was trained).
   */
  context?: 'text-encoder' | 'input';
  /** Also output the logits (tests; they are large). */
  withLogits?: boolean;
}

export interface TransformerTrainGraph {
  graph: Graph;
  loss: Tensor;
  extras: Record<string, Tensor>;
  params: Tensor[];
}

/**
 * Qwen2Model's last hidden state (after `norm`) on token ids [B, T] with RoPE tables [T, hd] and
 * the additive causal + padding mask [B, T, T] (encoder.ts::qwen2AttentionBias): what the text
 * encoder gives the transformer at inference.
 */
export function qwen2Forward(p: Params, cfg: Qwen2Config, ids_BT: Tensor, cos_Td: Tensor, sin_Td: Tensor, bias_BTT: Tensor): Tensor {
  let h = p.get('embed_tokens.weight', [cfg.vocab_size, cfg.hidden_size]).gather(ids_BT, 0);
  const bias = bias_BTT.unsqueeze([1, 2]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) h = qwen2Layer(p.scope('layers').scope(i), cfg, h, cos_Td, sin_Td, bias);
  return rmsNorm(p.scope('norm'), h, cfg.rms_norm_eps);
}

/** Mean cross-entropy of logits [B, L, V] against int64 targets [B, L]. */
export function crossEntropy(logits_BLV: Tensor, target_BL: Tensor, V: number): Tensor {
  const logp = logits_BLV.logSoftmax(-1);
  return logp.mul(target_BL.oneHot(V)).sum([-1]).neg().mean([0, 1]);
}

export function buildTransformerTrainGraph(
  cfg: HARTForT2IConfig, textCfg: Qwen2Config | null, store: WeightStore, o: TransformerTrainOptions,
): TransformerTrainGraph {
  const d = hartDims(cfg);
  if (textCfg && textCfg.hidden_size !== d.contextDim) throw new Error(`text encoder width ${textCfg.hidden_size} != the transformer's context_dim ${d.contextDim}`);
  if (!(o.keptLast >= 1 && o.keptLast <= d.lastScaleTokens)) throw new Error(`keptLast ${o.keptLast} outside 1 … ${d.lastScaleTokens}`);
  const g = new Graph();
  const p = new Params(g, store);
  const T = d.T, K = o.keptLast, Limg = d.imageTokensBeforeLast + K, S = T + Limg;
  const dl = diffLossConfig(cfg, { z_channels: o.Cvae });

  let features: Tensor;
  if ((o.context ?? 'text-encoder') === 'text-encoder') {
    if (!textCfg) throw new Error('a text-encoder config is needed to train the text encoder');
    const ids = g.input('text_ids', 'int64', ['B', T]);
    const textBias = g.input('text_bias', 'float32', ['B', T, T]);
    const textCos = g.input('text_cos', 'float32', [T, textCfg.head_dim]);
    const textSin = g.input('text_sin', 'float32', [T, textCfg.head_dim]);
    features = qwen2Forward(p.scope(TEXT_SCOPE), textCfg, ids, textCos, textSin, textBias);
  } else {
    features = g.input('context', 'float32', ['B', T, d.contextDim]);
  }
  const keep_B = g.input('cond_keep', 'float32', ['B']);
  const context = features.mul(keep_B.reshape([-1, 1, 1]));

  const inp: ForwardInputs = {
    context_BTD: context,
    x_BLCv: g.input('x_BLCv', 'float32', ['B', Limg, o.Cvae]),
    lvl_S: g.input('lvl', 'int64', [S]),
    cos_BSD: g.input('rope_cos', 'float32', ['B', S, d.headDim]),
    sin_BSD: g.input('rope_sin', 'float32', ['B', S, d.headDim]),
  };
  const out = forward(p, cfg, inp, o.vocabSize);
  const target = g.input('target', 'int64', ['B', 1 + Limg]);
  const ce = crossEntropy(out.logits_BLV, target, o.vocabSize);

  // the ground truth's codebook rows and the continuous remainder's difference from them
  let e_BKCv = g.input('last_embed', 'float32', ['B', K, o.Cvae]);
  let res_BKCv = g.input('last_residual', 'float32', ['B', K, o.Cvae]);
  const extras: Record<string, Tensor> = {};
  if ((o.diffIndex ?? 'ground-truth') === 'sampled') {
    const V = o.vocabSize;
    const gumbel = g.input('diff_gumbel', 'float32', ['B', K, V]);
    const codebook = g.input('codebook', 'float32', [V, o.Cvae]);
    const logitsLast = out.logits_BLV.slice([1], [1 + Limg - K], [1 + Limg]); // predict the kept last-scale tokens
    const idx = sampleIndexInGraph(logitsLast, gumbel, V, DIFF_INDEX_TOP_K, DIFF_INDEX_TOP_P);
    const rest = e_BKCv.add(res_BKCv); // f_rest_wo_last_discrete at the kept tokens
    e_BKCv = codebook.gather(idx, 0);
    res_BKCv = rest.sub(e_BKCv);
    extras.diff_idx = idx;
    extras.idx_match = idx.eq(target.slice([1], [1 + Limg - K], [1 + Limg])).cast('float32').mean([0, 1]);
  }
  const t = g.input('diff_t', 'int64', [dl.diffusion_batch_mul, 'B', K]).reshape([-1]);
  const noise = g.input('diff_noise', 'float32', [dl.diffusion_batch_mul, 'B', K, o.Cvae]).reshape([-1, o.Cvae]);
  const z = diffusionCondition(p, cfg, out.lastHidden_BKC, e_BKCv);
  const diff = forwardDiffLoss(p.scope('diffloss'), dl, z, res_BKCv, t, noise);
  const loss = ce.add(diff.loss.mul(o.diffWeight ?? 1));
  const acc = out.logits_BLV.argmax(-1).eq(target).cast('float32').mean([0, 1]);
  Object.assign(extras, { ce, diff: diff.loss, acc });
  if (o.withLogits) extras.logits = out.logits_BLV;
  return { graph: g, loss, extras, params: [...g.params] };
}
