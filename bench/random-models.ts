// Full-size HART with random weights, for `hart bench generate --config full`: the released
// 0.7B configuration at 1024×1024 (hart-spec §3.1, §2.1) and a Qwen2-1.5B-sized text encoder —
// the real model's compute without its weights.
//
// Weights come from BenchWeightStore, a stateless version of nn/RandomWeightStore's init (matrices
// std gain/√fan_in, 1-D "*bias" std 0.02 around 0, other 1-D weights 1 ± 0.02) drawn from a fast
// xorshift128 uniform stream (same std) keyed by the weight's name: ~3 G weights must be made
// on a 2-core machine, where Philox normals (~6 M/s) would take ~7 minutes. Only the last weight
// is kept, so the JS copy of a weight is garbage once its graph is emitted (asking again gives the
// same values).
import type { StoredTensor, WeightStore } from '../src/nn/index.ts';
import type { TensorSource, TensorInfo } from '../src/io/tensor-source.ts';
import type { Tensor as IoTensor } from '../src/io/dtypes.ts';
import { parseHartConfig, type HARTForT2IConfig } from '../src/models/transformer/index.ts';
import { parseTokenizerConfig, type HartTokenizerConfig } from '../src/models/tokenizer/index.ts';
import { qwen2ParamShapes, type Qwen2Config } from '../src/models/text/index.ts';
import { float32ToBfloat16Array } from '../src/io/dtypes.ts';
import { writeSafetensorsStreaming } from '../src/convert/write.node.ts';

export const FULL_PATCH_NUMS = [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64];

/** HARTForT2IConfig of hart-0.7b-1024px as reconstructed in hart-spec §3.1. */
export function fullTransformerConfig(): HARTForT2IConfig {
  return parseHartConfig({
    model_type: 'hart_transformer_t2i', context_token: 300, context_dim: 1536, embed_dim: 1536, depth: 24, num_heads: 24,
    mlp_ratio: 4.0, norm_eps: 1e-6, patch_nums: FULL_PATCH_NUMS, attn_type: 'llama', mlp_type: 'llama',
    disable_aln: true, shared_aln: false, use_timestep_embed: true, use_context_norm: true, attn_l2_norm: false,
    diff_width: 1024, diff_depth: 6, num_sampling_steps: '8', sampler: 'iddpm', sep_aln_pooling_mode: 'max',
  });
}

/** The hybrid tokenizer (var_hybrid, ch 160, ch_mult 1,1,2,2,4, z 32, vocab 4096) on the 1024 px schedule. */
export function fullTokenizerConfig(): HartTokenizerConfig {
  return parseTokenizerConfig({
    model_type: 'hart_autoencoder_with_disc', vocab_size: 4096, z_channels: 32, ch: 160, ch_mult: [1, 1, 2, 2, 4],
    quant_conv_ks: 3, quant_resi: 0.5, share_quant_resi: 4, v_patch_nums: FULL_PATCH_NUMS, quantizer_type: 'var_hybrid',
    hybrid: true, using_znorm: false, beta: 0.25, dropout: 0.0, test_mode: true,
  });
}

export interface BenchInit {
  /** Std of matrices is gain/√fan_in (fan_in = product of all dims but the first). */
  gain?: number;
  /** Std of 1-D "*bias" weights, and of the other 1-D weights around 1. */
  vectorStd?: number;
}

/** FNV-1a of a string. */
function hash32(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** n uniform draws in [−1, 1) from xorshift128 keyed by (seed, key). */
export function uniformStream(seed: number, key: string, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  let x = hash32(key, seed >>> 0) || 1, y = hash32(key + '#1', seed >>> 0) || 2, z = hash32(key + '#2') || 3, w = hash32(key + '#3') || 4;
  for (let i = 0; i < 8; i++) { const t = x ^ (x << 11); x = y; y = z; z = w; w = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) >>> 0; }
  for (let i = 0; i < n; i++) {
    const t = x ^ (x << 11);
    x = y; y = z; z = w;
    w = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    out[i] = w * 4.656612873077393e-10 - 1; // w / 2^31 − 1
  }
  return out;
}

const SQRT3 = Math.sqrt(3);
const SLAB_BYTES = 2 ** 28;

/** Deterministic random weights by name and shape (see the header); stateless except for `pinned`. */
export class BenchWeightStore implements WeightStore {
  /** Weights asked for without a shape (e.g. the tokenizer's codebook), created by pin(). */
  private pinned = new Map<string, StoredTensor>();
  /** Weights made so far (count of values), for reporting. */
  made = 0;
  /** Seconds spent drawing them: part of a benchmark's load time that a loader reading a file does not have. */
  seconds = 0;
  constructor(readonly seed: number, readonly init: BenchInit = {}) {}

