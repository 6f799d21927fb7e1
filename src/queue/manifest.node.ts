// <out>/manifest.jsonl: one line per image (job id, prompt, seed, settings, file, seconds), written
// exactly once. Every line is one O_APPEND write (whole, never interleaved with another worker's on a
// local file system); before appending, a worker reads the lines added since it last looked, so a
// job that is retried after its line was written (a worker killed between the append and telling
// Redis) is recognised and not recorded, or generated, again.
import { appendFile, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestLine } from './job.ts';

export const MANIFEST = 'manifest.jsonl';

/** The job ids already in one manifest, read incrementally (only the bytes added since the last look). */
export class ManifestIndex {
  private ids = new Set<string>();
  private offset = 0;
  private partial = '';
  constructor(readonly path: string) {}

  private async refresh(): Promise<void> {
    const fh = await open(this.path, 'r').catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return undefined; throw e; });
    if (!fh) return;
    try {
      const { size } = await fh.stat();
      if (size < this.offset) { this.ids.clear(); this.offset = 0; this.partial = ''; } // replaced by a shorter file
      while (this.offset < size) {
        const buf = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        const lines = (this.partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
        this.partial = lines.pop()!;
        for (const l of lines) {
          const m = /^\{"id":"([^"]+)"/.exec(l);
          if (m) this.ids.add(m[1]);
        }
      }
    } finally {
      await fh.close();
    }
  }

  async has(id: string): Promise<boolean> {
    if (this.ids.has(id)) return true;
    await this.refresh();
    return this.ids.has(id);
  }

  /** Appends the line unless the id is already recorded; true if it appended. */
  async record(line: ManifestLine): Promise<boolean> {
    if (await this.has(line.id)) return false;
    const { id, ...rest } = line;
    await appendFile(this.path, `${JSON.stringify({ id, ...rest })}\n`, { flag: 'a' });
    this.ids.add(id);
    return true;
  }
}

/** One index per manifest path, per process. */
const indexes = new Map<string, ManifestIndex>();
export function manifestIndex(dir: string): ManifestIndex {
  const p = join(dir, MANIFEST);
  let m = indexes.get(p);
  if (!m) indexes.set(p, m = new ManifestIndex(p));
  return m;
}

/**
 * Removes temp files left by an earlier attempt at this file (atomicWriteFile's `.<name>.<pid>.<hex>.tmp`
 * of a worker killed mid-write). Only the job's holder writes its file, so any such temp is stale.
 */
export async function removeStaleTemps(dir: string, fileName: string): Promise<number> {
  const prefix = `.${fileName}.`;
  let n = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f.startsWith(prefix) && f.endsWith('.tmp')) {
      await unlink(join(dir, f)).then(() => n++, () => {});
    }
  }
  return n;
}
