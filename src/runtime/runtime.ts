// Runs emitted ONNX graphs on an ONNX Runtime module (onnxruntime-node or onnxruntime-web, passed
// in: no global backend). Sessions are cached in memory by the SHA-256 of the model bytes (load)
// or of the graph's structure and weight values (loadGraph, which emits the weights only when it
// must compile), and optionally on disk (ModelCache; model-cache.node.ts: the emitted model with
// its weights in a file ONNX Runtime maps, or ONNX Runtime's optimized model), so a second process
// skips the emission and the weight work of the optimizer.
import type { InferenceSession as OrtSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { emitOnnx, type OnnxModel } from '../graph/onnx/emit.ts';
import type { Tensor } from '../graph/tensor.ts';
import type { HostTensor } from './host-tensor.ts';
import type { DType } from '../graph/dtype.ts';

/** The subset of the onnxruntime-{node,web} module this runtime uses. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array | string, options?: OrtSession.SessionOptions): Promise<OrtSession> };
  Tensor: new (type: never, data: never, dims: readonly number[]) => OrtTensor;
}

export interface RuntimeOptions {
  /** Execution providers in order of preference, e.g. ['cpu'], ['cuda', 'cpu'], ['webgpu'], ['wasm']. */
  executionProviders?: string[];
  /** Intra-op threads (0 = ONNX Runtime's default). */
  threads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * ONNX Runtime's memory pattern (one pre-planned block per input shape; default on). Off, each
   * tensor comes from the arena on its own, which lowers the peak of large graphs with many shapes.
   */
  memPattern?: boolean;
  /**
   * Whether ONNX Runtime's intra-op worker threads spin while waiting for work (ORT's default: on,
   * lowest latency). Off ('session.intra_op.allow_spinning' = '0') they sleep, which leaves the
   * cores to other processes on a shared machine and can steady step times; undefined keeps ORT's.
   */
  allowSpinning?: boolean;
  /**
   * Whether intra-op worker threads stop spinning as soon as a run ends ('session.force_spinning_stop'
   * = '1'; ORT's default: off, they spin on for a while). A pipeline runs several sessions in turn
   * (text encoder, one graph per scale, the diffusion head, the decoder), each with its own pool:
   * workers still spinning for the session before take the cores from the next one's. Node's
   * runtime turns it on (the 64 px image with 2 threads: 0.29 s spinning on, 0.09 s off; see
   * `bench/latency-models.ts --threads 1,2 --keep-spinning`); undefined keeps ORT's.
   */
  forceSpinningStop?: boolean;
  /**
   * Whether ONNX Runtime's u8·s8 integer matrix product (DynamicQuantizeMatMul) adds pairs of
   * products in int16 and saturates: x86 CPUs without int8 dot products (neither AVX-512 VNNI nor
   * AVX-VNNI). The transformer's dynq8 precision then quantizes its weights to 7-bit codes
   * (src/models/transformer/precision.ts). Node's runtime reads it from /proc/cpuinfo; default false.
   */
  u8s8Saturates?: boolean;
  /**
   * Whether graphs loaded without weight prepacking (the text encoder) use their Linear weights as
   * stored, through com.microsoft FusedMatMul(transB = 1) (default true; see linearWeights below).
   * onnxruntime-web's WebGPU backend computes the text encoder's graph wrongly in that form
   * (replayed in Chromium, test/web/webgpu-replay.test.ts: max |Δ| 5.0 on outputs of magnitude 7.5,
   * 3.8e-6 with the transposes left in the graph), so webRuntime turns it off for 'webgpu'.
   */
  fusedLinearWeights?: boolean;
  /**
   * How a model with external data (over 2 GB) becomes a session. Node writes model + weights to a
   * temporary folder and loads the path (src/runtime/node.node.ts); the default hands the weights
   * to ONNX Runtime as an in-memory external data file (onnxruntime-web).
   */
  createWithExternalData?: (model: OnnxModel, options: OrtSession.SessionOptions) => Promise<OrtSession>;
  /** SHA-256 (hex) of byte chunks; default WebCrypto (Node passes node:crypto, ~15× faster on weights). */
  sha256?: (parts: Uint8Array[]) => Promise<string> | string;
  /** Models on disk (Node: DiskModelCache); none by default. */
  modelCache?: ModelCache;
  /** Called once per model the runtime makes a session for (progress while loading). */
  onLoad?: (e: LoadEvent) => void;
  /**
   * Whether the ONNX Runtime module writes pre-allocated CPU outputs in place (default true:
   * onnxruntime-node does). onnxruntime-web's wasm backend (1.30) hands the given tensors back
   * unwritten, so the web adapter sets false: outputs are then fetched as new tensors and copied
   * into the given buffers (the KV caches rely on the in-place contract).
   */
  outputsInPlace?: boolean;
  /**
   * After compiling a model into the disk cache as ONNX Runtime's optimized copy, release that
   * session and open the cached copy instead (default true). The compiling session holds more
   * memory through generation than one opened from the cache (the 0.7B at 512 px: peak RSS
   * 11.4 vs 7.0 GiB, same speed: `npx hart bench generate --config full --size 512 --skip-text
   * --json` with and without --no-warm); reopening costs a warm load (6 s there).
   */
  reopenCompiled?: boolean;
}