  /** Creates `name` now and answers it even when asked without a shape. */
  pin(name: string, shape: number[]): StoredTensor {
    const t = this.make(name, shape, true);
    this.pinned.set(name, t);
    return t;
  }

  /** The last weight made: callers often ask twice in a row (Params tries an int4 form first). */
  private last?: { name: string; t: StoredTensor };

  get(name: string, expectedShape?: readonly number[]): StoredTensor | undefined {
    const hit = this.pinned.get(name);
    if (hit || !expectedShape) return hit;
    if (this.last?.name === name && this.last.t.shape.join() === expectedShape.join()) return this.last.t;
    const t = this.make(name, [...expectedShape]);
    this.last = { name, t };
    return t;
  }

  /**
   * Weights are views into 256 MiB slabs: freed weights of that size would stay in the C heap
   * (glibc serves allocations under its 32 MiB mmap ceiling from the heap and keeps them once
   * freed), inflating RSS by the size of the model; a slab is returned to the system whole once
   * the graphs holding its weights are gone.
   */
  private slab?: { buf: ArrayBuffer; used: number };

  private alloc(n: number): Float32Array {
    const bytes = 4 * n;
    if (!this.slab || this.slab.used + bytes > this.slab.buf.byteLength) {
      this.slab = { buf: new ArrayBuffer(Math.max(SLAB_BYTES, bytes)), used: 0 };
    }
    const a = new Float32Array(this.slab.buf, this.slab.used, n);
    this.slab.used += bytes;
    return a;
  }

  private make(name: string, shape: number[], ownBuffer = false): StoredTensor {
    const t0 = performance.now();
    try {
      return this.draw(name, shape, ownBuffer);
    } finally {
      this.seconds += (performance.now() - t0) / 1000;
    }
  }

  private draw(name: string, shape: number[], ownBuffer: boolean): StoredTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const u = uniformStream(this.seed, name, n, ownBuffer ? undefined : this.alloc(n));
    this.made += n;
    const vs = this.init.vectorStd ?? 0.02;
    if (shape.length === 1) {
      const base = name.endsWith('bias') ? 0 : 1;
      for (let i = 0; i < n; i++) u[i] = base + u[i] * SQRT3 * vs;
    } else {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      const a = SQRT3 * (this.init.gain ?? 1) / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) u[i] *= a;
    }
    return { dtype: 'float32', shape, data: u };
  }
}

/**
 * A TensorSource with every Qwen2 language-model weight (canonical names), made on read by a
 * BenchWeightStore, so Qwen2Encoder.load runs its real path (per-segment reads) on random weights.
 * The embedding table is only gathered from (no FLOPs), so it is a 1-row-period tiling of 4099
 * random rows, made in a fraction of the time of 152k rows.
 */
export function randomQwen2Source(cfg: Qwen2Config, seed: number): TensorSource {
  const shapes = qwen2ParamShapes(cfg);
  const store = new BenchWeightStore(seed);
  const names = [...shapes.keys()].sort();
  const info = (name: string): TensorInfo => {
    const s = shapes.get(name);
    if (!s) throw new Error(`random Qwen2: no weight ${name}`);
    return { dtype: 'float32', shape: s };
  };
  return {
    names: () => names,
    info,
    async read(name): Promise<IoTensor> {
      const { shape } = info(name);
      if (name === 'embed_tokens.weight') {
        const [V, C] = shape;
        const period = Math.min(V, 4099);
        const block = store.get(`${name}#block`, [period, C])!.data as Float32Array;
        const data = new Float32Array(V * C);
        for (let r = 0; r < V; r += period) data.set(block.subarray(0, Math.min(period, V - r) * C), r * C);
        return { dtype: 'float32', shape, data } as IoTensor;
      }
      return { dtype: 'float32', shape, data: store.get(name, shape)!.data } as IoTensor;
    },
    async close() {},
  };
}

/**
 * Writes randomQwen2Source(cfg, seed) as one bfloat16 safetensors file (the released
 * Qwen2-1.5B-Instruct's storage type; ~3 GB at that size), tensor by tensor, so that a benchmark
 * can time loading the text encoder the way a user's folder is loaded (read, hash, compile or
 * fetch from the disk cache) rather than with the weights drawn on the fly.
 */
export async function writeRandomQwen2File(cfg: Qwen2Config, seed: number, path: string): Promise<number> {
  const src = randomQwen2Source(cfg, seed);
  const plan = src.names().map((name) => ({ name, dtype: 'bfloat16' as const, shape: src.info(name).shape, source: name, kind: 'copy' as const }));
  return writeSafetensorsStreaming(path, plan, async (t) => float32ToBfloat16Array((await src.read(t.name)).data as Float32Array));
}
