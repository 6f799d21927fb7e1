// Training checkpoints in a run folder: `checkpoint.json` (stage, step, recipe fingerprint, the
// tensors file it belongs to) and `checkpoint-<stage>-<step>.safetensors` (parameters, AdamW
// moments, EMA, codebook usage). Both are written atomically (temp file + rename) and the JSON
// last, so a process killed at any moment leaves the previous complete checkpoint in force;
// older tensor files are removed once the new JSON is in place.
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, readTensorFile, writeSafetensorsFile } from '../io/files.node.ts';
import type { Tensor as IoTensor } from '../io/dtypes.ts';

export interface CheckpointState {
  format: 'hart-js-train';
  version: 1;
  stage: 'tokenizer' | 'transformer' | 'decoder';
  /** Steps completed in this stage. */
  step: number;
  /** SHA-256 of what this stage's weights depend on in the recipe (recipe.ts stageFingerprint). */
  recipe_sha256: string;
  tensors: string;
  /** Anything else the stage needs to continue (e.g. loss-curve tail); JSON-serialisable. */
  extra?: Record<string, unknown>;
}

export async function readCheckpoint(runDir: string): Promise<{ state: CheckpointState; tensors: Map<string, IoTensor> } | null> {
  let text: string;
  try {
    text = await readFile(join(runDir, 'checkpoint.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let state: CheckpointState;
  try {
    state = JSON.parse(text) as CheckpointState;
  } catch {
    throw new Error(`${join(runDir, 'checkpoint.json')} is not valid JSON`);
  }
  if (state.format !== 'hart-js-train' || state.version !== 1 || !/^checkpoint-[a-z]+-\d+\.safetensors$/.test(String(state.tensors))) {
    throw new Error(`${join(runDir, 'checkpoint.json')} is not a HART.js training checkpoint`);
  }
  return { state, tensors: await readTensorFile(join(runDir, state.tensors)) };
}

export async function writeCheckpoint(runDir: string, state: Omit<CheckpointState, 'format' | 'version' | 'tensors'>, tensors: Map<string, IoTensor>): Promise<void> {
  const name = `checkpoint-${state.stage}-${state.step}.safetensors`;
  await writeSafetensorsFile(join(runDir, name), tensors);
  const full: CheckpointState = { format: 'hart-js-train', version: 1, ...state, tensors: name };
  await atomicWriteFile(join(runDir, 'checkpoint.json'), JSON.stringify(full, null, 1));
  for (const f of await readdir(runDir)) {
    if (/^checkpoint-[a-z]+-\d+\.safetensors$/.test(f) && f !== name) await unlink(join(runDir, f)).catch(() => {});
  }
}