/** One session made: where it came from, its size (ONNX bytes + weights) and the seconds it took. */
export interface LoadEvent {
  source: 'compiled' | 'disk-cache';
  bytes: number;
  seconds: number;
  /** Whether the model was written to the disk cache. */
  cached: boolean;
}

/**
 * A cached model: its path, whether it is ONNX Runtime's optimized model (created with the
 * optimizations off) rather than the emitted one, and how to drop it when it cannot be loaded.
 */
export interface ModelCacheEntry { path: string; optimized: boolean; discard(): Promise<void> }

/** Where ONNX Runtime writes an optimized model (weights in `externalWeights` beside it); commit puts it in the cache. */
export interface ModelCacheWriter { path: string; externalWeights: string; commit(): Promise<void>; abort(): Promise<void> }

export interface ModelCache {
  /** Models smaller than this (bytes) are not cached. */
  readonly minBytes: number;
  /** The cache key of a graph under the given session settings. */
  entryKey(graphKey: string, settings: string): string;
  lookup(key: string): Promise<ModelCacheEntry | undefined>;
  /**
   * Writes `model` (its weights in its external data file) as the entry for `key`, whole or not at
   * all; undefined when it cannot be written (an unwritable folder, a full disk).
   */
  store(key: string, model: OnnxModel): Promise<ModelCacheEntry | undefined>;
  /** A writer for ONNX Runtime's optimized model of `key` (undefined when the cache cannot be written). */
  begin(key: string): Promise<ModelCacheWriter | undefined>;
  /** Results derived from cached models (e.g. a model's constant prefix), one file per key; optional. */
  readBlob?(key: string): Promise<Uint8Array | undefined>;
  writeBlob?(key: string, bytes: Uint8Array): Promise<void>;
}

