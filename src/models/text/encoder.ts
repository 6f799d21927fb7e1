// Qwen2Encoder: runs the Qwen2 language model on token ids and returns its last hidden state after
// the final RMSNorm (HF `hidden_states[-1]` == `last_hidden_state`; hart-spec §1.1). The token
// embedding is gathered on the host from the stored table (float32/float16/bfloat16); the decoder
// layers run as one or more ONNX graphs (qwen2.ts), each holding at most `maxSegmentBytes` of weights.
// Positions are arange(L) over the whole sequence (HF's default position_ids); the attention mask
// is HF's: causal, plus a key-padding mask from the 2-D attention_mask, added as float32-min.
// Sessions are created outside the runtime's cache, so release() really frees the model.
import { int4Source, type WeightStore, type StoredTensor } from '../../nn/index.ts';
import type { DType as GraphDType } from '../../graph/index.ts';
import { DTYPE_BYTES, numel, toFloat32, type Tensor as IoTensor } from '../../io/dtypes.ts';
import type { TensorSource } from '../../io/tensor-source.ts';
import { decodeFloatBlob, encodeFloatBlob } from '../../io/float-blob.ts';
import type { CompiledModel, Runtime } from '../../runtime/runtime.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import { contextRope } from '../../tables/rope.ts';
import type { Qwen2Config } from './config.ts';
import { qwen2ParamShapes } from './config.ts';
import { qwen2SegmentOutputs, type Qwen2SegmentSpec } from './qwen2.ts';
import { selectLanguageModelWeights } from './weights.ts';

/** Magic of a persisted prefix (io/float-blob.ts: then per layer its keys and values). */
const PREFIX_MAGIC = 'HARTQP1\n';
/** Magic of a persisted row of hidden states (forwardPersisted: one [L, C] array). */
const HIDDEN_MAGIC = 'HARTQH1\n';

/** The most negative float32: HF's additive mask value (torch.finfo(float32).min). */
export const MASK_MIN = -3.4028234663852886e38;

export interface Qwen2EncoderOptions {
  /**
   * Weight bytes (as stored) per ONNX graph; consecutive layers are grouped up to this size
   * (protobuf limits one ONNX model to 2 GB). Default 512 MiB: for Qwen2-1.5B in bfloat16 that is
   * 6 graphs of ≤ 5 layers; measured on the 2-core dev machine, 1 GiB graphs raised peak memory
   * during loading (11 GB vs 8.5 GB) and slowed session creation, one graph per layer gained nothing.
   */
  maxSegmentBytes?: number;
  /**
   * Let ONNX Runtime repack the weights for its GEMM kernels when the graphs load (LoadOptions.prepack).
   * Default false: a cached graph is then mapped instead of read and repacked (seconds per GB) at
   * the cost of ~1.15× the encoding time for a prompt's hundreds of tokens (bench/prepack.ts): the
   * right trade when the encoder is loaded for one prompt (the CLI), a dearer one where it stays
   * resident. Every door (CLI, library, server, worker) uses the default, so they all encode a
   * prompt to the same bits.
   */
  prepack?: boolean;
}

/**
 * HF's 4-D attention mask for one batch, flattened [B, L, P + L] (query i, key j): the first P keys
 * are a cached prefix every query sees (the system prompt, always unpadded); key P + j is 0 where
 * j ≤ i and attention_mask[b, j] = 1; MASK_MIN elsewhere. A query row with no visible key (only
 * possible with left padding and no prefix) is all MASK_MIN, which makes its softmax uniform over
 * all its keys, as HF's eager attention does.
 */
export function qwen2AttentionBias(attentionMask: ArrayLike<number>, B: number, L: number, P = 0): Float32Array {
  if (attentionMask.length !== B * L) throw new Error(`attention mask has ${attentionMask.length} entries, expected ${B}×${L}`);
  const K = P + L;
  const bias = new Float32Array(B * L * K).fill(MASK_MIN);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const row = (b * L + i) * K;
      bias.fill(0, row, row + P);
      for (let j = 0; j <= i; j++) if (attentionMask[b * L + j]) bias[row + P + j] = 0;
    }
  }
  return bias;
}

/**
 * Every layer's keys and values for a run of P unpadded tokens at positions 0 … P − 1 (the system
 * prompt): what later tokens attend to, computed once (Qwen2Encoder.prefix). k[i], v[i]: layer i's
 * [1, KV, 1, P, head_dim].
 */
