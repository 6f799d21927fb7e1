// Runs every test/**/*.test.ts with node's own test runner (through tsx).
// Usage: node scripts/run-tests.mjs [filter-substring ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { withHugePages } from '../bin/hugepages.mjs';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// glibc's transparent huge pages for the tests' model loads, as the `hart` launcher sets them for its
// commands (bin/hugepages.mjs); the launcher's own tests run without it
const env = (process.platform === 'linux' && withHugePages(process.env)) || process.env;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit', env,
});
process.exit(r.status ?? 1);
