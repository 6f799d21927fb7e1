// HartTransformer: drives the KV-cached inference of the HART transformer scale by scale
// (autoregressive_infer_cfg, spec §1.3) on a Runtime. It owns the compiled graphs (step.ts): the
// context prefix, the next-scale token embedding, the per-scale step (blocks + head; optionally
// split into segments of at most `maxSegmentBytes` of weights) and the diffusion condition.
// Sampling, CFG mixing and the tokenizer's f_hat update stay with the caller (the pipeline); a
// HartGeneration holds one generation's state.
// Memory at the released size (C 1536, 24 blocks, 2×4096 queries against 9750 keys at the last
// scale): the heads are computed in groups and the queries in chunks (defaultAttentionLayout: 8
// groups of 3 heads, 2 chunks of 2048 queries; 479 MB of scores per product at B = 1). The K/V
// cache is one buffer per block and kind, [P, 2B, H, hd] with the token axis first, allocated
// once for the T + L − 1 − pn_last² tokens it ever holds (3.1 GiB float32 at B = 1): each step
// reads the cached prefix as a view and ONNX Runtime writes the step's new rows behind it
// (pre-allocated outputs), so no cache is copied on the host and none is held twice. Keeping the
// caches on the device (IO binding) is the next step for GPUs.
import type { WeightStore } from '../../nn/index.ts';
import { emitOnnx } from '../../graph/index.ts';
import { SMALL_GRAPH, type CompiledModel, type LoadOptions, type Runtime } from '../../runtime/runtime.ts';
import { gatherRows, type HostTensor } from '../../runtime/host-tensor.ts';
import type { AttentionOptions } from './attention.ts';
import { assertSupported, hartDims, type HARTForT2IConfig, type HartDims } from './config.ts';
import { nchwToTokens, stepRopeTables } from './sequence.ts';
import { contextRope } from '../../tables/rope.ts';
import {
  buildDiffusionConditionGraph, buildEmbedGraph, buildPrefixGraph, buildStepGraph, needsContextMask, stepSegments, type StepSegment,
} from './step.ts';
import { checkTransformerWeights, inferVocabAndCvae } from './weights.ts';
import { decodeUncondPrefix, encodeUncondPrefix } from './prefix-blob.ts';
import { DYNQ8_REDUCED_MAX_CODE } from './precision.ts';
import { DEFAULT_PROMPT_PREFIX_CACHE_BYTES, PromptPrefixCache, type PromptPrefixKey } from './prompt-prefix-cache.ts';

export interface HartTransformerOptions extends AttentionOptions {
  /**
   * Block weights (float32 bytes) per step graph; default: all blocks in one graph (models over
   * 2 GB go out as external data), so one session and one memory arena serve the whole step.
   */
  maxSegmentBytes?: number;
  /** Vocabulary size and latent channels; default: read from head.weight / word_embed.weight. */
  vocabSize?: number;
  Cvae?: number;
  /** Budget for one score tensor (bytes, at CFG batch 2 and the largest step) of the default attention layout (defaultAttentionLayout). */
  attnScoreBudgetBytes?: number;
  /**
   * Reuse constant step-0 work (default true): the unconditional half's context prefix (zero
   * features, position ids 0, mask [1, 0, …]) is the same for every prompt, so its K/V, hidden
   * states and logits are computed once per loaded transformer (on the first begin()) and copied
   * into each generation's cache (with a disk model cache, they are persisted there too, so a
   * later process reads them instead: prefix-blob.ts); images of one prompt in a batch share their conditional
   * prefix too (one step-0 row per distinct prompt). Bitwise the same results as running all 2B
   * rows (every op of the step graph is row-independent; test/models/transformer/prefix-reuse.test.ts).
   */
  reusePrefix?: boolean;
  /**
   * With reusePrefix: bytes of conditional step-0 results kept across generations, per distinct
   * prompt (context features, position ids and mask bit for bit; least recently used dropped first),
   * so that a prompt generated again skips its context prefix and step 0 (prompt-prefix-cache.ts).
   * Default DEFAULT_PROMPT_PREFIX_CACHE_BYTES (256 MiB: two prompts at the released 0.7B size), and at
   * most PROMPT_CACHE_MAX_PROMPTS (32) prompts whatever the budget; 0 keeps none.
   */
  promptCacheBytes?: number;
  /** Called after each graph compiles (graphCount(config) calls), naming it: load progress. */
  onGraph?: (what: string) => void;
}

