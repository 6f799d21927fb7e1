// On-disk cache of models for ONNX Runtime (Node), in two forms:
//   - the model as emitted (EmitOptions.foldWeights already did the weight work ONNX Runtime's
//     optimizer would do at load), every weight in an external data file that ONNX Runtime maps
//     instead of parsing and copying it: for graphs whose weights are not prepacked (the text
//     encoder), whose cold load then skips writing an optimized copy;
//   - ONNX Runtime's optimized model (written by it when the first session is created, marked by an
//     empty `ort-optimized` file, and later created with the optimizations off): for the rest, where
//     the optimizer re-lays out weights (prepacked products, convolutions' blocked layout).
// Later loads, in this or another process, create the session from the entry's path, and with
// Runtime.loadGraph the weights are never emitted again.
// Layout: <dir>/<key>/{model.onnx, weights.bin[, ort-optimized]}, key = SHA-256 of (graph key, ONNX
// Runtime version, session options, CPU: an optimized model may hold kernels for this CPU).
// Concurrency: an entry is written into a private temporary folder and renamed into place once
// whole; rename is atomic, so readers see whole entries or none, and when two processes write the
// same key the second rename fails and its copy is dropped. Entries in use are never rewritten; one
// evicted while a process creates a session from it makes that creation fail, and the runtime then
// compiles the graph afresh.
// Size: after each write, the least recently used entries (a hit touches its folder) are removed
// until the cache is under maxBytes; temporary folders of crashed writers go after an hour.
// Derived results (readBlob/writeBlob: e.g. a transformer's unconditional prefix, keyed by the
// graphs that computed it) live in entries of their own, <dir>/<key>/blob.bin, under the same rules.
// Location: $HART_CACHE_DIR, else $XDG_CACHE_HOME/hart-js, else ~/.cache/hart-js.
// Off: HART_CACHE_DIR=off (or 0/false/none), or nodeRuntime({ modelCache: false }).
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { writeExternalData } from './external-data.node.ts';
import { readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import type { ModelCache, ModelCacheEntry, ModelCacheWriter } from './runtime.ts';
import type { OnnxModel } from '../graph/onnx/emit.ts';

export interface DiskModelCacheOptions {
  /** Cache folder (default: see the header). */
  dir?: string;
  /** Bound on the whole cache, bytes (default 16 GiB, or $HART_CACHE_MAX_GB). */
  maxBytes?: number;
  /** Models whose ONNX bytes + weights are smaller than this are not cached (default 16 MiB: their compilation is fast). */
  minBytes?: number;
}

const MODEL = 'model.onnx';
const WEIGHTS = 'weights.bin';
/** Marks an entry holding ONNX Runtime's optimized model rather than the emitted one. */
const OPTIMIZED = 'ort-optimized';
const BLOB = 'blob.bin';
const STALE_TMP_MS = 3600_000;

/** The cache folder the environment asks for, or null when caching is turned off. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const v = env.HART_CACHE_DIR;
  if (v !== undefined && /^(off|0|false|none|)$/i.test(v.trim())) return null;
  if (v) return v;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'hart-js');
}

/** What a cached result may depend on besides the graph: the CPU (model, feature flags; a derived blob is computed by its kernels) and platform. */
function machineFingerprint(): string {
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    flags = /^flags\s*:(.*)$/m.exec(info)?.[1]?.trim() ?? '';
  } catch { /* not Linux */ }
  return `${process.platform}/${process.arch}/${cpus()[0]?.model ?? '?'}/${createHash('sha256').update(flags).digest('hex').slice(0, 16)}`;
}

async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? await folderBytes(p) : (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return n;
}

