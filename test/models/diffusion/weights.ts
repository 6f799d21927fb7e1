// Test helper: the fixture's official llm/ weights as a WeightStore, and the tiny DiffLoss config
// derived from its llm/config.json and tokenizer/config.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../../src/io/safetensors.ts';
import type { StoredTensor } from '../../../src/nn/index.ts';
import { MapWeightStore } from '../../../src/nn/index.ts';
import { diffLossConfig, type DiffLossConfig } from '../../../src/models/diffusion/index.ts';
import { fixtureDir } from '../../fixtures.ts';

let store: MapWeightStore | undefined;

export function llmWeights(): MapWeightStore {
  store ??= new MapWeightStore(
    readSafetensors(new Uint8Array(readFileSync(join(fixtureDir(), 'llm', 'model.safetensors'))), 'llm') as Map<string, StoredTensor>,
  );
  return store;
}

export function tinyConfig(): DiffLossConfig {
  const json = (p: string) => JSON.parse(readFileSync(join(fixtureDir(), p), 'utf8'));
  return diffLossConfig(json('llm/config.json'), json('tokenizer/config.json'));
}
