// WeightStores that create every weight the model asks for, deterministically from the weight's
// name and shape: GeneratedWeightStore (make once, keep) and RandomWeightStore, a plain random init
// for benchmarks at full size (the compute of the real model without its weights). Training from
// scratch uses train/init.ts's InitWeightStore, the same store with the training init rules.
import { Philox, stream } from '../random/philox.ts';
import type { StoredTensor, WeightStore } from './params.ts';

export interface RandomInit {
  /** Std of matrices is gain/√fan_in (fan_in = product of all dims but the first). */
  gain?: number;
  /** Std of 1-D weights named "*.bias". */
  biasStd?: number;
}

/** FNV-1a hash of a name, a stable stream index per weight. */
export function nameHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * A WeightStore that makes each weight the first time the model asks for it (by name and shape)
 * and keeps it, so later calls and `created` see the same tensor. Subclasses say how: `generate`.
 */
export abstract class GeneratedWeightStore implements WeightStore {
  readonly created = new Map<string, StoredTensor>();
  protected readonly rng: Philox;
  constructor(seed: number) {
    this.rng = new Philox(seed);
  }

  /** The values of weight `name` of `shape` (n = the product of its dims), deterministic in (seed, name). */
  protected abstract generate(name: string, shape: readonly number[], n: number): Float32Array;

  get(name: string, expectedShape?: readonly number[]): StoredTensor | undefined {
    const hit = this.created.get(name);
    if (hit || !expectedShape) return hit;
    const shape = [...expectedShape];
    const t: StoredTensor = { dtype: 'float32', shape, data: this.generate(name, shape, shape.reduce((a, b) => a * b, 1)) };
    this.created.set(name, t);
    return t;
  }
}

export class RandomWeightStore extends GeneratedWeightStore {
  constructor(seed = 0, readonly init: RandomInit = {}) {
    super(seed);
  }

  protected generate(name: string, shape: readonly number[], n: number): Float32Array {
    const z = this.rng.normal(stream(0x1ffff, nameHash(name)), 0, n);
    if (shape.length === 1) {
      // norms' weights around 1, biases around 0
      const isBias = name.endsWith('bias');
      const std = this.init.biasStd ?? 0.02;
      return Float32Array.from(z, (v) => (isBias ? v * std : 1 + v * std));
    }
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const std = (this.init.gain ?? 1) / Math.sqrt(fanIn);
    return Float32Array.from(z, (v) => v * std);
  }
}
