// Node adapter: FileAccess over a folder on disk.
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FileAccess } from './file-access.ts';

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
    sub(p) { return diskFiles(join(root, p)); },
    describe(p) { return join(root, p); },
  };
}