/** One buffer holding an ExternalData file (browsers: must stay under their ArrayBuffer limit). */
export function concatExternalData(model: OnnxModel): Uint8Array {
  const x = model.externalData!;
  const out = new Uint8Array(x.byteLength);
  for (const c of x.chunks) out.set(c.bytes, c.offset);
  return out;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await globalThis.crypto.subtle.digest('SHA-256', bytes as unknown as ArrayBuffer);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function webSha256(parts: Uint8Array[]): Promise<string> {
  if (parts.length === 1) return sha256Hex(parts[0]);
  const hs = [];
  for (const p of parts) hs.push(await sha256Hex(p));
  return sha256Hex(new TextEncoder().encode(hs.join('|')));
}

const rawBytes = (a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

const ORT_TYPE: Partial<Record<DType, string>> = {
  float32: 'float32', float16: 'float16', float64: 'float64', int64: 'int64', int32: 'int32',
  bool: 'bool', uint8: 'uint8', int8: 'int8',
};

export class CompiledModel {
  /** The runtime's key of the graph this session runs and its bytes (weights included), when it was loaded by key. */
  cacheKey?: string;
  cacheBytes?: number;

  constructor(
    readonly session: OrtSession,
    readonly model: OnnxModel,
    private ort: OrtModule,
    /** See RuntimeOptions.outputsInPlace. */
    private readonly outputsInPlace = true,
  ) {}

  get inputNames(): readonly string[] { return this.session.inputNames; }

  /**
   * Runs the model; `fetches` limits the outputs copied back (all when absent). As a record, an
   * entry with a HostTensor is a pre-allocated output: ONNX Runtime writes into its data (which may
   * be a view into a larger buffer) and the shape must match; null entries are allocated as usual.
   */
  async run(feeds: Record<string, HostTensor>, fetches?: readonly string[] | Record<string, HostTensor | null>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const name of this.session.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`missing feed "${name}" (model inputs: ${this.session.inputNames.join(', ')})`);
      const type = ORT_TYPE[t.dtype];
      if (!type) throw new Error(`feed "${name}": dtype ${t.dtype} cannot cross into ONNX Runtime`);
      ortFeeds[name] = new this.ort.Tensor(type as never, t.data as never, t.shape);
    }
    const extra = Object.keys(feeds).filter((k) => !this.session.inputNames.includes(k));
    if (extra.length) throw new Error(`unknown feeds: ${extra.join(', ')}`);
    let out: OrtSession.ReturnType;
    const copied: Record<string, HostTensor> = {};
    if (!fetches) out = await this.session.run(ortFeeds);
    else if (Array.isArray(fetches)) out = await this.session.run(ortFeeds, fetches as readonly string[]);
    else {
      const ortFetches: Record<string, OrtTensor | null> = {};
      for (const [name, t] of Object.entries(fetches as Record<string, HostTensor | null>)) {
        if (!t || !this.outputsInPlace) { ortFetches[name] = null; continue; }
        const type = ORT_TYPE[t.dtype];
        if (!type) throw new Error(`fetch "${name}": dtype ${t.dtype} cannot cross into ONNX Runtime`);
        ortFetches[name] = new this.ort.Tensor(type as never, t.data as never, t.shape);
      }
      out = await this.session.run(ortFeeds, ortFetches as OrtSession.FetchesType);
      if (!this.outputsInPlace) {
        for (const [name, t] of Object.entries(fetches as Record<string, HostTensor | null>)) {
          const got = out[name];
          if (!t || !got) continue;
          if (got.dims.join() !== t.shape.join()) throw new Error(`fetch "${name}": ONNX Runtime returned [${got.dims}], the pre-allocated output is [${t.shape}]`);
          (t.data as Float32Array).set(got.data as Float32Array);
          copied[name] = t;
        }
      }
    }
    const result: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      const dtype = (t.type === 'bool' ? 'bool' : t.type) as DType;
      result[name] = copied[name] ?? { dtype, shape: [...t.dims], data: t.data as HostTensor['data'] };
    }
    return result;
  }

  release(): Promise<void> { return this.session.release(); }
}

/** Per-model session settings that override the runtime's. */
export interface LoadOptions {
  /** See RuntimeOptions.memPattern. */
  memPattern?: boolean;
  /**
   * false: ONNX Runtime keeps the MatMul weights as they are instead of repacking them for its
   * GEMM kernels when the session is created (session.disable_prepacking). A session from the disk
   * cache then maps the weights file instead of reading and repacking it: creation takes
   * milliseconds instead of ~3.5 s per GB here. The products pay for it: ~1.2× the time with
   * hundreds of rows (a text encoder's prompt), ~3× with a few rows (bench/prepack.ts). Default true.
   */
  prepack?: boolean;
  /**
   * Intra-op threads of this session instead of the runtime's. 1 for graphs whose every run is
   * small (a per-token projection, a 3×3 convolution on the latent): waking a second thread costs
   * more than it saves there (the default model's 64 px image on a 2-core machine, `npx tsx
   * bench/session-runs.ts` in a checkout of each, alternating: the token embedding 0.50–0.58 → 0.15–
   * 0.21 ms a run, the next-scale input 0.92–1.01 → 0.50 ms, the diffusion condition 0.87–1.05 →
   * 0.48–0.71 ms; 10 → 5 ms of a 130–150 ms image).
   */
  threads?: number;
}

