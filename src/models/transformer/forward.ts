// The training-style forward of HARTForT2I (hart_transformer_t2i.py::forward, spec §3): the whole
// teacher-forced sequence [context prefix (T tokens) | image tokens of scales 1 … N−1] in one pass
// under the block-causal level mask (a token sees every token of its own or a lower level; the
// context is level 0), with MAR-style masking of the last scale done by the caller, who passes only
// the kept tokens (the official forward drops the masked ones from the sequence the same way).
// Returns what the losses need: the logits (positions T−1 …, as the official code returns them),
// the last block's hidden states, those of the kept last-scale tokens and cond_BD; the diffusion
// condition is head.ts::diffusionCondition(lastHidden_BKC, codebook embedding of the last-scale indices).
import type { Graph, Tensor } from '../../graph/index.ts';
import { concat } from '../../graph/index.ts';
import { addDims } from '../../graph/dims.ts';
import type { Params } from '../../nn/index.ts';
import type { AttentionOptions } from './attention.ts';
import { hartBlock } from './block.ts';
import { hartDims, type HARTForT2IConfig } from './config.ts';
import { contextEmbed, levelEmbed, wordEmbed } from './embeddings.ts';
import { logitsHead } from './head.ts';

export interface ForwardInputs {
  /** Text features [B, T, context_dim]; rows whose condition is dropped are zeros (cond_drop_rate). */
  context_BTD: Tensor;
  /** Teacher-forcing latent tokens of scales 1 … N−1, kept ones only, [B, Limg, Cvae]. */
  x_BLCv: Tensor;
  /** Level id per sequence position, int64 [S = T + Limg] (0 for the context, si for scale si). */
  lvl_S: Tensor;
  /** RoPE tables per position [B, S, hd]: context 1-D part, then the image 2-D part (tables/rope.ts::trainingRope). */
  cos_BSD: Tensor;
  sin_BSD: Tensor;
  /** Context mask [B, T] (float 0/1), needed only by AdaLN blocks with "avg" pooling. */
  contextMask_BT?: Tensor;
}

export interface ForwardOutputs {
  /** cond_BD = context_embed(context_norm(context)) [B, T, C]. */
  cond_BTC: Tensor;
  /** Input of block 0 [B, S, C]. */
  x0_BSC: Tensor;
  /** Output of the last block at every position [B, S, C]. */
  hidden_BSC: Tensor;
  /** Logits at positions T−1 … S−1: [B, 1 + Limg, V] (row 0 predicts the 1×1 scale). */
  logits_BLV: Tensor;
  /** Last-block hidden states of the kept last-scale tokens [B, K, C] (the diffusion condition's h). */
  lastHidden_BKC: Tensor;
}

/** Declares the forward's graph inputs with consistent symbolic dims (B, Limg; S = T + Limg). */
export function forwardInputs(g: Graph, cfg: HARTForT2IConfig, Cvae: number, withMask = false): ForwardInputs {
  const d = hartDims(cfg);
  const context_BTD = g.input('context', 'float32', ['B', d.T, d.contextDim]);
  const x_BLCv = g.input('x_BLCv', 'float32', ['B', 'Limg', Cvae]);
  const S = addDims(d.T, 'Limg');
  return {
    context_BTD, x_BLCv,
    lvl_S: g.input('lvl', 'int64', [S]),
    cos_BSD: g.input('rope_cos', 'float32', ['B', S, d.headDim]),
    sin_BSD: g.input('rope_sin', 'float32', ['B', S, d.headDim]),
    contextMask_BT: withMask ? g.input('context_mask', 'float32', ['B', d.T]) : undefined,
  };
}

/** Block-causal additive mask from level ids: 0 where level(q) ≥ level(k), −∞ elsewhere; [S, S]. */
export function levelMask(lvl_S: Tensor): Tensor {
  return lvl_S.unsqueeze([1]).ge(lvl_S.unsqueeze([0])).where(0, -Infinity);
}

/** HARTForT2I.forward on the kept teacher-forced sequence (p: the transformer's root scope). */
export function forward(
  p: Params, cfg: HARTForT2IConfig, inp: ForwardInputs, vocabSize: number, opts: AttentionOptions = {},
): ForwardOutputs {
  const d = hartDims(cfg);
  const cond_BTC = contextEmbed(p, cfg, inp.context_BTD);
  const tokens = concat([cond_BTC, wordEmbed(p, cfg, inp.x_BLCv)], 1);
  const x0_BSC = tokens.add(levelEmbed(p, cfg, inp.lvl_S).unsqueeze([0]));
  const bias = levelMask(inp.lvl_S);
  const cond = { cond_BTC, contextMask_BT: inp.contextMask_BT };
  let x = x0_BSC;
  for (let i = 0; i < d.depth; i++) {
    x = hartBlock(p.scope(`blocks.${i}`), cfg, x, cond, { cos_BlD: inp.cos_BSD, sin_BlD: inp.sin_BSD, bias }, opts).x_BlC;
  }
  const logits_BLV = logitsHead(p, cfg, x.slice([1], [d.T - 1], [Infinity]), cond_BTC, vocabSize);
  return { cond_BTC, x0_BSC, hidden_BSC: x, logits_BLV, lastHidden_BKC: x.slice([1], [d.lastScaleStart], [Infinity]) };
}
