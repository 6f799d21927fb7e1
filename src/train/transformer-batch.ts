// Host side of a transformer training step: images and captions → the feeds of
// transformer-train.ts. The frozen tokenizer encodes the images once per step (one graph: the
// hybrid encode path's indices per scale, the teacher-forcing input and f_rest_wo_last_discrete);
// captions become padded token ids, the Qwen2 causal + padding mask and its RoPE tables; the
// condition drop, the last-scale subsampling, the diffusion timesteps and noise draw from Philox
// streams addressed by (seed, purpose, step), so a resumed run replays the same batches.
import { emitOnnx, Graph, type Tensor } from '../graph/index.ts';
import { conv2d, Params, type WeightStore } from '../nn/index.ts';
import { Quantizer } from '../models/tokenizer/quant.ts';
import { encoder } from '../models/tokenizer/vqgan.ts';
import type { HartTokenizerConfig } from '../models/tokenizer/config.ts';
import type { HARTForT2IConfig } from '../models/transformer/config.ts';
import { hartDims } from '../models/transformer/config.ts';
import { gatherKeptTokens, levelIds, trainingRopeTables } from '../models/transformer/sequence.ts';
import type { Qwen2Config } from '../models/text/config.ts';
import { qwen2AttentionBias } from '../models/text/encoder.ts';
import type { PromptTokenizer } from '../models/text/prompt-tokenizer.ts';
import { contextRope } from '../tables/rope.ts';
import { Philox, stream } from '../random/philox.ts';
import { TRAIN_PURPOSE } from './purposes.ts';
import type { DiffIndex } from './recipe.ts';
import type { CompiledModel, Runtime } from '../runtime/runtime.ts';
import { hostTensor, type HostTensor } from '../runtime/host-tensor.ts';

/** How many nearest codes a self-correction swap chooses among. */
export const SELF_CORRECTION_NEIGHBOURS = 8;

/**
 * The K nearest other codes of every code (squared L2 in the codebook [V, C], nearest first, ties
 * by index): [V, K] int64, row-major.
 */
export function codeNeighbours(codebook: Float32Array, V: number, K: number): BigInt64Array {
  const C = codebook.length / V;
  if (!Number.isInteger(C) || K >= V) throw new Error(`codeNeighbours: a codebook of ${codebook.length} values has no ${K} neighbours per code among ${V}`);
  const out = new BigInt64Array(V * K);
  const d = new Float64Array(V);
  const order = new Int32Array(V);
  for (let a = 0; a < V; a++) {
    for (let b = 0; b < V; b++) {
      let s = 0;
      for (let c = 0; c < C; c++) { const t = codebook[a * C + c] - codebook[b * C + c]; s += t * t; }
      d[b] = b === a ? Infinity : s;
      order[b] = b;
    }
    order.sort((x, y) => d[x] - d[y] || x - y);
    for (let k = 0; k < K; k++) out[a * K + k] = BigInt(order[k]);
  }
  return out;
}

/**
 * img [B, 3, R, R] → idx.s{si} [B, pn²] (int64), x_BLCv [B, L − 1, Cvae], f_rest [B, hw², Cvae].
 * With `selfCorrection` (the codebook's neighbour table, codeNeighbours), each scale before the
 * last also takes `swap.s{si}` [B, pn²] int64: −1 keeps a token's nearest code, k ∈ [0, K) uses its
 * k-th nearest other code instead, in the teacher-forcing input and in what later scales quantize
 * (so their targets correct the wrong code; Infinity's bitwise self-correction, for VQ codes). The
 * targets idx.s{si} stay each scale's own nearest codes.
 */
