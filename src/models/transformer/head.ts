// HART output heads (spec §3.5): head_nm = AdaLNBeforeHead (max-pool cond_BD over the context
// tokens, SiLU, Linear → (scale, shift); RMSNorm_w(x)·(1+scale)+shift), head = Linear(C → V) giving
// the token logits, and the residual-diffusion condition z = decoder_norm(h + word_embed(e)), where
// h is the last block's output at a last-scale token and e the codebook embedding of its index.
import type { Tensor } from '../../graph/index.ts';
import { linear, rmsNorm, type Params } from '../../nn/index.ts';
import type { HARTForT2IConfig } from './config.ts';
import { wordEmbed } from './embeddings.ts';

/** head(head_nm(x, cond_BD)): x [B, l, C], cond_BD [B, T, C] → logits [B, l, V]. */
export function logitsHead(p: Params, cfg: HARTForT2IConfig, x_BlC: Tensor, cond_BTC: Tensor, vocabSize: number): Tensor {
  const C = cfg.embed_dim;
  const hp = p.scope('head_nm');
  const cond_B1C = cond_BTC.max([1], true);
  const ss_B12C = linear(hp.scope('ada_lin.1'), cond_B1C.silu(), 2 * C).reshape([0, 1, 2, C]);
  const [scale_B1C, shift_B1C] = ss_B12C.split(2, [1, 1]).map((t) => t.squeeze([2]));
  const h = rmsNorm(hp.scope('ln_wo_grad'), x_BlC, cfg.norm_eps).mul(scale_B1C.add(1)).add(shift_B1C);
  return linear(p.scope('head'), h, vocabSize);
}

/** decoder_norm(h + word_embed(e)): h [B, l, C], e [B, l, Cvae] (broadcastable) → [B, l, C]. */
export function diffusionCondition(p: Params, cfg: HARTForT2IConfig, h_BlC: Tensor, e_BlCv: Tensor): Tensor {
  return rmsNorm(p.scope('decoder_norm'), h_BlC.add(wordEmbed(p, cfg, e_BlCv)), cfg.norm_eps);
}
