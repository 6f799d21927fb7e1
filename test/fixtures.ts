// Locates the official-code reference fixtures (../shared/fixtures/hart-parity-tiny, see its README).
// Tests that need them fail loudly when they are missing; they never skip and never write there.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve, dirname } from 'node:path';

/** Absolute path of the hart-parity-tiny fixture folder; throws if it is missing. */
export function fixtureDir(): string {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const dir = resolve(repo, '..', 'shared', 'fixtures', 'hart-parity-tiny');
  if (!existsSync(resolve(dir, 'reference.json')))
    throw new Error(`fixtures missing: expected the official HART reference fixtures at ${dir} (reference.json, reference.safetensors)`);
  return dir;
}
