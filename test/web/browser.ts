// Browser-test helpers shared by test/web and bench/browser.ts: build web/dist and start
// `hart serve` on it, launch Debian's Chromium (failing loudly when it is missing), and generate
// one image in the app, reading what the page exposes on window.__hart.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { withoutHugePages } from '../../bin/hugepages.mjs';

export const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = join(repo, 'bin', 'hart.mjs');
export const ARTIFACTS = join(repo, 'artifacts', 'web');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'];

/** Builds web/dist (Vite) and starts `hart serve` on it; returns the base URL. */
export async function startServer(extra: string[] = []): Promise<{ base: string; child: ChildProcess }> {
  const b = spawnSync(process.execPath, [join(repo, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'web', '--logLevel', 'error'], { cwd: repo, encoding: 'utf8' });
  assert.equal(b.status, 0, `vite build failed:\n${b.stdout}\n${b.stderr}`);
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '-q', ...extra], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d) => { out += d; const m = /on (http:\/\/[^ \n]+)/.exec(out); if (m) ok(m[1]); });
    child.on('exit', (c) => fail(new Error(`hart serve exited (${c}): ${err}`)));
  });
  return { base: url, child };
}

/**
 * Chromium's environment: ours without glibc's huge-page tunable (bin/hugepages.mjs), which the
 * `hart` launcher and scripts/run-tests.mjs set and with which SwiftShader finds no WebGPU adapter
 * ("Failed to get GPU adapter"; measured here, test/web/webgpu-replay.test.ts).
 */
export function chromiumEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(withoutHugePages(env))) if (v !== undefined) out[k] = v;
  return out;
}

export async function launch(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: the browser tests need it (apt-get update && apt-get install -y chromium; .ci/run does this)`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, env: chromiumEnv() });
}

/** Opens the app with the given query, waits for the model, generates once; returns the page. */
export async function generateIn(page: Page, url: string, timeout = 300_000) {
  await page.goto(url);
  await page.waitForFunction(() => (window as any).__hart.loaded || (window as any).__hart.errors.length, null, { timeout });
  const errors = await page.evaluate(() => (window as any).__hart.errors);
  assert.deepEqual(errors, []);
  const t0 = Date.now();
  await page.click('#go');
  await page.waitForFunction(() => (window as any).__hart.last?.seconds > 0 || (window as any).__hart.errors.length, null, { timeout });
  const r = await page.evaluate(() => {
    const h = (window as any).__hart;
    return { loaded: h.loaded, events: h.events, seed: h.last.seed, seconds: h.last.seconds, data: Array.from(h.last.data as Float32Array), png: Array.from(h.last.png as Uint8Array), errors: h.errors };
  });
  assert.deepEqual(r.errors, []);
  return { ...r, wall: (Date.now() - t0) / 1000, data: Float32Array.from(r.data), png: Uint8Array.from(r.png) };
}