export interface Qwen2Prefix {
  readonly ids: readonly number[];
  readonly k: HostTensor[];
  readonly v: HostTensor[];
}

/** The layer index of a canonical weight name, or null outside the layers. */
function layerOf(name: string): number | null {
  const m = /^layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

function storedOf(name: string, t: IoTensor): StoredTensor {
  if ((t as StoredTensor).int4) return t as StoredTensor; // int4 Linear weight (nn/int4.ts): kept packed
  if (t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16') {
    return { dtype: t.dtype as GraphDType, shape: t.shape, data: t.data as StoredTensor['data'] };
  }
  if (t.dtype === 'float64') return { dtype: 'float32', shape: t.shape, data: toFloat32(t.dtype, t.data) };
  throw new Error(`text encoder weight ${name} has dtype ${t.dtype}; expected a float type`);
}

export class Qwen2Encoder {
  private released = false;

  private constructor(
    readonly config: Qwen2Config,
    /** The embedding table as stored: [vocab, C]. */
    private embed: IoTensor | null,
    private segments: CompiledModel[],
    /** The layers [start, end) of each segment. */
    private specs: Qwen2SegmentSpec[],
    /** Where prefixes are persisted (its disk cache, when it has one). */
    private runtime: Runtime,
    /** Non-language-model weights that were skipped, per prefix. */
    readonly skippedWeights: { prefix: string; count: number }[],
  ) {}

  /** The last prefix computed (one model has one system prompt): reused while its ids match. */
  private cachedPrefix: Qwen2Prefix | null = null;

  /**
   * Reads the language-model weights from `weights`, builds the layer graphs and opens their
   * sessions. Everything needed is copied out, so the caller may close `weights` afterwards.
   */
  static async load(config: Qwen2Config, source: TensorSource, runtime: Runtime, options: Qwen2EncoderOptions = {}): Promise<Qwen2Encoder> {
    const weights = int4Source(source); // int4 parts (a converted folder) appear as their logical weights
    const lm = selectLanguageModelWeights(weights.names(), config);
    const shapes = qwen2ParamShapes(config);
    for (const [k, shape] of shapes) {
      const info = weights.info(lm.names.get(k)!);
      if (info.shape.join() !== shape.join()) {
        throw new Error(`text encoder weight ${lm.names.get(k)} has shape [${info.shape}], the config implies [${shape}]`);
      }
    }
    const embed = await weights.read(lm.names.get('embed_tokens.weight')!);
    storedOf('embed_tokens.weight', embed); // dtype check
    // Kept for the encoder's life: copy it when it is a view into a larger buffer (a whole file in memory).
    if (embed.data.byteLength !== embed.data.buffer.byteLength) embed.data = embed.data.slice();

    const maxBytes = options.maxSegmentBytes ?? 2 ** 29;
    const layerBytes = new Array<number>(config.num_hidden_layers).fill(0);
    for (const [k, s] of shapes) {
      const layer = layerOf(k);
      if (layer !== null) layerBytes[layer] += numel(s) * DTYPE_BYTES[weights.info(lm.names.get(k)!).dtype];
    }
    const specs: Qwen2SegmentSpec[] = [];
    let start = 0, bytes = 0;
    for (let i = 0; i < config.num_hidden_layers; i++) {
      const b = layerBytes[i];
      if (i > start && bytes + b > maxBytes) {
        specs.push({ start, end: i, finalNorm: false });
        start = i;
        bytes = 0;
      }
      bytes += b;
    }
    specs.push({ start, end: config.num_hidden_layers, finalNorm: true });

    const sessions: CompiledModel[] = [];
    try {
      for (const spec of specs) {
        // Read only this segment's weights, so at most one segment is held twice (as weights and as ONNX bytes, when compiled).
        const map = new Map<string, StoredTensor>();
        for (const k of shapes.keys()) {
          const layer = layerOf(k);
          const inSeg = layer === null ? spec.finalNorm && k === 'norm.weight' : layer >= spec.start && layer < spec.end;
          if (inSeg) map.set(k, storedOf(k, await weights.read(lm.names.get(k)!)));
        }
        const store: WeightStore = { get: (name) => map.get(name) };
        // keyed by the graph and its weights without emitting them: a disk-cache hit never serializes the segment
        sessions.push(await runtime.loadGraphUncached(qwen2SegmentOutputs(store, config, spec), { prepack: options.prepack ?? false }));
      }
    } catch (e) {
      for (const s of sessions) await s.release().catch(() => {});
      throw e;
    }
    return new Qwen2Encoder(config, embed, sessions, specs, runtime, lm.skipped);
  }

  /** Number of ONNX graphs the layers were split into. */
  get segmentCount(): number { return this.segments.length; }

  /** embed_tokens(ids) as float32 [B·L·C]. */
  private embedTokens(ids: ArrayLike<number>): Float32Array {
    const C = this.config.hidden_size, V = this.config.vocab_size;
    const e = this.embed!;
    const out = new Float32Array(ids.length * C);
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} at position ${n} is outside the vocabulary (0..${V - 1})`);
      out.set(toFloat32(e.dtype, e.data.subarray(id * C, (id + 1) * C)), n * C);
    }
    return out;
  }

  /**
   * The last hidden state (after the final norm) for `inputIds` [B, L] with a 0/1 `attentionMask`
   * [B, L] (row-major), as float32 [B, L, C]; every position is returned, padding included. With a
   * `prefix` (from prefix()), the tokens follow its P tokens, at positions P … P + L − 1: the same
   * hidden states as a forward over the prefix's ids and these together, at these positions (causal
   * attention: the prefix never sees what follows it).
   */
  async forward(inputIds: ArrayLike<number>, attentionMask: ArrayLike<number>, B: number, prefix?: Qwen2Prefix): Promise<HostTensor> {
    return (await this.run(inputIds, attentionMask, B, prefix, false)).hidden;
  }

  /**
   * forward(), each row also kept in the runtime's disk cache (with one, for an encoder large enough
   * to be worth it: the released 1.5B, not the default model's), keyed by the prefix's ids and the
   * row's ids and mask: a later process encoding the same prompt reads its rows instead of running
   * the layers (seconds per prompt at 1.5B). Rows are computed independently of each other, so a
   * row read back is the row a batch would give.
   */
  async forwardPersisted(inputIds: ArrayLike<number>, attentionMask: ArrayLike<number>, B: number, prefix?: Qwen2Prefix): Promise<HostTensor> {
    const L = inputIds.length / B, C = this.config.hidden_size;
    if (!Number.isInteger(L) || L < 1) throw new Error(`${inputIds.length} token ids do not form ${B} rows`);
    const rowOf = (a: ArrayLike<number>, b: number) => Array.from({ length: L }, (_, i) => a[b * L + i]);
    const rowName = (b: number) => `qwen2-hidden-v1:${prefix ? prefix.ids.join(',') : ''}|${rowOf(inputIds, b).join(',')}|${rowOf(attentionMask, b).join('')}`;
    const header = { rows: L, width: C };
    const out = new Float32Array(B * L * C);
    const missing: number[] = [];
    for (let b = 0; b < B; b++) {
      const stored = await this.runtime.readDerived(rowName(b), this.segments);
      const row = stored && decodeFloatBlob(stored, HIDDEN_MAGIC, header, [L * C]);
      if (row) out.set(row[0], b * L * C);
      else missing.push(b);
    }
    if (missing.length) {
      const pick = (a: ArrayLike<number>) => missing.flatMap((b) => rowOf(a, b));
      const h = (await this.forward(pick(inputIds), pick(attentionMask), missing.length, prefix)).data as Float32Array;
      for (const [k, b] of missing.entries()) {
        const row = h.subarray(k * L * C, (k + 1) * L * C);
        out.set(row, b * L * C);
        await this.runtime.writeDerived(rowName(b), this.segments, encodeFloatBlob(HIDDEN_MAGIC, header, [row]));
      }
    }
    return { dtype: 'float32', shape: [B, L, C], data: out };
  }

  /**
   * Every layer's keys/values for `ids` (unpadded, at positions 0 … P − 1), to pass to forward():
   * the constant system prompt runs once per encoder instead of once per prompt, and is read from
   * the runtime's disk cache when an earlier process stored it for the same graphs and ids. The
   * last one is kept and returned again for the same ids.
   */
  async prefix(ids: readonly number[]): Promise<Qwen2Prefix> {
    const cached = this.cachedPrefix;
    if (cached && cached.ids.length === ids.length && cached.ids.every((v, i) => v === ids[i])) return cached;
    if (ids.length === 0) throw new Error('Qwen2Encoder.prefix: no token ids');
    if (this.released) throw new Error('Qwen2Encoder: used after release()');
    const cfg = this.config, L = cfg.num_hidden_layers;
    const shape = [1, cfg.num_key_value_heads, 1, ids.length, cfg.head_dim];
    const name = `qwen2-prefix-v1:${ids.join(',')}`;
    const header = { layers: L, shape };
    const stored = await this.runtime.readDerived(name, this.segments);
    let kv = stored && decodeFloatBlob(stored, PREFIX_MAGIC, header, new Array<number>(2 * L).fill(numel(shape)));
    if (!kv) {
      const r = (await this.run(ids, new Uint8Array(ids.length).fill(1), 1, undefined, true)).kv;
      kv = r.flatMap((x) => [x.k.data as Float32Array, x.v.data as Float32Array]);
      await this.runtime.writeDerived(name, this.segments, encodeFloatBlob(PREFIX_MAGIC, header, kv));
    }
    const t = (data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
    const p: Qwen2Prefix = { ids: [...ids], k: kv.filter((_, i) => i % 2 === 0).map(t), v: kv.filter((_, i) => i % 2 === 1).map(t) };
    this.cachedPrefix = p;
    return p;
  }

  private async run(
    inputIds: ArrayLike<number>, attentionMask: ArrayLike<number>, B: number, prefix: Qwen2Prefix | undefined, keepKv: boolean,
  ): Promise<{ hidden: HostTensor; kv: { k: HostTensor; v: HostTensor }[] }> {
    if (this.released) throw new Error('Qwen2Encoder: used after release()');
    const cfg = this.config;
    const L = inputIds.length / B;
    if (!Number.isInteger(L) || L < 1) throw new Error(`${inputIds.length} token ids do not form ${B} rows`);
    const P = prefix ? prefix.ids.length : 0;
    if (prefix && (prefix.k.length !== cfg.num_hidden_layers || prefix.v.length !== cfg.num_hidden_layers)) {
      throw new Error(`prefix holds ${prefix.k.length} layers' keys, the model has ${cfg.num_hidden_layers}`);
    }
    if (cfg.use_sliding_window && cfg.sliding_window !== null && P + L > cfg.sliding_window) {
      throw new Error(`sequence of ${P + L} tokens exceeds the sliding window ${cfg.sliding_window} (sliding-window attention is not implemented)`);
    }
    const rope = contextRope(Array.from({ length: L }, (_, i) => P + i), cfg.head_dim, cfg.rope_theta);
    const fixed: Record<string, HostTensor> = {
      rope_cos: { dtype: 'float32', shape: [L, cfg.head_dim], data: rope.cos },
      rope_sin: { dtype: 'float32', shape: [L, cfg.head_dim], data: rope.sin },
      attn_bias: { dtype: 'float32', shape: [B, L, P + L], data: qwen2AttentionBias(attentionMask, B, L, P) },
    };
    const empty: HostTensor = { dtype: 'float32', shape: [1, cfg.num_key_value_heads, 1, 0, cfg.head_dim], data: new Float32Array(0) };
    const kv: { k: HostTensor; v: HostTensor }[] = [];
    let hidden: HostTensor = { dtype: 'float32', shape: [B, L, cfg.hidden_size], data: this.embedTokens(inputIds) };
    for (let si = 0; si < this.segments.length; si++) {
      const { start, end } = this.specs[si];
      const feeds: Record<string, HostTensor> = { ...fixed, hidden };
      const fetches = ['hidden_out'];
      for (let i = start; i < end; i++) {
        feeds[`past_k.${i}`] = prefix?.k[i] ?? empty;
        feeds[`past_v.${i}`] = prefix?.v[i] ?? empty;
        if (keepKv) fetches.push(`present_k.${i}`, `present_v.${i}`);
      }
      const out = await this.segments[si].run(feeds, fetches);
      hidden = out.hidden_out;
      if (keepKv) for (let i = start; i < end; i++) kv.push({ k: out[`present_k.${i}`], v: out[`present_v.${i}`] });
    }
    return { hidden, kv };
  }

  /** Frees the sessions and the embedding table; the encoder cannot be used afterwards. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const sessions = this.segments;
    this.segments = [];
    this.embed = null;
    this.cachedPrefix = null;
    for (const s of sessions) await s.release();
  }
}