/** Step-0 results of some batch rows: what the K/V cache holds after step 0, and the outputs. */
export interface PrefixRows {
  U: number;
  /** Per block, keys / values [T, U, H, hd] (token-major, RoPE applied to the keys). */
  key: Float32Array[];
  value: Float32Array[];
  /** [U, T, V] and [U, T, C]. */
  logits: Float32Array;
  hidden: Float32Array;
}

/** The unconditional half's constants: its cond_BD and step-0 input rows [T, C], and its step-0 results. */
export interface UncondPrefix {
  cond_TC: Float32Array;
  x_TC: Float32Array;
  step0: PrefixRows;
}

/** One generation in progress: the CFG batch's condition, positions and K/V caches. */
export interface HartGeneration {
  /** Conditional batch size B (the graphs run 2B rows: cond, then uncond). */
  readonly B: number;
  /** The next scale step() runs (0 … N−1; N when finished). */
  si: number;
  readonly cond_BD: HostTensor;
  readonly contextPositionIds: number[][];
  readonly contextMask?: HostTensor;
  /** Step-0 input cond_BD + lvl_embed(0), until step 0 has run. */
  prefix_BTC?: HostTensor;
  /**
   * K/V caches `past.{i}.key` / `past.{i}.value`: buffers of shape [capacity, 2B, H, hd] whose
   * first `cached` rows are filled; emptied after the last scale.
   */
  past: Record<string, HostTensor>;
  /** Tokens in the caches (0 before step 0). */
  cached: number;
  /**
   * With prefix reuse: for each conditional row b, the first row with the same context, position
   * ids and mask (step 0 runs once per distinct prompt; the unconditional rows come from the model).
   */
  prefixSource?: number[];
  /** With prefix reuse: distinct rows whose step-0 results came from the prompt cache. */
  prefixHits?: Map<number, UncondPrefix>;
  /** With prefix reuse and a prompt cache: the other distinct rows' keys, stored with their results after step 0. */
  prefixPending?: Map<number, PromptPrefixKey>;
}

export interface HartStepOutput {
  si: number;
  /** Logits before CFG, [2B, l, V] (l = T at si = 0, else pn_si²). */
  logits_BlV: HostTensor;
  /** Last block's output, [2B, l, C]. */
  hidden_BlC: HostTensor;
}

/** Query chunks the default layout may choose (besides none): 2048, then 1024 queries. */
export const QUERY_CHUNK_CHOICES = [2048, 1024] as const;

/** How one block's attention is split: heads in `headGroups` groups, queries in chunks of `queryChunk` (none when ≥ the queries). */
export interface AttentionLayout { headGroups: number; queryChunk: number }

/**
 * The attention layout with the fewest score products per block (groups × query chunks) whose
 * largest score tensor, [2B, H/groups, min(queries, chunk), keys] float32 at B = 1, fits the
 * budget; among equals the larger chunk. Fewer products mean fewer graph nodes: ONNX Runtime's
 * session creation grows faster than the node count (bench/transformer-compile.ts: at 1024 px the
 * old 24 groups × 4 chunks of 1024 took 98 s cold / 86 s warm against 20 / 7 s for 12 × 2 chunks
 * of 2048, at the same attention speed). At 256 and 512 px everything fits one product (512 px:
 * 476 MiB of scores); at 1024 px (4096 queries × 9,750 keys) it is 8 groups × 2 chunks of 2048.
 */
export function defaultAttentionLayout(d: HartDims, budgetBytes = 512 * 2 ** 20): AttentionLayout {
  const rows = Math.max(d.lastScaleTokens, d.T), keys = d.T + d.L - 1;
  let best: (AttentionLayout & { products: number }) | undefined;
  for (const chunk of [rows, ...QUERY_CHUNK_CHOICES.filter((c) => c < rows)]) {
    const perHead = 2 * chunk * keys * 4;
    for (let g = 1; g <= d.heads; g++) {
      if (d.heads % g || (d.heads / g) * perHead > budgetBytes) continue;
      const products = g * Math.ceil(rows / chunk);
      if (!best || products < best.products) best = { headGroups: g, queryChunk: chunk, products };
      break; // the fewest groups at this chunk
    }
  }
  // nothing fits: one head at a time in the smallest chunks
  return best ? { headGroups: best.headGroups, queryChunk: best.queryChunk } : { headGroups: d.heads, queryChunk: QUERY_CHUNK_CHOICES.at(-1)! };
}