/**
 * Graphs whose weights ONNX Runtime does not prepack (the text encoder) are cached as emitted, every
 * weight of at least this many bytes in the external data file: ONNX Runtime maps that file when it
 * creates a session from the path, where weights inside the protobuf are parsed and copied (~5 s per
 * 660 MB on a busy 2-core machine against ~0.01 s mapped). The emitter already did the weight work
 * ONNX Runtime's optimizer would repeat at every load (EmitOptions.foldWeights), so for them the
 * cache skips writing ONNX Runtime's optimized model, which cost as much as the rest of a cold load.
 */
const CACHE_EXTERNAL_THRESHOLD = 1024;

/**
 * How graphs loaded by key lay out their Linear weights (EmitOptions.linearWeights): used as stored
 * (FusedMatMul) where ONNX Runtime does not prepack them, so a cached file is mapped as it is (the
 * text encoder); elsewhere the transposes stay in the graph for ONNX Runtime's optimizer, whose
 * optimized model the cache keeps (with prepacking, FusedMatMul and pre-transposed mapped weights
 * both made the 0.7B's generation ~1.3× slower here).
 */
function linearWeights(load: LoadOptions, options: RuntimeOptions): 'fused' | 'graph' {
  return load.prepack === false && options.fusedLinearWeights !== false ? 'fused' : 'graph';
}

/**
 * A keyed model's CompiledModel.cacheKey, what its derived results are filed under: the graph's key
 * and the load options that change the graph it runs (prepack false lays the Linear weights out
 * otherwise: linearWeights above), the same for loads through the in-memory cache and without it.
 */
function derivedModelKey(key: string, load: LoadOptions): string {
  return key + (load.prepack === false ? '|no-prepack' : '');
}

/** LoadOptions of a graph whose every run is small, at any model size: one thread (LoadOptions.threads). */
export const SMALL_GRAPH: LoadOptions = { threads: 1 };

/** What graphKey cannot see in the emitted structure: the version of the emitter's weight folding. */
const GRAPH_KEY_VERSION = 'fold-weights v2\n';

export class Runtime {
  private cache = new Map<string, Promise<CompiledModel>>();
  constructor(readonly ort: OrtModule, readonly options: RuntimeOptions = {}) {}

  /** A session wrapped for run(), with this runtime's output handling. */
  private compiled(session: OrtSession, model: OnnxModel): CompiledModel {
    return new CompiledModel(session, model, this.ort, this.options.outputsInPlace ?? true);
  }

  private sessionOptions(load: LoadOptions = {}): OrtSession.SessionOptions {
    const opts: OrtSession.SessionOptions = {
      executionProviders: this.options.executionProviders ?? ['cpu'],
      graphOptimizationLevel: this.options.graphOptimizationLevel ?? 'all',
    };
    const threads = load.threads ?? this.options.threads;
    if (threads) opts.intraOpNumThreads = threads;
    if ((this.options.memPattern ?? load.memPattern) === false) opts.enableMemPattern = false;
    const session: Record<string, unknown> = {};
    if (this.options.allowSpinning !== undefined) session.intra_op = { allow_spinning: this.options.allowSpinning ? '1' : '0' };
    if (this.options.forceSpinningStop !== undefined) session.force_spinning_stop = this.options.forceSpinningStop ? '1' : '0';
    if (load.prepack === false) session.disable_prepacking = '1';
    if (Object.keys(session).length) opts.extra = { session };
    return opts;
  }

  /** The session settings a cache key holds besides the graph: providers, level, ONNX Runtime's version. */
  private settings(opts: OrtSession.SessionOptions): string {
    const versions = (this.ort as { env?: { versions?: unknown } }).env?.versions;
    return JSON.stringify({ ep: opts.executionProviders, level: opts.graphOptimizationLevel, ort: versions ?? null });
  }

