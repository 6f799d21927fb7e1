// Params: binds named weights (official state-dict names) to graph parameters, scoped by prefix
// ("blocks.0.attn"), checking every shape against what the module expects.
import type { Graph, Tensor } from '../graph/index.ts';
import type { DType, TypedArray } from '../graph/dtype.ts';
import { matMulNBits, type Int4Blocks } from './int4.ts';

/** A stored weight; `int4` marks a Linear weight held as 4-bit blocks (see int4.ts), whose `data` dequantizes. */
export interface StoredTensor { dtype: DType; shape: number[]; data: TypedArray; int4?: Int4Blocks }

/** Where weights come from: a loaded checkpoint, or a random initializer for training. */
export interface WeightStore {
  /** The weight `name`; `expectedShape` lets initializing stores (random, zeros) create it. */
  get(name: string, expectedShape?: readonly number[]): StoredTensor | undefined;
}

export class MapWeightStore implements WeightStore {
  constructor(readonly map: Map<string, StoredTensor>) {}
  get(name: string): StoredTensor | undefined { return this.map.get(name); }
}

export class Params {
  constructor(
    readonly graph: Graph,
    readonly store: WeightStore,
    readonly prefix = '',
    /** Float dtype the model computes in; stored half-precision weights are cast to it in the graph. */
    readonly computeDtype: DType = 'float32',
    private cache = new Map<string, Tensor>(),
  ) {}

  scope(name: string | number): Params {
    return new Params(this.graph, this.store, this.full(String(name)), this.computeDtype, this.cache);
  }

  full(name: string): string { return this.prefix ? `${this.prefix}.${name}` : name; }

  has(name: string): boolean { return this.store.get(this.full(name)) !== undefined; }

  /** The weight `name` (relative to this scope), which must have exactly `shape`. */
  get(name: string, shape: number[]): Tensor {
    const key = this.full(name);
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.shape.join() !== shape.join()) throw new Error(`weight ${key}: used with shape [${shape}] and [${hit.shape}]`);
      return hit;
    }
    const w = this.store.get(key, shape);
    if (!w) throw new Error(`missing weight ${key} (expected shape [${shape}])`);
    if (w.shape.join() !== shape.join()) {
      throw new Error(`weight ${key} has shape [${w.shape}], the config implies [${shape}]`);
    }
    let t = this.graph.param(key, w.shape, w.data, w.dtype);
    if (t.dtype !== this.computeDtype && (t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'float32')) {
      t = t.cast(this.computeDtype);
    }
    this.cache.set(key, t);
    return t;
  }

  /**
   * x·Wᵀ with the Linear weight `name` ([out, in] = `shape`) when the store holds it as int4
   * blocks (one com.microsoft MatMulNBits node); null when it holds a float weight (use get()).
   */
  int4MatMul(name: string, shape: [number, number], x: Tensor): Tensor | null {
    const key = this.full(name);
    const w = this.store.get(key, shape);
    const q = w?.int4;
    if (!q) return null;
    if (q.N !== shape[0] || q.K !== shape[1]) throw new Error(`weight ${key} has shape [${q.N},${q.K}], the config implies [${shape}]`);
    const part = (suffix: string, data: TypedArray, dims: number[], dtype: DType): Tensor => {
      const k = `${key}.${suffix}`;
      let t = this.cache.get(k);
      if (!t) this.cache.set(k, t = this.graph.param(k, dims, data, dtype));
      return t;
    };
    const kb = q.scales.length / q.N;
    return matMulNBits(x,
      part('qweight', q.qweight, [q.N, kb, q.blockSize / 2], 'uint8'),
      part('scales', q.scales, [q.N, kb], 'float32'),
      part('zeros', q.zeros, [q.N, Math.ceil(kb / 2)], 'uint8'), q);
  }
}