export function buildEncodeGraph(cfg: HartTokenizerConfig, store: WeightStore, resolution: number, patchNums: number[], selfCorrection?: { neighbours: BigInt64Array; K: number }) {
  const g = new Graph();
  const p = new Params(g, store);
  const img = g.input('img', 'float32', ['B', 3, resolution, resolution]);
  const ks = cfg.quant_conv_ks;
  const f = conv2d(p.scope('quant_conv'), encoder(p.scope('encoder'), img, cfg), cfg.z_channels, ks, { padding: ks >> 1 });
  const q = new Quantizer(p.scope('quantize'), cfg);
  let swap: ((si: number, idx: Tensor) => Tensor) | undefined;
  if (selfCorrection) {
    const { neighbours, K } = selfCorrection;
    const table = g.constant(neighbours, [cfg.vocab_size, K], 'int64');
    swap = (si, idx) => {
      const k = g.input(`swap.s${si}`, 'int64', ['B', patchNums[si] ** 2]);
      const pick = k.maximum(0).oneHot(K, 'float32'); // [B, l, K]
      const other = table.gather(idx, 0).cast('float32').mul(pick).sum([-1]).cast('int64'); // codes < 2^24: exact
      return k.ge(0).where(other, idx);
    };
  }
  const { idx_Bl, idx_used, f_rest_wo_last_discrete } = q.fToIdxBlAndFrest(f, patchNums, swap);
  const outputs: Record<string, Tensor> = { x_BLCv: q.idxBlToVarInput(idx_used, patchNums), f_rest: f_rest_wo_last_discrete };
  idx_Bl.forEach((t, si) => (outputs[`idx.s${si}`] = t));
  return emitOnnx({ outputs });
}

export interface TransformerBatchContext {
  cfg: HARTForT2IConfig;
  textCfg: Qwen2Config;
  tokCfg: HartTokenizerConfig;
  /** Codebook [V, Cvae] row-major. */
  codebook: Float32Array;
  promptTokenizer: PromptTokenizer;
  encodeSession: CompiledModel;
  seed: number;
  condDrop: number;
  keptLast: number;
  diffusionBatchMul: number;
  /** 'sampled': also feed the Gumbel draws of the diffusion target's index and the codebook (transformer-train.ts). */
  diffIndex?: DiffIndex;
  /** Probability that a token of a scale before the last is swapped for a neighbouring code (the encode graph must take swaps: loadEncoder's selfCorrection). */
  selfCorrection?: number;
}

/** Compiles the encode graph for a trained tokenizer (with `selfCorrection`, the one that takes swap.s{si}). */
export async function loadEncoder(
  runtime: Runtime, cfg: HartTokenizerConfig, store: WeightStore, resolution: number, patchNums: number[],
  selfCorrection?: { neighbours: BigInt64Array; K: number },
): Promise<CompiledModel> {
  return runtime.load(buildEncodeGraph(cfg, store, resolution, patchNums, selfCorrection));
}

/** swap.s{si} feeds: per token of each scale before the last, −1 (kept) or the neighbour index k (probability p). */
export function selfCorrectionSwaps(rng: Philox, step: number, B: number, patchNums: number[], p: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  let offset = 0;
  for (let si = 0; si < patchNums.length - 1; si++) {
    const n = B * patchNums[si] ** 2;
    const u = rng.uniform(stream(TRAIN_PURPOSE.selfCorrection, step), offset, 2 * n);
    offset += 2 * n;
    const swap = new BigInt64Array(n);
    for (let i = 0; i < n; i++) swap[i] = u[2 * i] < p ? BigInt(Math.min(SELF_CORRECTION_NEIGHBOURS - 1, Math.floor(u[2 * i + 1] * SELF_CORRECTION_NEIGHBOURS))) : -1n;
    out[`swap.s${si}`] = hostTensor(swap, [B, patchNums[si] ** 2], 'int64');
  }
  return out;
}

