// The browser app in headless Chromium (Debian's chromium, driven by playwright-core) against
// `hart serve` with the web app built by Vite: it loads, generates on wasm, previews arrive scale by
// scale in order, the PNG downloads with its metadata, the model files land in the Cache API,
// cancel works, the `hart serve` engine works, a phone-sized screen (390×844) has no horizontal
// scroll, and the wasm image equals Node's within a measured tolerance. WebGPU: webgpu.check.ts
// (not in the default run: see there). Screenshots go to artifacts/web/. Chromium missing = a failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { decodePng } from '../../src/io/png.ts';
import { fixtureDir } from '../fixtures.ts';
import { nodeImage } from './node-reference.ts';
import { ARTIFACTS, generateIn, launch, startServer } from './browser.ts';

const PROMPT = 'a red circle above a blue square';
let server: ChildProcess, base = '', browser: Browser;
const images: Record<string, Float32Array> = {};

before(async () => {
  fixtureDir();
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ base, child: server } = await startServer(['--threads', '1']));
  browser = await launch();
});
after(async () => { await browser?.close(); server?.kill('SIGINT'); });

test('wasm: loads, previews in order, PNG download with metadata, model files in the Cache API', { timeout: 600_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  // arg-max token choices (top_k=1): sampled choices can flip on last-bit logit differences between
  // backends and change the whole image; with them fixed, the backends must agree to float tolerance
  const r = await generateIn(page, `${base}/?backend=wasm&top_k=1`);
  assert.equal(r.loaded.backend, 'wasm');
  assert.equal(r.loaded.resolution, 64); // the embedded default model
  assert.deepEqual(r.events.map((e: { stage: string; step: number }) => `${e.stage}${e.stage === 'scale' ? e.step : ''}`),
    ['scale0', 'scale1', 'scale2', 'scale3', 'scale4', 'scale5', 'diffusion', 'decode', 'done']);
  assert.deepEqual(r.events.filter((e: { stage: string }) => e.stage === 'scale').map((e: { previewWidth: number }) => e.previewWidth), [8, 16, 24, 32, 40, 48]);
  images.wasm = r.data;
  images.node = await nodeImage(PROMPT, 1, { topK: 1 });
  let d = 0;
  for (let i = 0; i < r.data.length; i++) d = Math.max(d, Math.abs(r.data[i] - images.node[i]));
  // measured 2026-12-02 with the embedded model: 1.7e-6 (Node vs onnxruntime-web under Node); the
  // bound is far below one 8-bit level (1/255 = 3.9e-3). Before the fix in Runtime (outputsInPlace)
  // the browser ran with empty KV caches and differed by ≈ 0.9.
  console.log(`# max |Δpixel| Node vs wasm (image in [0,1]): ${d}`);
  assert.ok(d < 1e-3, `Node and wasm images differ by ${d}`);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.equal(dl.suggestedFilename(), 'hart-1.png');
  const png = decodePng(new Uint8Array(readFileSync(await dl.path())));
  assert.equal(png.width, 64);
  assert.match(png.text.parameters, new RegExp(`^${PROMPT}\\nSteps: 8, Sampler: HART, CFG scale: [\\d.]+, Seed: 1, Size: 64x64, Model: hart-js-default`));
  assert.equal(png.text.prompt, PROMPT);
  const cached = await page.evaluate(async () => (await (await caches.open('hart-js-models-v1')).keys()).map((k) => new URL(k.url).pathname));
  assert.ok(cached.some((p) => p.endsWith('/transformer/model.safetensors') || p.endsWith('/llm/ema_model.bin') || p.endsWith('/llm/model.safetensors')), JSON.stringify(cached));
  assert.equal(await page.locator('#gallery img').count(), 1);
  await page.screenshot({ path: join(ARTIFACTS, 'desktop-wasm.png') });
  // cancel: stops at the next scale (8 images, so that the generation outlasts the click on a fast
  // or idle machine: one image finished before the cancel arrived in a run beside training)
  await page.fill('#seed', '2');
  await page.fill('#n', '8');
  await page.click('#go');
  await page.waitForFunction(() => (window as any).__hart.events.length >= 1);
  await page.click('#cancel');
  await page.waitForFunction(() => document.getElementById('stage')!.textContent === 'cancelled' || document.getElementById('stage')!.textContent!.startsWith('done'));
  assert.equal(await page.textContent('#stage'), 'cancelled');
  await page.fill('#n', '1');
  // a bad value is refused in the page by the shared schema, naming the field (the form is novalidate:
  // the browser's own range check would block the submit silently)
  await page.fill('#cfg', '99');
  await page.click('#go');
  await page.waitForFunction(() => document.getElementById('error')!.textContent !== '');
  assert.match(await page.textContent('#error') ?? '', /cfg/);
  await page.fill('#cfg', '');
  await page.close();
});

test('the hart serve engine, and a phone screen without horizontal scroll', { timeout: 120_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await page.goto(`${base}/?engine=server`);
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.includes('hart serve'));
  // the form's guidance schedule reaches the server (the default model's own is constant)
  await page.selectOption('#cfg_schedule', 'linear');
  // a word the embedded model never read is named when the image is done
  await page.fill('#prompt', 'a red circle above a blue photo');
  // and so do the fields under "More options" (two images: the gallery gets both)
  await page.click('#more summary');
  await page.fill('#n', '2');
  await page.fill('#top_k', '5');
  await page.fill('#temperature', '0.5');
  await page.selectOption('#more_smooth', 'true');
  await page.click('#go');
  await page.waitForFunction(() => document.getElementById('stage')!.textContent!.startsWith('done') || (window as any).__hart.errors.length, null, { timeout: 60_000 });
  assert.deepEqual(await page.evaluate(() => (window as any).__hart.errors), []);
  const events = await page.evaluate(() => (window as any).__hart.events.map((e: { stage: string }) => e.stage));
  assert.deepEqual(events.slice(0, 6), ['scale', 'scale', 'scale', 'scale', 'scale', 'scale']);
  const png = decodePng(Uint8Array.from(await page.evaluate(() => Array.from((window as any).__hart.last.png as Uint8Array))));
  assert.match(png.text.parameters, /Seed: 1, Size: 64x64, Model: hart-js-default/); // the first image (the second, seed 2, goes to the gallery)
  assert.match(png.text.parameters, /CFG schedule: linear/);
  assert.match(png.text.parameters, /Top-k: 5, Top-p: [\d.]+, Temperature: 0\.5, More smooth: true/);
  assert.equal(await page.locator('#gallery img').count(), 2);
  assert.match(await page.textContent('#stage') ?? '', /^done in (?!0\.00 s)\d+\.\d\d s \(the model's vocabulary has no "photo": it reads that word letter by letter\)$/); // not the old constant 0.00
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(scroll <= client, `horizontal scroll on a phone: ${scroll} > ${client}`);
  await page.screenshot({ path: join(ARTIFACTS, 'phone-390x844.png'), fullPage: true });
  await page.close();
});
