// DESIGN.md: everything under src/ except the Node adapters runs in a browser, so it may not import
// node: modules, onnxruntime-node, or use Buffer/process/require. The Node adapters are the
// *.node.ts files and the folders that only exist on Node: the CLI (src/cli), the HTTP server
// (src/server) and the Redis queue workers (src/queue).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('src/ outside *.node.ts files is browser-safe', () => {
  const bad: string[] = [];
  for (const f of files('src')) {
    if (f.endsWith('.node.ts') || /^src[\\/](cli|server|queue)[\\/]/.test(f)) continue;
    const code = readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const [re, what] of [
      [/from\s+['"]node:|import\(\s*['"]node:/, 'a node: import'],
      [/['"]onnxruntime-node['"]/, 'onnxruntime-node'],
      [/\bBuffer\./, 'Buffer'],
      [/\bprocess\./, 'process'],
      [/\brequire\(/, 'require'],
    ] as const) if (re.test(code)) bad.push(`${f}: ${what}`);
  }
  assert.deepEqual(bad, []);
});