  /**
   * ORT's fusions do not check that the fused kernel exists for the graph's dtype (x·sigmoid(x)
   * becomes com.microsoft.QuickGelu, which is float32-only), so a valid float64 graph can fail to
   * load at the 'all' level; such a failure is retried with the basic, kernel-preserving level.
   * `source`: an emitted model, or the path of a model file (a disk-cache entry).
   */
  private async createSession(source: OnnxModel | string, load: LoadOptions = {}, save?: ModelCacheWriter, level?: 'disabled'): Promise<OrtSession> {
    let opts = this.sessionOptions(load);
    if (level) opts.graphOptimizationLevel = level;
    if (save) {
      // ONNX Runtime writes the model it optimized, weights in a file beside it (protobuf stops at 2 GB)
      const extra = (opts.extra ?? {}) as Record<string, Record<string, unknown>>;
      opts = {
        ...opts, optimizedModelFilePath: save.path, logSeverityLevel: 3, // not ORT's "hardware specific" warning on every save (the key holds the CPU)
        extra: { ...extra, session: { ...(extra.session ?? {}), optimized_model_external_initializers_file_name: save.externalWeights, optimized_model_external_initializers_min_size_in_bytes: '1024' } },
      };
    }
    const create = (o: OrtSession.SessionOptions) => {
      if (typeof source === 'string') return this.ort.InferenceSession.create(source, o);
      if (!source.externalData) return this.ort.InferenceSession.create(source.bytes, o);
      if (this.options.createWithExternalData) return this.options.createWithExternalData(source, o);
      const externalData = [{ path: source.externalData.location, data: concatExternalData(source) }];
      return this.ort.InferenceSession.create(source.bytes, { ...o, externalData } as OrtSession.SessionOptions);
    };
    try {
      return await create(opts);
    } catch (e) {
      const level = opts.graphOptimizationLevel;
      if (!/Fusion/.test(String(e)) || level === 'basic' || level === 'disabled') throw e;
      return create({ ...opts, graphOptimizationLevel: 'basic' });
    }
  }

  private hash(parts: Uint8Array[]): Promise<string> {
    return Promise.resolve((this.options.sha256 ?? webSha256)(parts));
  }

  /** Cache key: the graph bytes and every external weight byte. */
  private async key(model: OnnxModel): Promise<string> {
    const parts = [model.bytes];
    for (const c of model.externalData?.chunks ?? []) parts.push(new TextEncoder().encode(`@${c.offset}`), c.bytes);
    return `onnx:${await this.hash(parts)}`;
  }

  /**
   * Key of a graph without emitting its weights: its ONNX structure (weights as named, typed
   * inputs, small constants included) and the bytes of every weight, in order. The structure is
   * emitted without the weight folding the session's model gets (EmitOptions.foldWeights), so the
   * key names that step's version too: a change to it must change GRAPH_KEY_VERSION.
   */
  async graphKey(outputs: Record<string, Tensor>): Promise<{ key: string; bytes: number; structure: OnnxModel }> {
    const structure = emitOnnx({ outputs, paramsAsInputs: true });
    const graph = Object.values(outputs)[0].graph;
    const byName = new Map(graph.params.map((p) => [p.name!, p]));
    const parts = [new TextEncoder().encode(GRAPH_KEY_VERSION), structure.bytes];
    let bytes = structure.bytes.byteLength;
    for (const name of structure.paramNames) {
      const p = byName.get(name)!;
      parts.push(new TextEncoder().encode(`${name}:${p.dtype}:${p.shape.join('x')}`), rawBytes(p.value!));
      bytes += p.value!.byteLength;
    }
    return { key: `graph:${await this.hash(parts)}`, bytes, structure };
  }

