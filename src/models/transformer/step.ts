// The KV-cached inference step of HARTForT2I (autoregressive_infer_cfg, spec §1.3) as ONE graph
// with symbolic sizes (B = the CFG-doubled batch, l = this step's tokens, P = cached tokens), so
// that a single ONNX Runtime session serves the context prefix (step 0) and every scale:
//   inputs  x_BlC [B, l, C] (embedded tokens), cond_BD [B, T, C], rope_cos/rope_sin [B, l, hd],
//           past.{i}.key / past.{i}.value [B, H, P, hd] for every block i (P = 0 at step 0),
//           context_mask [B, T] only for AdaLN blocks with "avg" pooling
//   outputs logits [B, l, V] (before CFG), hidden [B, l, C] (last block), present.{i}.key /
//           present.{i}.value [B, H, P + l, hd] = past ++ this step's RoPE'd keys / values.
// No attention mask: at inference every token sees all cached tokens and its own scale.
// The small embedding graphs (context prefix, next-scale tokens, diffusion condition) are below.
import { concat, Graph, type Tensor } from '../../graph/index.ts';
import type { WeightStore } from '../../nn/index.ts';
import { Params } from '../../nn/index.ts';
import type { AttentionOptions } from './attention.ts';
import { hartBlock } from './block.ts';
import { hartDims, type HARTForT2IConfig } from './config.ts';
import { contextEmbed, levelEmbedTable, wordEmbed } from './embeddings.ts';
import { diffusionCondition, logitsHead } from './head.ts';

export interface BuiltGraph {
  graph: Graph;
  outputs: Record<string, Tensor>;
}

/** Whether the blocks need the context mask (AdaLN with masked-average pooling). */
export function needsContextMask(cfg: HARTForT2IConfig): boolean {
  return (!cfg.disable_aln && cfg.sep_aln_pooling_mode === 'avg') || (cfg.disable_aln && cfg.shared_aln);
}

/** The per-scale step graph with K/V caches as inputs and outputs. */
export function buildStepGraph(cfg: HARTForT2IConfig, store: WeightStore, vocabSize: number, opts: AttentionOptions = {}): BuiltGraph {
  const d = hartDims(cfg);
  const g = new Graph();
  const p = new Params(g, store);
  const x_BlC = g.input('x_BlC', 'float32', ['B', 'l', d.C]);
  const cond_BTC = g.input('cond_BD', 'float32', ['B', d.T, d.C]);
  const cos_BlD = g.input('rope_cos', 'float32', ['B', 'l', d.headDim]);
  const sin_BlD = g.input('rope_sin', 'float32', ['B', 'l', d.headDim]);
  const contextMask_BT = needsContextMask(cfg) ? g.input('context_mask', 'float32', ['B', d.T]) : undefined;
  const outputs: Record<string, Tensor> = {};
  const cond = { cond_BTC, contextMask_BT };
  let x = x_BlC;
  for (let i = 0; i < d.depth; i++) {
    const past = {
      k_BHPD: g.input(`past.${i}.key`, 'float32', ['B', d.heads, 'P', d.headDim]),
      v_BHPD: g.input(`past.${i}.value`, 'float32', ['B', d.heads, 'P', d.headDim]),
    };
    const r = hartBlock(p.scope(`blocks.${i}`), cfg, x, cond, { cos_BlD, sin_BlD, past }, opts);
    x = r.x_BlC;
    outputs[`present.${i}.key`] = r.attn.k_BHLD;
    outputs[`present.${i}.value`] = r.attn.v_BHLD;
  }
  return { graph: g, outputs: { logits: logitsHead(p, cfg, x, cond_BTC, vocabSize), hidden: x, ...outputs } };
}

/**
 * Step-0 input: context [B, T, context_dim] → cond_BD [B, T, C] and x0 = cond_BD + lvl_embed(0).
 * (The caller passes cat(context, zeros) for the CFG batch.)
 */
export function buildPrefixGraph(cfg: HARTForT2IConfig, store: WeightStore): BuiltGraph {
  const d = hartDims(cfg);
  const g = new Graph();
  const p = new Params(g, store);
  const context_BTD = g.input('context', 'float32', ['B', d.T, d.contextDim]);
  const cond_BTC = contextEmbed(p, cfg, context_BTD);
  const lvl0_C = levelEmbedTable(p, cfg).slice([0], [0], [1]).squeeze([0]);
  return { graph: g, outputs: { cond_BD: cond_BTC, x_BlC: cond_BTC.add(lvl0_C) } };
}

/**
 * Step si ≥ 1 input: next-scale tokens [B, l, Cvae] (area-downsampled f_hat, row-major) and the
 * level id (int64 [1]) → word_embed(tokens) + lvl_embed(si), repeated for both CFG halves: [2B, l, C].
 */
export function buildEmbedGraph(cfg: HARTForT2IConfig, store: WeightStore, Cvae: number): BuiltGraph {
  const g = new Graph();
  const p = new Params(g, store);
  const next_BlCv = g.input('next_input', 'float32', ['B', 'l', Cvae]);
  const lvl_1 = g.input('level', 'int64', [1]);
  const x = wordEmbed(p, cfg, next_BlCv).add(levelEmbedTable(p, cfg).gather(lvl_1, 0));
  return { graph: g, outputs: { x_BlC: concat([x, x], 0) } };
}

/**
 * The residual-diffusion condition at the last scale: hidden [B, l, C] and the codebook embeddings
 * of the chosen indices [B, l, Cvae] (the caller repeats them for both CFG halves) →
 * decoder_norm(hidden + word_embed(e)): [B, l, C].
 */
export function buildDiffusionConditionGraph(cfg: HARTForT2IConfig, store: WeightStore, Cvae: number): BuiltGraph {
  const g = new Graph();
  const p = new Params(g, store);
  const hidden = g.input('hidden', 'float32', ['B', 'l', cfg.embed_dim]);
  const e_BlCv = g.input('embedding', 'float32', ['B', 'l', Cvae]);
  return { graph: g, outputs: { z: diffusionCondition(p, cfg, hidden, e_BlCv) } };
}
