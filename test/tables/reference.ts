// Test helper: tensors of the official fixture reference.safetensors (and the tokenizer weights)
// as float64 arrays with their shapes, loaded once per test process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.ts';
import type { Tensor } from '../../src/io/dtypes.ts';
import { fixtureDir } from '../fixtures.ts';

const cache = new Map<string, Map<string, Tensor>>();

function load(file: string): Map<string, Tensor> {
  let m = cache.get(file);
  if (!m) {
    m = readSafetensors(new Uint8Array(readFileSync(join(fixtureDir(), file))), file);
    cache.set(file, m);
  }
  return m;
}

/** A fixture tensor as float64 values (int64/bool converted) with its shape. */
export function tensor(name: string, file = 'reference.safetensors'): { shape: number[]; data: Float64Array } {
  const t = load(file).get(name);
  if (!t) throw new Error(`fixture ${file} has no tensor ${name}`);
  const data = t.data instanceof BigInt64Array ? Float64Array.from(t.data, Number) : Float64Array.from(t.data as ArrayLike<number>);
  return { shape: t.shape, data };
}

/** The raw float32 data of a float32 fixture tensor (for exact comparisons). */
export function float32(name: string, file = 'reference.safetensors'): Float32Array {
  const t = load(file).get(name);
  if (!t || t.dtype !== 'float32') throw new Error(`fixture ${file}: ${name} is not a float32 tensor`);
  return t.data as Float32Array;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