  /**
   * A session for `key`: from the disk cache when it holds the model (emit is then never called),
   * else emitted (every weight external when the cache stores it as emitted: emit(true)) and
   * written to the disk cache when there is one: ONNX Runtime's optimized copy, or the emitted
   * model, from which the session is then created.
   */
  private async open(key: string, bytes: number, emit: (forCache: boolean) => OnnxModel, load: LoadOptions): Promise<OrtSession> {
    const t0 = performance.now();
    const done = (source: LoadEvent['source'], cached: boolean) =>
      this.options.onLoad?.({ source, bytes, cached, seconds: (performance.now() - t0) / 1000 });
    const cache = this.options.modelCache;
    if (!cache || bytes < cache.minBytes) {
      const s = await this.createSession(emit(false), load);
      done('compiled', false);
      return s;
    }
    const entryKey = cache.entryKey(key, `${this.settings(this.sessionOptions(load))}|linear:${linearWeights(load, this.options)}`);
    const hit = await cache.lookup(entryKey);
    if (hit) {
      try {
        const s = await this.createSession(hit.path, load, undefined, hit.optimized ? 'disabled' : undefined);
        done('disk-cache', true);
        return s;
      } catch {
        await hit.discard().catch(() => {}); // unreadable entry: drop it and emit afresh
      }
    }
    // only unpacked graphs can go to the cache as emitted (below), which needs every weight external
    const model = emit(load.prepack === false);
    if (load.prepack !== false || model.opTypes?.includes('Conv')) {
      // Where ONNX Runtime repacks the weights anyway (prepacking), or rewrites convolution weights
      // into its blocked layout at every creation (~1–3 s for the 0.7B's decoder against ~0.1 s from
      // its optimized model), the cache keeps ONNX Runtime's optimized copy. Measured on the 0.7B at
      // 256 px, sessions from the emitted model with mapped weights made generation ~1.3× slower.
      const w = await cache.begin(entryKey);
      if (w) {
        let s: OrtSession;
        try {
          s = await this.createSession(model, load, w);
        } catch (e) {
          await w.abort().catch(() => {});
          throw e;
        }
        const committed = await w.commit().then(() => true, () => w.abort().then(() => false, () => false));
        if (committed && this.options.reopenCompiled !== false) s = await this.reopen(s, entryKey, load, () => this.createSession(model, load));
        done('compiled', true);
        return s;
      }
    }
    const entry = await cache.store(entryKey, model).catch(() => undefined);
    if (entry) {
      try {
        const s = await this.createSession(entry.path, load);
        done('compiled', true);
        return s;
      } catch {
        await entry.discard().catch(() => {}); // evicted by another process meanwhile, or unreadable: run from memory
      }
    }
    const s = await this.createSession(model, load);
    done('compiled', false);
    return s;
  }

  /**
   * The cache entry just committed, as a new session in place of `compiling` (kept when the entry
   * is gone; compiled again from memory by `recompile` when the entry cannot be opened).
   */
  private async reopen(compiling: OrtSession, entryKey: string, load: LoadOptions, recompile: () => Promise<OrtSession>): Promise<OrtSession> {
    const hit = await this.options.modelCache!.lookup(entryKey).catch(() => undefined);
    if (!hit) return compiling; // evicted by another process meanwhile
    await compiling.release();
    try {
      return await this.createSession(hit.path, load, undefined, hit.optimized ? 'disabled' : undefined);
    } catch {
      await hit.discard().catch(() => {});
      return recompile();
    }
  }

  private loadKeyed(key: string, bytes: number, emit: (forCache: boolean) => OnnxModel, stub: () => OnnxModel, opts: LoadOptions): Promise<CompiledModel> {
    const k = derivedModelKey(key, opts) + (opts.memPattern === false ? '|no-mem-pattern' : '') + (opts.threads ? `|threads:${opts.threads}` : '');
    let p = this.cache.get(k);
    if (!p) {
      // the session owns the weights now: keep no second copy of the bytes in the cache
      p = this.open(key, bytes, emit, opts).then((s) => {
        const m = this.compiled(s, stub());
        m.cacheKey = derivedModelKey(key, opts);
        m.cacheBytes = bytes;
        return m;
      });
      this.cache.set(k, p);
      p.catch(() => this.cache.delete(k));
    }
    return p;
  }

  /** Creates (or reuses) a session for the model. */
  async load(model: OnnxModel, opts: LoadOptions = {}): Promise<CompiledModel> {
    const bytes = model.bytes.byteLength + (model.externalData?.byteLength ?? 0);
    return this.loadKeyed(await this.key(model), bytes, () => model,
      () => ({ ...model, bytes: new Uint8Array(0), externalData: undefined }), opts);
  }

