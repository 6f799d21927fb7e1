// Read-only static files under one folder (the web app, a model folder): the request path is
// decoded, normalised and resolved inside the folder, and the real path (symlinks followed) must
// stay inside it, so no request reaches a file outside. Directories serve their index.html.
import { createReadStream, realpathSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { Context } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.ico': 'image/x-icon', '.md': 'text/markdown; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export interface StaticFiles {
  root: string;
  respond(c: Context, path: string): Promise<Response>;
}

/** `headers` are added to every response (e.g. cross-origin isolation for wasm threads). */
export function staticFiles(folder: string, headers: Record<string, string> = {}): StaticFiles {
  const root = realpathSync(resolve(folder));
  const inside = (p: string) => p === root || p.startsWith(root + sep);
  const notFound = (c: Context) => c.json({ error: { message: `not found: ${c.req.path}`, type: 'invalid_request_error', param: null, code: null } }, 404);
  return {
    root,
    async respond(c, path) {
      let rel: string;
      try {
        rel = decodeURIComponent(path);
      } catch {
        return notFound(c);
      }
      if (rel.includes('\0') || rel.includes('\\')) return notFound(c);
      let file = resolve(root, `.${rel.startsWith('/') ? rel : `/${rel}`}`);
      if (!inside(file)) return notFound(c);
      try {
        let s = await stat(file);
        if (s.isDirectory()) {
          file = join(file, 'index.html');
          s = await stat(file);
        }
        const real = await realpath(file);
        if (!inside(real) || !s.isFile()) return notFound(c);
        const h: Record<string, string> = {
          'Content-Type': TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
          'Content-Length': String(s.size),
          'X-Content-Type-Options': 'nosniff',
          'Cache-Control': real.endsWith('.html') ? 'no-cache' : 'public, max-age=3600',
          ...headers,
        };
        if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers: h });
        return new Response(Readable.toWeb(createReadStream(real)) as ReadableStream, { status: 200, headers: h });
      } catch {
        return notFound(c);
      }
    },
  };
}
