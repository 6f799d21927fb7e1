// Node adapter for weight files: positional-read RandomAccess over a file (so multi-GB
// checkpoints are read tensor by tensor, never held whole), opening a model folder (single file
// or index + shards, safetensors or torch .bin), and atomic writes (temp file in the same folder,
// fsync, rename) used for every file we write.
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Tensor } from './dtypes.ts';
import { encodeSafetensorsHeader, tensorBytes, type TensorInput } from './safetensors.ts';
import type { TensorSource } from './tensor-source.ts';
import { diskFiles, fileAccess } from './file-access.node.ts';

export { fileAccess };
import { openWeightFile, openWeights } from './weights.ts';

const CHUNK = 1 << 30; // fs reads are capped below 2 GiB per call

/** Opens one weight file (safetensors or a torch.save zip, told apart by content). */
export function openTensorFile(path: string): Promise<TensorSource> {
  return openWeightFile(diskFiles(dirname(path)), basename(path));
}

/** Opens a model folder's weights: a single file or an index with its shards (see MODEL_FILES). */
export function openModelFolder(dir: string): Promise<TensorSource> {
  return openWeights(diskFiles(dir));
}

/**
 * Writes a file atomically: the content goes to a temp file in the same folder, is fsynced, then
 * renamed over `path`; a reader sees the old file or the new one, never a partial one.
 * `content` is bytes/text, or a function that writes the content chunk by chunk.
 */
export async function atomicWriteFile(path: string, content: Uint8Array | string | ((write: (chunk: Uint8Array) => Promise<void>) => Promise<void>)): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  let ok = false;
  try {
    const write = async (chunk: Uint8Array) => {
      let done = 0;
      while (done < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, done, Math.min(CHUNK, chunk.byteLength - done));
        done += bytesWritten;
      }
    };
    if (typeof content === 'function') await content(write);
    else await write(typeof content === 'string' ? new TextEncoder().encode(content) : content);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    ok = true;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
  }
  try { // make the rename durable (not supported on every platform)
    const d = await open(dir, 'r');
    await d.sync().catch(() => {});
    await d.close();
  } catch {
    /* best effort */
  }
}

/** Writes a safetensors file atomically, streaming tensor by tensor (no second copy of the weights). */
export async function writeSafetensorsFile(path: string, tensors: TensorInput, metadata?: Record<string, string>): Promise<void> {
  const byName = new Map<string, Tensor>(tensors instanceof Map ? tensors : Object.entries(tensors));
  const { header, order } = encodeSafetensorsHeader([...byName].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }]), metadata);
  const chunks = order.map((n) => tensorBytes(n, byName.get(n)!)); // validates everything before writing
  await atomicWriteFile(path, async (write) => {
    await write(header);
    for (const c of chunks) await write(c);
  });
}

/** Reads every tensor of one weight file (see openTensorFile) into a Map. */
export async function readTensorFile(path: string): Promise<Map<string, Tensor>> {
  const src = await openTensorFile(path);
  try {
    const out = new Map<string, Tensor>();
    for (const name of src.names()) out.set(name, await src.read(name));
    return out;
  } finally {
    await src.close();
  }
}