/** The step graph's attention options: the given ones, else the default layout (one group with the mha kernel). */
export function attentionOptions(d: HartDims, opts: HartTransformerOptions): AttentionOptions {
  const layout = defaultAttentionLayout(d, opts.attnScoreBudgetBytes);
  return {
    kernel: opts.kernel,
    precision: opts.precision,
    dynq8MaxCode: opts.dynq8MaxCode,
    headGroups: opts.headGroups ?? (opts.kernel === 'mha' ? 1 : layout.headGroups),
    queryChunk: opts.queryChunk ?? layout.queryChunk,
    maxQueries: Math.max(d.T, d.lastScaleTokens),
  };
}

const f32 = (data: Float32Array, shape: number[]): HostTensor => ({ dtype: 'float32', shape, data });

function toNumberRows(t: HostTensor | ArrayLike<number>[], what: string): number[][] {
  if (Array.isArray(t)) return t.map((r) => Array.from(r as ArrayLike<number>, Number));
  const h = t as HostTensor;
  if (h.shape.length !== 2) throw new Error(`${what}: expected [B, T], got [${h.shape}]`);
  const [B, T] = h.shape;
  const flat = Array.from(h.data as ArrayLike<number | bigint>, Number);
  return Array.from({ length: B }, (_, b) => flat.slice(b * T, (b + 1) * T));
}

/**
 * For each of the B conditional rows, the first row with the same context features, position ids
 * and mask (rows of one prompt share their step-0 work).
 */
function sameRows(context: Float32Array, pos: number[][], mask: Float32Array | undefined, B: number, width: number): number[] {
  const T = pos[0]?.length ?? 0;
  const equal = (a: number, b: number): boolean => {
    for (let k = 0; k < T; k++) if (pos[a][k] !== pos[b][k] || (mask && mask[a * T + k] !== mask[b * T + k])) return false;
    const x = context.subarray(a * width, (a + 1) * width), y = context.subarray(b * width, (b + 1) * width);
    for (let k = 0; k < width; k++) if (!Object.is(x[k], y[k])) return false;
    return true;
  };
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let s = b;
    for (const prev of new Set(out)) if (equal(prev, b)) { s = prev; break; }
    out.push(s);
  }
  return out;
}

export class HartTransformer {
  private constructor(
    readonly config: HARTForT2IConfig,
    readonly dims: HartDims & { V: number; Cvae: number },
    private readonly prefix: CompiledModel,
    private readonly embed: CompiledModel,
    private readonly stepModels: { segment: StepSegment; model: CompiledModel }[],
    private readonly diffCond: CompiledModel,
    private readonly reusePrefix: boolean,
    private readonly runtime: Runtime,
    private readonly promptCache: PromptPrefixCache,
  ) {}

  private released = false;
  private uncond?: Promise<UncondPrefix>;
  /** RoPE tables of image scales by (scale, last context position of each row): the same for every prompt of a length. */
  private readonly ropeCache = new Map<string, { cos: Float32Array; sin: Float32Array; l: number }>();

  private ropeTables(si: number, pos: number[][]): { cos: Float32Array; sin: Float32Array; l: number } {
    if (si === 0) return stepRopeTables(this.dims, si, pos);
    // image rows depend only on the scale and the row's last context position (imageRope)
    const key = `${si}:${pos.map((p) => p[this.dims.T - 1]).join(',')}`;
    let t = this.ropeCache.get(key);
    if (!t) {
      if (this.ropeCache.size >= 256) this.ropeCache.clear();
      t = stepRopeTables(this.dims, si, pos);
      this.ropeCache.set(key, t);
    }
    return t;
  }

  /** Frees every session of this transformer (its weights and arenas); it cannot run afterwards. */
  async release(runtime: Runtime): Promise<void> {
    this.released = true;
    this.uncond = undefined;
    this.promptCache.clear();
    await runtime.evict(this.prefix, this.embed, this.diffCond, ...this.stepModels.map((s) => s.model));
  }

  /** Graphs fromWeights compiles for `config` (with the default segmenting): prefix, embedding, diffusion condition, step segments. */
  static graphCount(config: HARTForT2IConfig, maxSegmentBytes = Infinity): number {
    return 3 + stepSegments(config, maxSegmentBytes).length;
  }

  /** What the prompt prefix cache holds (HartTransformerOptions.promptCacheBytes): prompts and bytes. */
  get promptCacheUse(): { prompts: number; bytes: number; maxBytes: number } {
    return { prompts: this.promptCache.count, bytes: this.promptCache.size, maxBytes: this.promptCache.maxBytes };
  }

