// Runs emitted ONNX graphs on an ONNX Runtime module (onnxruntime-node or onnxruntime-web, passed
// in: no global backend). Sessions are cached by the SHA-256 of the model bytes.
import type { InferenceSession as OrtSession, Tensor as OrtTensor } from 'onnxruntime-common';
import type { OnnxModel } from '../graph/onnx/emit.ts';
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
   * How a model with external data (over 2 GB) becomes a session. Node writes model + weights to a
   * temporary folder and loads the path (src/runtime/node.node.ts); the default hands the weights
   * to ONNX Runtime as an in-memory external data file (onnxruntime-web).
   */
  createWithExternalData?: (model: OnnxModel, options: OrtSession.SessionOptions) => Promise<OrtSession>;
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

const ORT_TYPE: Partial<Record<DType, string>> = {
  float32: 'float32', float16: 'float16', float64: 'float64', int64: 'int64', int32: 'int32',
  bool: 'bool', uint8: 'uint8', int8: 'int8',
};

export class CompiledModel {
  constructor(
    readonly session: OrtSession,
    readonly model: OnnxModel,
    private ort: OrtModule,
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
    if (!fetches) out = await this.session.run(ortFeeds);
    else if (Array.isArray(fetches)) out = await this.session.run(ortFeeds, fetches as readonly string[]);
    else {
      const ortFetches: Record<string, OrtTensor | null> = {};
      for (const [name, t] of Object.entries(fetches as Record<string, HostTensor | null>)) {
        if (!t) { ortFetches[name] = null; continue; }
        const type = ORT_TYPE[t.dtype];
        if (!type) throw new Error(`fetch "${name}": dtype ${t.dtype} cannot cross into ONNX Runtime`);
        ortFetches[name] = new this.ort.Tensor(type as never, t.data as never, t.shape);
      }
      out = await this.session.run(ortFeeds, ortFetches as OrtSession.FetchesType);
    }
    const result: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      const dtype = (t.type === 'bool' ? 'bool' : t.type) as DType;
      result[name] = { dtype, shape: [...t.dims], data: t.data as HostTensor['data'] };
    }
    return result;
  }

  release(): Promise<void> { return this.session.release(); }
}

/** Per-model session settings that override the runtime's. */
export interface LoadOptions {
  /** See RuntimeOptions.memPattern. */
  memPattern?: boolean;
}

export class Runtime {
  private cache = new Map<string, Promise<CompiledModel>>();
  constructor(readonly ort: OrtModule, readonly options: RuntimeOptions = {}) {}

  private sessionOptions(load: LoadOptions = {}): OrtSession.SessionOptions {
    const opts: OrtSession.SessionOptions = {
      executionProviders: this.options.executionProviders ?? ['cpu'],
      graphOptimizationLevel: this.options.graphOptimizationLevel ?? 'all',
    };
    if (this.options.threads) opts.intraOpNumThreads = this.options.threads;
    if ((this.options.memPattern ?? load.memPattern) === false) opts.enableMemPattern = false;
    if (this.options.allowSpinning !== undefined) {
      opts.extra = { session: { intra_op: { allow_spinning: this.options.allowSpinning ? '1' : '0' } } };
    }
    return opts;
  }

  /**
   * ORT's fusions do not check that the fused kernel exists for the graph's dtype (x·sigmoid(x)
   * becomes com.microsoft.QuickGelu, which is float32-only), so a valid float64 graph can fail to
   * load at the 'all' level; such a failure is retried with the basic, kernel-preserving level.
   */
  private async createSession(model: OnnxModel, load: LoadOptions = {}): Promise<OrtSession> {
    const opts = this.sessionOptions(load);
    const create = (o: OrtSession.SessionOptions) => {
      if (!model.externalData) return this.ort.InferenceSession.create(model.bytes, o);
      if (this.options.createWithExternalData) return this.options.createWithExternalData(model, o);
      const externalData = [{ path: model.externalData.location, data: concatExternalData(model) }];
      return this.ort.InferenceSession.create(model.bytes, { ...o, externalData } as OrtSession.SessionOptions);
    };
    try {
      return await create(opts);
    } catch (e) {
      const level = opts.graphOptimizationLevel;
      if (!/Fusion/.test(String(e)) || level === 'basic' || level === 'disabled') throw e;
      return create({ ...opts, graphOptimizationLevel: 'basic' });
    }
  }

  /** Cache key: the graph bytes and every external weight byte. */
  private async key(model: OnnxModel): Promise<string> {
    if (!model.externalData) return sha256Hex(model.bytes);
    const parts = [await sha256Hex(model.bytes)];
    for (const c of model.externalData.chunks) parts.push(`${c.offset}:${await sha256Hex(c.bytes)}`);
    return sha256Hex(new TextEncoder().encode(parts.join('|')));
  }

  /** Creates (or reuses) a session for the model. */
  async load(model: OnnxModel, opts: LoadOptions = {}): Promise<CompiledModel> {
    const key = (await this.key(model)) + (opts.memPattern === false ? '|no-mem-pattern' : '');
    let p = this.cache.get(key);
    if (!p) {
      // the session owns the weights now: keep no second copy of the bytes in the cache
      p = this.createSession(model, opts).then((s) => new CompiledModel(s, { ...model, bytes: new Uint8Array(0), externalData: undefined }, this.ort));
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  /**
   * A session outside the cache, owned by the caller (free it with CompiledModel.release()), for
   * large models used briefly, such as the text encoder. The model bytes are not kept once the
   * session exists (the returned model's `bytes` is empty).
   */
  async loadUncached(model: OnnxModel): Promise<CompiledModel> {
    const session = await this.createSession(model);
    return new CompiledModel(session, { ...model, bytes: new Uint8Array(0), externalData: undefined }, this.ort);
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
