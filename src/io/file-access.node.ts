// Node adapter: FileAccess over a folder on disk.
import { access, open, readFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FileAccess } from './file-access.ts';
import { checkRange, type RandomAccess } from './tensor-source.ts';

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

export function diskFiles(dir: string): FileAccess {
  const root = resolve(dir);
  return {
    async exists(p) {
      try { await access(join(root, p)); return true; } catch { return false; }
    },
    async readBytes(p) {
      const b = await readFile(join(root, p));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    async readText(p) { return readFile(join(root, p), 'utf8'); },
    open(p) { return fileAccess(join(root, p)); },
    sub(p) { return diskFiles(join(root, p)); },
    describe(p) { return join(root, p); },
  };
}
