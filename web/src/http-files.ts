// A FileAccess over HTTP for model folders (the web app's model, served by `hart serve` under
// /models/<id>/ or by any static host), with every fetched file kept in the Cache API so a model
// is downloaded once. Also a FileAccess over files the user picked (a folder input).
import type { FileAccess } from '../../src/io/file-access.ts';
import { memoryFiles } from '../../src/io/file-access.ts';
import { bytesAccess } from '../../src/io/tensor-source.ts';

export const MODEL_CACHE = 'hart-js-models-v1';

export function httpFiles(base: string, onFetch?: (url: string, bytes: number, cached: boolean) => void): FileAccess {
  const url = (p: string) => new URL(p, base).href;
  const cache = typeof caches !== 'undefined' ? caches.open(MODEL_CACHE) : undefined;
  const known = new Map<string, Promise<Uint8Array | undefined>>();
  const get = (p: string) => {
    let r = known.get(p);
    if (!r) {
      r = (async () => {
        const u = url(p);
        const c = await cache?.catch(() => undefined);
        const hit = await c?.match(u);
        if (hit) {
          const b = new Uint8Array(await hit.arrayBuffer());
          onFetch?.(u, b.length, true);
          return b;
        }
        const res = await fetch(u);
        if (res.status === 404) return undefined;
        if (!res.ok) throw new Error(`${u}: HTTP ${res.status}`);
        const bytes = new Uint8Array(await res.arrayBuffer());
        await c?.put(u, new Response(bytes.slice(), { headers: { 'content-type': 'application/octet-stream' } })).catch(() => {});
        onFetch?.(u, bytes.length, false);
        return bytes;
      })();
      known.set(p, r);
    }
    return r;
  };
  const need = async (p: string) => {
    const b = await get(p);
    if (!b) throw new Error(`${url(p)}: not found`);
    return b;
  };
  return {
    exists: async (p) => (await get(p)) !== undefined,
    readBytes: need,
    readText: async (p) => new TextDecoder().decode(await need(p)),
    async open(p) { return { ...bytesAccess(await need(p)), close: async () => {} }; },
    sub: (p) => httpFiles(url(p.endsWith('/') ? p : `${p}/`), onFetch),
    describe: (p) => url(p),
  };
}

/** The files of a folder the user picked (<input webkitdirectory>), relative to that folder. */
export async function pickedFiles(list: { path: string; bytes: ArrayBuffer }[]): Promise<FileAccess> {
  const m = new Map<string, Uint8Array>();
  for (const f of list) m.set(f.path.split('/').slice(1).join('/'), new Uint8Array(f.bytes));
  return memoryFiles(m);
}
