// Opening weights from a FileAccess (disk, browser, memory), browser-safe: one file (safetensors
// or a torch.save zip, told apart by content) or an index with its shards, read tensor by tensor.
import { type FileAccess, readJson } from './file-access.ts';
import { openSafetensors } from './safetensors.ts';
import { openSharded } from './sharded.ts';
import type { TensorSource } from './tensor-source.ts';
import { openTorchBin } from './torch-bin.ts';

/** File names a model folder may use for its weights, in order of preference. */
export const MODEL_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];

export async function openWeightFile(files: FileAccess, name: string): Promise<TensorSource> {
  const acc = await files.open(name);
  const what = files.describe(name);
  try {
    const head = acc.byteLength >= 2 ? await acc.read(0, 2) : new Uint8Array(0);
    const isZip = head[0] === 0x50 && head[1] === 0x4b;
    const isLegacyPickle = head[0] === 0x80;
    return isZip || isLegacyPickle ? await openTorchBin(acc, what, acc.close) : await openSafetensors(acc, what, acc.close);
  } catch (e) {
    await acc.close();
    throw e;
  }
}

/** Opens `name` (a weight file or an .index.json), or the first of MODEL_FILES present. */
export async function openWeights(files: FileAccess, name?: string): Promise<TensorSource> {
  const candidates = name ? [name] : MODEL_FILES;
  for (const f of candidates) {
    if (!(await files.exists(f))) continue;
    if (!f.endsWith('.index.json')) return openWeightFile(files, f);
    return openSharded(await readJson(files, f), (file) => openWeightFile(files, file), files.describe(f));
  }
  throw new Error(`${files.describe('')}: no weights found (looked for ${candidates.join(', ')})`);
}