export class DiskModelCache implements ModelCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly minBytes: number;
  private readonly machine = machineFingerprint();

  constructor(opts: DiskModelCacheOptions & { dir: string }) {
    this.dir = opts.dir;
    const envMax = Number(process.env.HART_CACHE_MAX_GB);
    this.maxBytes = opts.maxBytes ?? (envMax > 0 ? envMax * 2 ** 30 : 16 * 2 ** 30);
    this.minBytes = opts.minBytes ?? 16 * 2 ** 20;
  }

  /** The entry folder's name for a graph key and the session settings. */
  entryKey(graphKey: string, settings: string): string {
    return createHash('sha256').update(`hart-js model cache v2\n${graphKey}\n${settings}\n${this.machine}`).digest('hex');
  }

  /** A new private temporary folder in the cache (entries are written there, then renamed into place). */
  private async newTmp(): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp);
    return tmp;
  }

  async lookup(key: string): Promise<ModelCacheEntry | undefined> {
    const dir = join(this.dir, key);
    const path = join(dir, MODEL);
    try {
      await stat(path);
    } catch {
      return undefined;
    }
    const optimized = await stat(join(dir, OPTIMIZED)).then(() => true, () => false);
    const now = new Date();
    await utimes(dir, now, now).catch(() => {});
    return { path, optimized, discard: () => rm(dir, { recursive: true, force: true }) };
  }

  async begin(key: string): Promise<ModelCacheWriter | undefined> {
    try {
      const tmp = await this.newTmp();
      return {
        path: join(tmp, MODEL),
        externalWeights: WEIGHTS,
        commit: async () => {
          try {
            await writeFile(join(tmp, OPTIMIZED), '');
            await rename(tmp, join(this.dir, key));
          } catch {
            // another process put the same entry in place first (or the cache went away): keep theirs
            await rm(tmp, { recursive: true, force: true });
            return;
          }
          await this.evict(key).catch(() => {});
        },
        abort: () => rm(tmp, { recursive: true, force: true }),
      };
    } catch {
      return undefined; // unwritable cache folder: run uncached
    }
  }

  async store(key: string, model: OnnxModel): Promise<ModelCacheEntry | undefined> {
    const dest = join(this.dir, key);
    let tmp: string | undefined;
    try {
      tmp = await this.newTmp();
      const x = model.externalData;
      if (x) {
        if (x.location !== WEIGHTS) throw new Error(`external data file ${x.location}, expected ${WEIGHTS}`);
        await writeExternalData(join(tmp, WEIGHTS), x);
      }
      await writeFile(join(tmp, MODEL), model.bytes);
    } catch {
      if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => {});
      return undefined; // unwritable cache folder or a full disk: run uncached
    }
    try {
      await rename(tmp, dest);
    } catch {
      // another process put the same entry in place first (or the cache went away): keep theirs
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
    }
    await this.evict(key).catch(() => {});
    return this.lookup(key);
  }

  /** A derived result stored by writeBlob (its folder is touched, as a model hit's). */
  async readBlob(key: string): Promise<Uint8Array | undefined> {
    const dir = join(this.dir, key);
    try {
      const bytes = await readFile(join(dir, BLOB));
      const now = new Date();
      await utimes(dir, now, now).catch(() => {});
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch {
      return undefined;
    }
  }

  /**
   * Stores a derived result under `key`: written in a temporary folder and renamed into place, so
   * a reader sees a whole file or none; an existing entry (e.g. one a reader found damaged) is replaced.
   */
  async writeBlob(key: string, bytes: Uint8Array): Promise<void> {
    const tmp = await this.newTmp();
    const dest = join(this.dir, key);
    try {
      await writeFile(join(tmp, BLOB), bytes);
      try {
        await rename(tmp, dest);
      } catch {
        await rm(dest, { recursive: true, force: true });
        await rename(tmp, dest);
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    await this.evict(key).catch(() => {});
  }

  /** Removes stale temporary folders, then least recently used entries until under maxBytes (never `keep`). */
  async evict(keep?: string): Promise<void> {
    const entries: { name: string; bytes: number; mtime: number }[] = [];
    for (const e of await readdir(this.dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(this.dir, e.name);
      const st = await stat(p).catch(() => undefined);
      if (!st) continue;
      if (e.name.startsWith('tmp-')) {
        if (Date.now() - st.mtimeMs > STALE_TMP_MS) await rm(p, { recursive: true, force: true });
        continue;
      }
      entries.push({ name: e.name, bytes: await folderBytes(p), mtime: st.mtimeMs });
    }
    let total = entries.reduce((a, e) => a + e.bytes, 0);
    entries.sort((a, b) => a.mtime - b.mtime);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (e.name === keep) continue;
      await rm(join(this.dir, e.name), { recursive: true, force: true });
      total -= e.bytes;
    }
  }

  /** Bytes held by the cache. */
  async size(): Promise<number> { return folderBytes(this.dir); }

  /** Removes every entry. */
  async clear(): Promise<void> { await rm(this.dir, { recursive: true, force: true }); }
}