/** Feeds of one transformer training step. */
export async function transformerFeeds(
  c: TransformerBatchContext, step: number, images: Float32Array, captions: readonly string[],
): Promise<Record<string, HostTensor>> {
  const d = hartDims(c.cfg);
  const B = captions.length, T = d.T, Cv = c.tokCfg.z_channels;
  const R = Math.round(Math.sqrt(images.length / (3 * B)));
  const rng = new Philox(c.seed);
  const swaps = c.selfCorrection ? selfCorrectionSwaps(rng, step, B, d.patchNums, c.selfCorrection) : {};
  const enc = await c.encodeSession.run({ img: hostTensor(images, [B, 3, R, R]), ...swaps });

  // captions: tokens, mask, positions (dropped rows see the unconditional input: zero context, positions 0)
  const tok = c.promptTokenizer.tokenizePrompts(captions, T);
  const drop = rng.uniform(stream(TRAIN_PURPOSE.condDrop, step), 0, B);
  const keep = Float32Array.from(drop, (u) => (u < c.condDrop ? 0 : 1));
  const pos = Array.from({ length: B }, (_, b) => (keep[b] ? Array.from(tok.positionIds.subarray(b * T, (b + 1) * T)) : new Array<number>(T).fill(0)));
  const textRope = contextRope(Array.from({ length: T }, (_, i) => i), c.textCfg.head_dim, c.textCfg.rope_theta);

  // last-scale subsampling: the first keptLast entries of a random permutation per sample
  const n = d.lastScaleTokens, K = c.keptLast;
  const keepLast: boolean[][] = [];
  for (let b = 0; b < B; b++) {
    const u = rng.uniform(stream(TRAIN_PURPOSE.lastScaleOrder, step), b * n, n);
    const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => u[x] - u[y] || x - y);
    const row = new Array<boolean>(n).fill(false);
    for (let k = 0; k < K; k++) row[order[k]] = true;
    keepLast.push(row);
  }
  const x = gatherKeptTokens(d, enc.x_BLCv.data as Float32Array, B, Cv, K === n ? undefined : keepLast);
  const rope = trainingRopeTables(d, pos, K === n ? undefined : keepLast);
  const Limg = x.Limg, S = T + Limg;

  // targets: scale 0 … N−2 (all tokens), then the kept last-scale ones; codebook rows of the latter
  const idx = d.patchNums.map((_, si) => enc[`idx.s${si}`].data as BigInt64Array);
  const target = new BigInt64Array(B * (1 + Limg));
  const lastEmbed = new Float32Array(B * K * Cv), lastRes = new Float32Array(B * K * Cv);
  const fRest = enc.f_rest.data as Float32Array;
  for (let b = 0; b < B; b++) {
    let o = b * (1 + Limg);
    for (let si = 0; si < d.numScales - 1; si++) {
      const pn2 = d.patchNums[si] ** 2;
      target.set(idx[si].subarray(b * pn2, (b + 1) * pn2), o);
      o += pn2;
    }
    let k = 0;
    for (let t = 0; t < n; t++) {
      if (!keepLast[b][t] && K !== n) continue;
      const code = Number(idx[d.numScales - 1][b * n + t]);
      target[o++] = BigInt(code);
      for (let ch = 0; ch < Cv; ch++) {
        const e = c.codebook[code * Cv + ch];
        lastEmbed[(b * K + k) * Cv + ch] = e;
        lastRes[(b * K + k) * Cv + ch] = fRest[(b * n + t) * Cv + ch] - e;
      }
      k++;
    }
  }
  const M = c.diffusionBatchMul * B * K;
  const tU = rng.uniform(stream(TRAIN_PURPOSE.diffusionT, step), 0, M);
  const diffT = BigInt64Array.from(tU, (u) => BigInt(Math.min(999, Math.floor(u * 1000))));
  const noise = rng.normal(stream(TRAIN_PURPOSE.diffusionNoise, step), 0, M * Cv);
  if (idx[0].length !== B) throw new Error('encode graph: unexpected scale-0 index shape');
  const V = c.tokCfg.vocab_size;
  const sampledIndex: Record<string, HostTensor> = c.diffIndex === 'sampled'
    ? {
      diff_gumbel: hostTensor(rng.gumbel(stream(TRAIN_PURPOSE.diffusionIndex, step), 0, B * K * V), [B, K, V]),
      codebook: hostTensor(c.codebook, [V, Cv]),
    }
    : {};
  return {
    ...sampledIndex,
    text_ids: hostTensor(BigInt64Array.from(tok.tokens, (v) => BigInt(v)), [B, T], 'int64'),
    text_bias: hostTensor(qwen2AttentionBias(tok.mask, B, T), [B, T, T]),
    text_cos: hostTensor(textRope.cos, [T, c.textCfg.head_dim]),
    text_sin: hostTensor(textRope.sin, [T, c.textCfg.head_dim]),
    cond_keep: hostTensor(keep, [B]),
    x_BLCv: hostTensor(x.data, [B, Limg, Cv]),
    lvl: hostTensor(BigInt64Array.from(levelIds(d, K), (v) => BigInt(v)), [S], 'int64'),
    rope_cos: hostTensor(rope.cos, [B, S, d.headDim]),
    rope_sin: hostTensor(rope.sin, [B, S, d.headDim]),
    target: hostTensor(target, [B, 1 + Limg], 'int64'),
    last_embed: hostTensor(lastEmbed, [B, K, Cv]),
    last_residual: hostTensor(lastRes, [B, K, Cv]),
    diff_t: hostTensor(diffT, [c.diffusionBatchMul, B, K], 'int64'),
    diff_noise: hostTensor(noise, [c.diffusionBatchMul, B, K, Cv]),
  };
}