  /** Number of graphs the blocks are split into. */
  get segmentCount(): number { return this.stepModels.length; }

  /**
   * Builds and compiles the graphs from a weight store (official state-dict names). When the store
   * can list its tensors (a Map-backed store), the whole checkpoint is checked against the config first.
   */
  static async fromWeights(
    config: HARTForT2IConfig, store: WeightStore, runtime: Runtime, opts: HartTransformerOptions = {},
  ): Promise<HartTransformer> {
    assertSupported(config);
    const given = opts.vocabSize !== undefined && opts.Cvae !== undefined;
    const inferred = given ? { V: opts.vocabSize!, Cvae: opts.Cvae! } : inferVocabAndCvae((n) => store.get(n)?.shape);
    const V = opts.vocabSize ?? inferred.V, Cvae = opts.Cvae ?? inferred.Cvae;
    const map = (store as { map?: Map<string, { shape: readonly number[] }> }).map;
    if (map instanceof Map) checkTransformerWeights(config, map, V, Cvae);
    const d = hartDims(config);
    // dynq8 on a CPU whose u8·s8 kernel saturates: 7-bit weight codes (precision.ts)
    const attn = attentionOptions(d, { ...opts, dynq8MaxCode: opts.dynq8MaxCode ?? (runtime.options.u8s8Saturates ? DYNQ8_REDUCED_MAX_CODE : undefined) });
    // keyed by structure + weight bytes: with the model in the disk cache, no weight is emitted
    const compile = (b: { outputs: Parameters<typeof emitOnnx>[0]['outputs'] }, load?: LoadOptions) => runtime.loadGraph(b.outputs, load);
    // One graph at a time, so that at most one segment's weights exist as ONNX bytes at once.
    const done = (what: string) => opts.onGraph?.(`compiled the transformer's ${what}`);
    const prefix = await compile(buildPrefixGraph(config, store));
    done('context prefix');
    // per-token projections: small graphs
    const embed = await compile(buildEmbedGraph(config, store, Cvae), SMALL_GRAPH);
    done('token embedding');
    const diffCond = await compile(buildDiffusionConditionGraph(config, store, Cvae), SMALL_GRAPH);
    done('diffusion condition');
    const stepModels: { segment: StepSegment; model: CompiledModel }[] = [];
    // The step runs with shapes that change every scale: without ONNX Runtime's memory pattern
    // (one pre-planned block per shape) its arena peaks markedly lower at the large scales.
    for (const segment of stepSegments(config, opts.maxSegmentBytes ?? Infinity)) {
      stepModels.push({ segment, model: await runtime.loadGraph(buildStepGraph(config, store, V, attn, segment).outputs, { memPattern: false }) });
      done(`blocks ${segment.start}–${segment.end - 1}`);
    }
    const promptCache = new PromptPrefixCache(opts.reusePrefix === false ? 0 : opts.promptCacheBytes ?? DEFAULT_PROMPT_PREFIX_CACHE_BYTES);
    return new HartTransformer(config, { ...d, V, Cvae }, prefix, embed, stepModels, diffCond, opts.reusePrefix ?? true, runtime, promptCache);
  }

