// HART transformer input embeddings (hart_transformer_t2i.py, spec §3.2): the context prefix
// cond_BD = context_embed(context_norm(context)), the word embedding of teacher-forced / next-scale
// latent tokens, and the level embedding (TimestepEmbedder over the level id: sinusoid [cos, sin]
// of width 256 + Linear–SiLU–Linear; or an nn.Embedding when use_timestep_embed is false).
import type { Tensor } from '../../graph/index.ts';
import { linear, rmsNorm, type Params } from '../../nn/index.ts';
import { timestepSinusoid } from '../../tables/schedules.ts';
import type { HARTForT2IConfig } from './config.ts';

/** Width of the TimestepEmbedder's sinusoidal features. */
export const LEVEL_FREQ_DIM = 256;

/** cond_BD = context_embed(context_norm(context_BTD)): [B, T, context_dim] → [B, T, C]. */
export function contextEmbed(p: Params, cfg: HARTForT2IConfig, context_BTD: Tensor): Tensor {
  const x = cfg.use_context_norm ? rmsNorm(p.scope('context_norm'), context_BTD, cfg.norm_eps) : context_BTD;
  return linear(p.scope('context_embed'), x, cfg.embed_dim);
}

/** word_embed: Linear(Cvae → C) on latent tokens [..., Cvae]. */
export function wordEmbed(p: Params, cfg: HARTForT2IConfig, h_BlCv: Tensor): Tensor {
  return linear(p.scope('word_embed'), h_BlCv, cfg.embed_dim);
}

/**
 * lvl_embed for every level 0 … N−1 (0 = context, si = scale si): [N, C]. Gathering rows of this
 * table by level id equals the official per-token lvl_embed(lvl_1L).
 */
export function levelEmbedTable(p: Params, cfg: HARTForT2IConfig): Tensor {
  const N = cfg.patch_nums.length, C = cfg.embed_dim;
  const q = p.scope('lvl_embed');
  if (!cfg.use_timestep_embed) return q.get('weight', [N, C]);
  const levels = Array.from({ length: N }, (_, i) => i);
  const freq_ND = p.graph.constant(timestepSinusoid(levels, LEVEL_FREQ_DIM), [N, LEVEL_FREQ_DIM]);
  const h = linear(q.scope('mlp.0'), freq_ND, C).silu();
  return linear(q.scope('mlp.2'), h, C);
}

/** Level embeddings of the given level ids (int64, any shape): [..., C]. */
export function levelEmbed(p: Params, cfg: HARTForT2IConfig, lvl: Tensor): Tensor {
  return levelEmbedTable(p, cfg).gather(lvl, 0);
}
