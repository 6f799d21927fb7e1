// FileAccess: how model folders are read, independent of where they live (disk in Node, fetch or
// OPFS in a browser, memory in tests). Paths are relative, '/'-separated.
import { bytesAccess, type RandomAccess } from './tensor-source.ts';

export interface FileAccess {
  exists(path: string): Promise<boolean>;
  readBytes(path: string): Promise<Uint8Array>;
  /** Positional reads of a (possibly multi-GB) file without holding it whole; close() when done. */
  open(path: string): Promise<RandomAccess & { close(): Promise<void> }>;
  readText(path: string): Promise<string>;
  /** A view of a sub-folder. */
  sub(path: string): FileAccess;
  /** Human-readable location, for error messages. */
  describe(path: string): string;
}

/** FileAccess over an in-memory map (tests, browser uploads). */
export function memoryFiles(files: Map<string, Uint8Array>, prefix = ''): FileAccess {
  const full = (p: string) => (prefix ? `${prefix}/${p}` : p);
  return {
    async exists(p) { return files.has(full(p)); },
    async readBytes(p) {
      const b = files.get(full(p));
      if (!b) throw new Error(`missing file ${full(p)}`);
      return b;
    },
    async readText(p) { return new TextDecoder().decode(await this.readBytes(p)); },
    async open(p) { return { ...bytesAccess(await this.readBytes(p)), close: async () => {} }; },
    sub(p) { return memoryFiles(files, full(p)); },
    describe(p) { return `memory:${full(p)}`; },
  };
}

export async function readJson(files: FileAccess, path: string): Promise<unknown> {
  const text = await files.readText(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${files.describe(path)} is not valid JSON: ${(e as Error).message}`);
  }
}