  /**
   * Starts a generation: cond_BD for cat(context, zeros) and empty caches.
   * context [B, T, context_dim]; contextPositionIds [B, T] (cumsum(mask) − 1); contextMask [B, T]
   * (bool/0-1; only AdaLN "avg" pooling reads it; the uncond rows get mask [1, 0, …, 0]).
   */
  async begin(context: HostTensor, contextPositionIds: HostTensor | ArrayLike<number>[], contextMask?: HostTensor): Promise<HartGeneration> {
    if (this.released) throw new Error('HartTransformer: released (single-shot pipeline); load the model again');
    const d = this.dims;
    const [B, T, D] = context.shape;
    if (context.shape.length !== 3 || T !== d.T || D !== d.contextDim) {
      throw new Error(`HartTransformer.begin: context must be [B, ${d.T}, ${d.contextDim}], got [${context.shape}]`);
    }
    if (context.dtype !== 'float32') throw new Error(`HartTransformer.begin: context must be float32, got ${context.dtype}`);
    if (contextMask && contextMask.shape.join() !== [B, T].join()) {
      throw new Error(`HartTransformer.begin: contextMask must be [${B}, ${T}], got [${contextMask.shape}]`);
    }
    const pos = toNumberRows(contextPositionIds, 'contextPositionIds');
    if (pos.length !== B || pos.some((r) => r.length !== T)) throw new Error(`HartTransformer.begin: contextPositionIds must be [${B}, ${T}]`);
    let mask: HostTensor | undefined;
    if (needsContextMask(this.config)) {
      if (!contextMask) throw new Error('HartTransformer.begin: this config pools the context under its mask; pass contextMask');
      const m = new Float32Array(2 * B * T);
      const src = Array.from(contextMask.data as ArrayLike<number | bigint | boolean>, Number);
      m.set(src);
      for (let b = B; b < 2 * B; b++) m[b * T] = 1;
      mask = f32(m, [2 * B, T]);
    }
    let cond_BD: HostTensor, x_BlC: HostTensor, prefixSource: number[] | undefined;
    let prefixHits: Map<number, UncondPrefix> | undefined, prefixPending: Map<number, PromptPrefixKey> | undefined;
    if (this.reusePrefix) {
      // the conditional rows only, once per distinct prompt, and none for a prompt the cache holds;
      // the unconditional ones are the model's constants
      const u = await this.uncondPrefix();
      const ctx = context.data as Float32Array, W = T * D, rows = T * d.C;
      prefixSource = sameRows(ctx, pos, mask?.data as Float32Array | undefined, B, W);
      const key = (b: number): PromptPrefixKey => ({
        context: ctx.subarray(b * W, (b + 1) * W), positionIds: pos[b],
        mask: mask ? (mask.data as Float32Array).subarray(b * T, (b + 1) * T) : undefined,
      });
      prefixHits = new Map();
      const missing: number[] = [];
      for (const b of new Set(prefixSource)) {
        const hit = this.promptCache.get(key(b));
        if (hit) prefixHits.set(b, hit);
        else missing.push(b);
      }
      const c = missing.length ? await this.prefix.run({ context: f32(gatherRows(ctx, W, missing), [missing.length, T, D]) }) : undefined;
      if (this.promptCache.maxBytes > 0) {
        // copies: the caller's context may change before step 0
        prefixPending = new Map(missing.map((b) => {
          const k = key(b);
          return [b, { context: Float32Array.from(k.context), positionIds: [...k.positionIds], mask: k.mask && Float32Array.from(k.mask) }];
        }));
      }
      const condAll = new Float32Array(2 * B * rows), xAll = new Float32Array(2 * B * rows);
      for (let b = 0; b < 2 * B; b++) {
        const hit = b < B ? prefixHits.get(prefixSource[b]) : u;
        if (hit) {
          condAll.set(hit.cond_TC, b * rows);
          xAll.set(hit.x_TC, b * rows);
        } else {
          const m = missing.indexOf(prefixSource[b]);
          condAll.set((c!.cond_BD.data as Float32Array).subarray(m * rows, (m + 1) * rows), b * rows);
          xAll.set((c!.x_BlC.data as Float32Array).subarray(m * rows, (m + 1) * rows), b * rows);
        }
      }
      cond_BD = f32(condAll, [2 * B, T, d.C]);
      x_BlC = f32(xAll, [2 * B, T, d.C]);
    } else {
      const ctx2 = new Float32Array(2 * B * T * D);
      ctx2.set(context.data as Float32Array);
      ({ cond_BD, x_BlC } = await this.prefix.run({ context: f32(ctx2, [2 * B, T, D]) }));
    }
    // The caches hold what steps 0 … N−2 add; the last scale's keys are never read.
    const capacity = d.T + d.imageTokensBeforeLast;
    const past: Record<string, HostTensor> = {};
    for (let i = 0; i < d.depth; i++) {
      for (const kv of ['key', 'value']) {
        past[`past.${i}.${kv}`] = f32(new Float32Array(capacity * 2 * B * d.C), [capacity, 2 * B, d.heads, d.headDim]);
      }
    }
    return { B, si: 0, cond_BD, contextPositionIds: pos, contextMask: mask, prefix_BTC: x_BlC, past, cached: 0, prefixSource, prefixHits, prefixPending };
  }

