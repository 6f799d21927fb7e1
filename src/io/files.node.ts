// Node adapter for weight files: positional-read RandomAccess over a file (so multi-GB
// checkpoints are read tensor by tensor, never held whole), opening a model folder (single file
// or index + shards, safetensors or torch .bin), and atomic writes (temp file in the same folder,
// fsync, rename) used for every file we write.
import { open, rename, unlink, readFile, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Tensor } from './dtypes.ts';
import { encodeSafetensorsHeader, openSafetensors, tensorBytes, type TensorInput } from './safetensors.ts';
import { openSharded } from './sharded.ts';
import { checkRange, type RandomAccess, type TensorSource } from './tensor-source.ts';
import { openTorchBin } from './torch-bin.ts';

const CHUNK = 1 << 30; // fs reads are capped below 2 GiB per call

/** RandomAccess over a file with positional reads; close() releases the handle. */
export async function fileAccess(path: string): Promise<RandomAccess & { close(): Promise<void> }> {
  const fh: FileHandle = await open(path, 'r');
  const { size } = await fh.stat();
  return {
    byteLength: size,
    async read(offset, length) {
      checkRange(offset, length, size);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, Math.min(CHUNK, length - done), offset + done);
        if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at ${offset + done} (file changed while reading?)`);
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}

/** Opens one weight file (safetensors, or a torch.save .bin/.pt/.pth zip, told apart by content). */
export async function openTensorFile(path: string): Promise<TensorSource> {
  const acc = await fileAccess(path);
  try {
    const head = acc.byteLength >= 2 ? await acc.read(0, 2) : new Uint8Array(0);
    const isZip = head[0] === 0x50 && head[1] === 0x4b;
    const isLegacyPickle = head[0] === 0x80;
    return isZip || isLegacyPickle ? await openTorchBin(acc, path, acc.close) : await openSafetensors(acc, path, acc.close);
  } catch (e) {
    await acc.close();
    throw e;
  }
}

/** File names a model folder may use, in order of preference. */
export const MODEL_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];

/** Opens a model folder's weights: a single file or an index with its shards (see MODEL_FILES). */
export async function openModelFolder(dir: string): Promise<TensorSource> {
  for (const f of MODEL_FILES) {
    const p = join(dir, f);
    if (!existsSync(p)) continue;
    if (!f.endsWith('.index.json')) return openTensorFile(p);
    return openSharded(await readFile(p, 'utf8'), (file) => openTensorFile(join(dir, file)), p);
  }
  throw new Error(`${dir}: no weights found (looked for ${MODEL_FILES.join(', ')})`);
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
