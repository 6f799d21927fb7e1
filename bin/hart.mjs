#!/usr/bin/env node
// The `hart` command. In a source checkout it runs the TypeScript sources through tsx (always
// current, no build step); in an installed package it runs the built JavaScript in dist/.
import { existsSync } from 'node:fs';
import { relaunch, watchLauncher } from './hugepages.mjs';

if (!watchLauncher()) {
  const child = await relaunch();
  if (child) {
    if (child.signal) process.kill(process.pid, child.signal);
    process.exit(child.code ?? 1);
  }
}

const src = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(src)) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    // sources without dev dependencies: fall through to the build
  }
  if (register) {
    register();
    ({ main } = await import(src.href));
  }
}
if (!main) {
  if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
    console.error('hart: error: neither the built package (dist/) nor tsx to run the sources is installed; run npm install (and npm run build)');
    process.exit(1);
  }
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