  /**
   * Runs the next scale. At si = 0 the input is the context prefix (no argument); at si ≥ 1 pass the
   * next-scale tokens of the conditional batch, [B, Cvae, pn, pn] (NCHW, as the tokenizer's
   * area-downsampled f_hat) or [B, pn², Cvae]; they are embedded and repeated for the uncond half.
   */
  async step(gen: HartGeneration, nextInput?: HostTensor): Promise<HartStepOutput> {
    const d = this.dims, si = gen.si, B = gen.B;
    if (si >= d.numScales) throw new Error(`HartTransformer.step: the generation is finished (${d.numScales} scales)`);
    let x_BlC: HostTensor;
    if (si === 0) {
      if (nextInput) throw new Error('HartTransformer.step: scale 0 runs on the context prefix; pass no input');
      if (!gen.prefix_BTC) throw new Error('HartTransformer.step: the generation has no context prefix');
      x_BlC = gen.prefix_BTC;
      gen.prefix_BTC = undefined;
      if (gen.prefixSource) return this.stepPrefixReused(gen, x_BlC);
    } else {
      if (!nextInput) throw new Error(`HartTransformer.step: scale ${si} needs the next-scale tokens`);
      const pn = d.patchNums[si], l = pn * pn;
      let tokens: Float32Array;
      if (nextInput.shape.length === 4 && nextInput.shape.join() === [B, d.Cvae, pn, pn].join()) {
        tokens = nchwToTokens(nextInput.data as Float32Array, B, d.Cvae, l);
      } else if (nextInput.shape.join() === [B, l, d.Cvae].join()) {
        tokens = nextInput.data as Float32Array;
      } else {
        throw new Error(`HartTransformer.step: scale ${si} input must be [${B}, ${d.Cvae}, ${pn}, ${pn}] or [${B}, ${l}, ${d.Cvae}], got [${nextInput.shape}]`);
      }
      const level: HostTensor = { dtype: 'int64', shape: [1], data: BigInt64Array.from([BigInt(si)]) };
      x_BlC = (await this.embed.run({ next_input: f32(tokens, [B, l, d.Cvae]), level })).x_BlC;
    }
    const rope = this.ropeTables(si, gen.contextPositionIds);
    const l = rope.l, P = gen.cached, rowFloats = 2 * B * d.C;
    // The last scale's keys/values are never read: ask for none (kv_rows empty).
    const isLast = si === d.numScales - 1;
    const n = isLast ? 0 : l;
    if (P + n > (gen.past['past.0.key']?.shape[0] ?? 0)) throw new Error(`HartTransformer.step: KV cache overflow at scale ${si}`);
    const shared: Record<string, HostTensor> = {
      cond_BD: gen.cond_BD,
      rope_cos: f32(rope.cos, [2 * B, l, d.headDim]), rope_sin: f32(rope.sin, [2 * B, l, d.headDim]),
      kv_rows: { dtype: 'int64', shape: [n], data: BigInt64Array.from({ length: n }, (_, k) => BigInt(k)) },
    };
    if (gen.contextMask) shared.context_mask = gen.contextMask;
    let out: Record<string, HostTensor> = {};
    for (const { segment, model } of this.stepModels) {
      const feeds: Record<string, HostTensor> = { x_BlC };
      const fetches: Record<string, HostTensor | null> = { hidden: null };
      if (segment.head) fetches.logits = null;
      for (let i = segment.start; i < segment.end; i++) {
        for (const kv of ['key', 'value']) {
          const buf = gen.past[`past.${i}.${kv}`].data as Float32Array;
          feeds[`past.${i}.${kv}`] = f32(buf.subarray(0, P * rowFloats), [P, 2 * B, d.heads, d.headDim]);
          // written in place behind the cached rows
          fetches[`new.${i}.${kv}`] = f32(buf.subarray(P * rowFloats, (P + n) * rowFloats), [n, 2 * B, d.heads, d.headDim]);
        }
      }
      for (const name of model.inputNames) if (!(name in feeds) && shared[name]) feeds[name] = shared[name];
      out = await model.run(feeds, fetches);
      x_BlC = out.hidden;
    }
    gen.si = si + 1;
    gen.cached = P + n;
    if (gen.si >= d.numScales) gen.past = {}; // released after the last scale
    return { si, logits_BlV: out.logits, hidden_BlC: out.hidden };
  }

