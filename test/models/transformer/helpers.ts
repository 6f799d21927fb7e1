// Test helpers for the transformer: the fixture's config and weights, fixture tensors as
// HostTensors, and error reporting.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../../src/io/safetensors.ts';
import { MapWeightStore, type StoredTensor } from '../../../src/nn/index.ts';
import type { HostTensor } from '../../../src/runtime/host-tensor.ts';
import { parseHartConfig, type HARTForT2IConfig } from '../../../src/models/transformer/config.ts';
import { fixtureDir } from '../../fixtures.ts';
import { float32, tensor } from '../../tables/reference.ts';

let cached: { cfg: HARTForT2IConfig; weights: Map<string, StoredTensor> } | undefined;

/** llm/config.json and llm/model.safetensors of the hart-parity-tiny fixture. */
export function fixtureModel(): { cfg: HARTForT2IConfig; weights: Map<string, StoredTensor>; store: MapWeightStore } {
  if (!cached) {
    const dir = join(fixtureDir(), 'llm');
    const cfg = parseHartConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    const weights = readSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'llm/model.safetensors') as Map<string, StoredTensor>;
    cached = { cfg, weights };
  }
  return { ...cached, store: new MapWeightStore(cached.weights) };
}

/** A float32 fixture tensor as a HostTensor. */
export function hostF32(name: string, file?: string): HostTensor {
  return { dtype: 'float32', shape: tensor(name, file).shape, data: float32(name, file) };
}

/** Max |a − b| and the largest |b|, for messages. */
export function report(what: string, got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  let m = 0, scale = 0;
  for (let i = 0; i < got.length; i++) {
    m = Math.max(m, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  if (process.env.HART_TEST_VERBOSE) console.log(`  ${what}: max |diff| ${m.toExponential(2)} (max |ref| ${scale.toFixed(2)})`);
  return m;
}