  /**
   * Creates (or reuses) a session for the graph computing `outputs` (weights as initializers), like
   * load(emitOnnx({ outputs })), but keyed without emitting: with a disk cache hit the weights are
   * never serialized.
   */
  async loadGraph(outputs: Record<string, Tensor>, opts: LoadOptions = {}): Promise<CompiledModel> {
    const { key, bytes, structure } = await this.graphKey(outputs);
    return this.loadKeyed(key, bytes, (forCache) => emitOnnx({ outputs, externalDataThreshold: forCache ? CACHE_EXTERNAL_THRESHOLD : undefined, linearWeights: linearWeights(opts, this.options) }),
      () => ({ ...structure, bytes: new Uint8Array(0), paramNames: [], externalData: undefined }), opts);
  }

  /**
   * A session outside the in-memory cache (the disk cache, if any, still serves it), owned by the caller (free it with CompiledModel.release()), for
   * large models used briefly, such as the text encoder. The model bytes are not kept once the
   * session exists (the returned model's `bytes` is empty).
   */
  async loadUncached(model: OnnxModel): Promise<CompiledModel> {
    const bytes = model.bytes.byteLength + (model.externalData?.byteLength ?? 0);
    const session = this.options.modelCache && bytes >= this.options.modelCache.minBytes
      ? await this.open(await this.key(model), bytes, () => model, {})
      : await this.open('', bytes, () => model, {});
    return this.compiled(session, { ...model, bytes: new Uint8Array(0), externalData: undefined });
  }

  /** loadUncached for a graph's outputs, keyed like loadGraph: a disk-cache hit never emits the weights. */
  async loadGraphUncached(outputs: Record<string, Tensor>, opts: LoadOptions = {}): Promise<CompiledModel> {
    const { key, bytes, structure } = await this.graphKey(outputs);
    const session = await this.open(key, bytes, (forCache) => emitOnnx({ outputs, externalDataThreshold: forCache ? CACHE_EXTERNAL_THRESHOLD : undefined, linearWeights: linearWeights(opts, this.options) }), opts);
    const m = this.compiled(session, { ...structure, bytes: new Uint8Array(0), paramNames: [], externalData: undefined });
    // keyed like a cached load, so results derived from it can be persisted (readDerived)
    m.cacheKey = derivedModelKey(key, opts);
    m.cacheBytes = bytes;
    return m;
  }

  /**
   * Key of a result computed by `models` under this runtime's settings (ONNX Runtime version,
   * providers, level, threads, the CPU): undefined without a disk cache that stores blobs, or when
   * the models are too small to be worth caching or were not loaded by key.
   */
  private derivedKey(name: string, models: CompiledModel[]): string | undefined {
    const cache = this.options.modelCache;
    if (!cache?.readBlob || !cache.writeBlob || models.some((m) => !m.cacheKey)) return undefined;
    if (models.reduce((a, m) => a + (m.cacheBytes ?? 0), 0) < cache.minBytes) return undefined;
    const opts = this.sessionOptions();
    return cache.entryKey(`derived:${name}:${models.map((m) => m.cacheKey).join(',')}`, `${this.settings(opts)}|threads:${opts.intraOpNumThreads ?? 0}`);
  }

  /** A result persisted by writeDerived for the same name, models and settings (undefined: none). */
  async readDerived(name: string, models: CompiledModel[]): Promise<Uint8Array | undefined> {
    const key = this.derivedKey(name, models);
    return key ? this.options.modelCache!.readBlob!(key).catch(() => undefined) : undefined;
  }

  /** Persists a result of `models` beside the model cache (nothing without one; failures are ignored). */
  async writeDerived(name: string, models: CompiledModel[], bytes: Uint8Array): Promise<void> {
    const key = this.derivedKey(name, models);
    if (key) await this.options.modelCache!.writeBlob!(key, bytes).catch(() => {});
  }

  /** Releases cached sessions (their arenas and weights) and forgets them; a later load recreates them. */
  async evict(...models: CompiledModel[]): Promise<void> {
    for (const [key, p] of [...this.cache]) {
      const m = await p.catch(() => undefined);
      if (m && models.includes(m)) {
        this.cache.delete(key);
        await m.release().catch(() => {});
      }
    }
  }

  /** Releases every cached session. */
  async dispose(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    for (const p of all) await (await p).release().catch(() => {});
  }
}