  /**
   * Step 0 with prefix reuse: the distinct conditional rows the prompt cache lacks run through the
   * step graph (and are stored there), the others come from the cache, the unconditional rows from
   * the model's constants; all are copied into the generation's caches ([T, 2B, H, hd] rows) and
   * assembled into the [2B, T, ·] outputs step() returns.
   */
  private async stepPrefixReused(gen: HartGeneration, x_BTC: HostTensor): Promise<HartStepOutput> {
    const d = this.dims, B = gen.B, T = d.T, C = d.C, V = d.V;
    const src = gen.prefixSource!, hits = gen.prefixHits ?? new Map<number, UncondPrefix>();
    const missing = [...new Set(src)].filter((b) => !hits.has(b));
    let fresh: PrefixRows | undefined;
    if (missing.length) {
      const mask = gen.contextMask ? gatherRows(gen.contextMask.data as Float32Array, T, missing) : undefined;
      const x = x_BTC.data as Float32Array, cond = gen.cond_BD.data as Float32Array;
      fresh = await this.runPrefixRows(gatherRows(x, T * C, missing), gatherRows(cond, T * C, missing),
        missing.map((b) => gen.contextPositionIds[b]), mask, missing.length);
      const U = missing.length;
      missing.forEach((b, m) => {
        const key = gen.prefixPending?.get(b);
        if (!key) return;
        const rowsOf = (a: Float32Array) => {
          const out = new Float32Array(T * C);
          for (let t = 0; t < T; t++) out.set(a.subarray((t * U + m) * C, (t * U + m + 1) * C), t * C);
          return out;
        };
        this.promptCache.set(key, {
          cond_TC: cond.slice(b * T * C, (b + 1) * T * C), x_TC: x.slice(b * T * C, (b + 1) * T * C),
          step0: {
            U: 1, key: fresh!.key.map(rowsOf), value: fresh!.value.map(rowsOf),
            logits: fresh!.logits.slice(m * T * V, (m + 1) * T * V), hidden: fresh!.hidden.slice(m * T * C, (m + 1) * T * C),
          },
        });
      });
    }
    gen.prefixHits = gen.prefixPending = undefined;
    const u = (await this.uncondPrefix()).step0;
    // batch row r's step-0 rows: slot s of p (token t at (t·p.U + s)·C)
    const from = (r: number): { p: PrefixRows; s: number } => {
      if (r >= B) return { p: u, s: 0 };
      const hit = hits.get(src[r]);
      return hit ? { p: hit.step0, s: 0 } : { p: fresh!, s: missing.indexOf(src[r]) };
    };
    const rowsFrom = Array.from({ length: 2 * B }, (_, r) => from(r));
    const rowFloats = 2 * B * C;
    for (let i = 0; i < d.depth; i++) {
      for (const kv of ['key', 'value'] as const) {
        const buf = gen.past[`past.${i}.${kv}`].data as Float32Array;
        for (let t = 0; t < T; t++) {
          rowsFrom.forEach(({ p, s }, r) => buf.set(p[kv][i].subarray((t * p.U + s) * C, (t * p.U + s + 1) * C), t * rowFloats + r * C));
        }
      }
    }
    const logits = new Float32Array(2 * B * T * V), hidden = new Float32Array(2 * B * T * C);
    rowsFrom.forEach(({ p, s }, r) => {
      logits.set(p.logits.subarray(s * T * V, (s + 1) * T * V), r * T * V);
      hidden.set(p.hidden.subarray(s * T * C, (s + 1) * T * C), r * T * C);
    });
    gen.si = 1;
    gen.cached = T;
    if (gen.si >= d.numScales) gen.past = {};
    return { si: 0, logits_BlV: f32(logits, [2 * B, T, V]), hidden_BlC: f32(hidden, [2 * B, T, C]) };
  }

