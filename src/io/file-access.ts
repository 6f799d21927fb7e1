// FileAccess: how model folders are read, independent of where they live (disk in Node, fetch or
// OPFS in a browser, memory in tests). Paths are relative, '/'-separated.
import { bytesAccess, type RandomAccess } from './tensor-source.ts';
import { decodeUtf8, JSON_LIMITS, type JsonLimits, parseJsonText } from './schema.ts';

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

/**
 * Reads and parses a JSON file of a model folder, bounded before anything is allocated: its size
 * (limits.maxBytes), then its nesting depth and value count (see schema.ts).
 */
export async function readJson(files: FileAccess, path: string, limits: JsonLimits = JSON_LIMITS): Promise<unknown> {
  const what = files.describe(path);
  const acc = await files.open(path);
  let bytes: Uint8Array;
  try {
    if (acc.byteLength > limits.maxBytes) throw new Error(`${what}: ${acc.byteLength} bytes is too large for this JSON file (limit ${limits.maxBytes})`);
    bytes = await acc.read(0, acc.byteLength);
  } finally {
    await acc.close();
  }
  return parseJsonText(decodeUtf8(bytes, what), what, limits);
}
