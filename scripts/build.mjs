// npm run build: src/ → dist/ (JavaScript + .d.ts) with tsc (tsconfig.build.json). tsc rewrites
// the .ts import specifiers of the emitted JavaScript to .js; this script does the same for the
// declaration files, then checks that nothing in dist/ still imports a .ts file.
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
const spec = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g;
let bad = [];
for (const f of walk(dist)) {
  if (f.endsWith('.d.ts')) {
    const s = readFileSync(f, 'utf8');
    const t = s.replace(spec, '$1$2.js$3');
    if (t !== s) writeFileSync(f, t);
  }
  if (/\.(js|d\.ts)$/.test(f) && spec.test(readFileSync(f, 'utf8'))) bad.push(f);
  spec.lastIndex = 0;
}
if (bad.length) {
  console.error(`build: .ts imports left in ${bad.join(', ')}`);
  process.exit(1);
}
console.error(`build: dist/ written (${walk(dist).length} files)`);