  /**
   * Step 0 for U independent rows: inputs x / cond_BD [U, T, C], position ids per row, mask [U, T]
   * (AdaLN "avg" pooling only); the same step graphs as step(), on an empty cache.
   */
  private async runPrefixRows(x_UTC: Float32Array, cond_UTC: Float32Array, pos: number[][], mask: Float32Array | undefined, U: number): Promise<PrefixRows> {
    const d = this.dims, T = d.T, C = d.C;
    const cos = new Float32Array(U * T * d.headDim), sin = new Float32Array(U * T * d.headDim);
    pos.forEach((p, u) => {
      const r = contextRope(p, d.headDim);
      cos.set(r.cos, u * T * d.headDim);
      sin.set(r.sin, u * T * d.headDim);
    });
    const shared: Record<string, HostTensor> = {
      cond_BD: f32(cond_UTC, [U, T, C]),
      rope_cos: f32(cos, [U, T, d.headDim]), rope_sin: f32(sin, [U, T, d.headDim]),
      kv_rows: { dtype: 'int64', shape: [T], data: BigInt64Array.from({ length: T }, (_, k) => BigInt(k)) },
    };
    if (mask) shared.context_mask = f32(mask, [U, T]);
    const key: Float32Array[] = [], value: Float32Array[] = [];
    let x: HostTensor = f32(x_UTC, [U, T, C]);
    let out: Record<string, HostTensor> = {};
    for (const { segment, model } of this.stepModels) {
      const feeds: Record<string, HostTensor> = { x_BlC: x };
      const fetches: Record<string, HostTensor | null> = { hidden: null };
      if (segment.head) fetches.logits = null;
      for (let i = segment.start; i < segment.end; i++) {
        key[i] = new Float32Array(T * U * C);
        value[i] = new Float32Array(T * U * C);
        feeds[`past.${i}.key`] = f32(new Float32Array(0), [0, U, d.heads, d.headDim]);
        feeds[`past.${i}.value`] = f32(new Float32Array(0), [0, U, d.heads, d.headDim]);
        fetches[`new.${i}.key`] = f32(key[i], [T, U, d.heads, d.headDim]);
        fetches[`new.${i}.value`] = f32(value[i], [T, U, d.heads, d.headDim]);
      }
      for (const name of model.inputNames) if (!(name in feeds) && shared[name]) feeds[name] = shared[name];
      out = await model.run(feeds, fetches);
      x = out.hidden;
    }
    return { U, key, value, logits: out.logits.data as Float32Array, hidden: out.hidden.data as Float32Array };
  }

  /**
   * The unconditional half's constants, computed on first use (one step-0 row), or read from the
   * runtime's disk cache when an earlier process persisted them for the same graphs and settings.
   */
  private uncondPrefix(): Promise<UncondPrefix> {
    this.uncond ??= (async () => {
      const d = this.dims, T = d.T;
      const models = [this.prefix, ...this.stepModels.map((s) => s.model)];
      const shape = { T, C: d.C, V: d.V, depth: d.depth };
      const stored = await this.runtime.readDerived('hart-uncond-prefix-v1', models);
      const hit = stored && decodeUncondPrefix(stored, shape);
      if (hit) return hit;
      const u = await this.computeUncondPrefix();
      await this.runtime.writeDerived('hart-uncond-prefix-v1', models, encodeUncondPrefix(u, shape));
      return u;
    })();
    this.uncond.catch(() => { this.uncond = undefined; });
    return this.uncond;
  }

  private async computeUncondPrefix(): Promise<UncondPrefix> {
    const d = this.dims, T = d.T;
    const { cond_BD, x_BlC } = await this.prefix.run({ context: f32(new Float32Array(T * d.contextDim), [1, T, d.contextDim]) });
    const cond_TC = cond_BD.data as Float32Array, x_TC = x_BlC.data as Float32Array;
    let mask: Float32Array | undefined;
    if (needsContextMask(this.config)) { mask = new Float32Array(T); mask[0] = 1; }
    const step0 = await this.runPrefixRows(x_TC, cond_TC, [new Array<number>(T).fill(0)], mask, 1);
    return { cond_TC, x_TC, step0 };
  }

  /**
   * The residual-diffusion condition z = decoder_norm(hidden + word_embed(e)) for both CFG halves:
   * hidden [2B, l, C] from the last scale, e [B, l, Cvae] the codebook embeddings of the chosen
   * indices. Returns [2B, l, C] (rows as the official [2B·l, C] after a reshape).
   */
  async diffusionCondition(hidden_BlC: HostTensor, e_BlCv: HostTensor): Promise<HostTensor> {
    const [B2, l, C] = hidden_BlC.shape;
    const B = B2 / 2;
    if (e_BlCv.shape.join() !== [B, l, this.dims.Cvae].join()) {
      throw new Error(`diffusionCondition: embeddings must be [${B}, ${l}, ${this.dims.Cvae}], got [${e_BlCv.shape}]`);
    }
    const e2 = new Float32Array(2 * e_BlCv.data.length);
    e2.set(e_BlCv.data as Float32Array);
    e2.set(e_BlCv.data as Float32Array, e_BlCv.data.length);
    const { z } = await this.diffCond.run({ hidden: hidden_BlC, embedding: f32(e2, [B2, l, this.dims.Cvae]) });
    if (z.shape[2] !== C) throw new Error('diffusionCondition: unexpected output width');
    return z;
  }
}
