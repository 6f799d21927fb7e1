// The KV-cached inference step of HARTForT2I (autoregressive_infer_cfg, spec §1.3) as graphs with
// symbolic sizes (B = the CFG-doubled batch, l = this step's tokens, P = cached tokens), so that
// one ONNX Runtime session per segment serves the context prefix (step 0) and every scale. The
// blocks can be split into consecutive segments (StepSegment), each its own graph (e.g. to keep
// every model under protobuf's 2 GB without external data; the released blocks hold 2.7 GB):
//   inputs  x_BlC [B, l, C] (embedded tokens, or the previous segment's hidden), cond_BD [B, T, C],
//           rope_cos/rope_sin [B, l, hd], past.{i}.key / past.{i}.value [P, B, H, hd] for the
//           segment's blocks i (P = 0 at step 0), context_mask [B, T] only for AdaLN "avg" pooling
//   outputs hidden [B, l, C] (after the segment's last block), logits [B, l, V] (before CFG; the
//           segment with the head), new.{i}.key / new.{i}.value [n, B, H, hd] = this step's
//           RoPE'd keys / values at the token indices of the input kv_rows [n] (int64): arange(l)
//           normally, empty at the last scale, whose keys are never needed (ONNX Runtime computes
//           every graph output whether fetched or not, so an unwanted output must be made empty).
// The cache layout puts the token axis first so the host can keep one buffer per block and
// append to it: the cached prefix is a contiguous view fed as is, and the new rows are written by
// ONNX Runtime straight into the buffer behind it (pre-allocated outputs), so nothing is copied
// on the host and the cache is held once (hart-transformer.ts).
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

/** Blocks [start, end) of the step, and whether this segment ends with the logits head. */
export interface StepSegment {
  start: number;
  end: number;
  head: boolean;
}

/**
 * Splits the blocks into consecutive segments of at most `maxBytes` of float32 block weights each
 * (at least one block per segment); the last segment carries the head.
 */
export function stepSegments(cfg: HARTForT2IConfig, maxBytes = Infinity): StepSegment[] {
  const d = hartDims(cfg);
  const C = d.C, ada = cfg.disable_aln ? 0 : 6 * C * C;
  const blockBytes = 4 * (4 * C * C + C + 2 * C + 3 * C * d.ffnHidden + C + ada);
  const per = Math.max(1, Math.floor(maxBytes / blockBytes));
  const segs: StepSegment[] = [];
  for (let start = 0; start < d.depth; start += per) segs.push({ start, end: Math.min(d.depth, start + per), head: false });
  segs[segs.length - 1].head = true;
  return segs;
}

/** The per-scale step graph (all blocks and the head, or one segment of them); see the header. */
export function buildStepGraph(
  cfg: HARTForT2IConfig, store: WeightStore, vocabSize: number, opts: AttentionOptions = {},
  segment: StepSegment = { start: 0, end: hartDims(cfg).depth, head: true },
): BuiltGraph {
  const d = hartDims(cfg);
  const g = new Graph();
  const p = new Params(g, store);
  const x_BlC = g.input('x_BlC', 'float32', ['B', 'l', d.C]);
  const cond_BTC = g.input('cond_BD', 'float32', ['B', d.T, d.C]);
  const cos_BlD = g.input('rope_cos', 'float32', ['B', 'l', d.headDim]);
  const sin_BlD = g.input('rope_sin', 'float32', ['B', 'l', d.headDim]);
  const contextMask_BT = needsContextMask(cfg) ? g.input('context_mask', 'float32', ['B', d.T]) : undefined;
  const kvRows_n = g.input('kv_rows', 'int64', ['n']);
  const outputs: Record<string, Tensor> = {};
  const cond = { cond_BTC, contextMask_BT };
  let x = x_BlC;
  for (let i = segment.start; i < segment.end; i++) {
    const pastTokenMajor = {
      k_PBHD: g.input(`past.${i}.key`, 'float32', ['P', 'B', d.heads, d.headDim]),
      v_PBHD: g.input(`past.${i}.value`, 'float32', ['P', 'B', d.heads, d.headDim]),
    };
    const r = hartBlock(p.scope(`blocks.${i}`), cfg, x, cond, { cos_BlD, sin_BlD, pastTokenMajor }, opts);
    x = r.x_BlC;
    // [B, H, l, hd] → rows kv_rows → [n, B, H, hd]
    outputs[`new.${i}.key`] = r.attn.kNew_BHlD.gather(kvRows_n, 2).transpose([2, 0, 1, 3]);
    outputs[`new.${i}.value`] = r.attn.vNew_BHlD.gather(kvRows_n, 2).transpose([2, 0, 1, 3]);
  }
  if (segment.head) outputs.logits = logitsHead(p, cfg, x, cond_BTC, vocabSize);
  return { graph: g, outputs: { hidden: x, ...outputs } };
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
