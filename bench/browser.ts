// `hart bench browser`: seconds per image in headless Chromium (Debian's chromium via
// playwright-core) on wasm and on WebGPU (SwiftShader here: a software GPU, so this measures the
// path, not a real GPU), each as a ratio to Node (onnxruntime-node) in the same run, on the
// default model. The first image per backend includes session creation and is reported apart.
// ratio_to_node_page_work compares with Node doing the page's whole work (previews and PNGs too).
import { nodeReference } from '../test/web/node-reference.ts';
import { generateIn, launch, startServer } from '../test/web/browser.ts';
import { encodePng } from '../src/io/png.ts';
import { encodeImagePng } from '../src/api/metadata.ts';

interface Opts { json?: boolean; repeat?: string; warmup?: string; backends?: string }

export async function benchBrowser(o: Opts): Promise<void> {
  const repeat = Number(o.repeat ?? 2), warmup = Number(o.warmup ?? 3);
  if (!(Number.isInteger(repeat) && repeat >= 1 && Number.isInteger(warmup) && warmup >= 0)) throw new Error('--repeat must be ≥ 1 and --warmup ≥ 0 (integers)');
  const backends = (o.backends ?? 'wasm,webgpu').split(',');
  // Node first: the model loaded once (as the page keeps its worker's), one warm-up image, then timed
  const ref = await nodeReference();
  await ref.pipe.generate('bench', { seed: 1 });
  const tn = performance.now();
  for (let i = 0; i < repeat; i++) await ref.pipe.generate('bench', { seed: 2 + i });
  const node_s = (performance.now() - tn) / 1000 / repeat;
  // the page's work on Node: the worker also decodes a preview per scale and encodes it and the
  // final image as PNG (web/src/worker.ts); the same here, so one ratio compares like with like
  const pageWork = async (seed: number) => {
    const r = await ref.pipe.generate('bench', { seed, previews: true, onProgress: (e) => { e.previews?.forEach((im) => encodePng(im)); } });
    r.images.forEach((im, k) => encodeImagePng(im, { prompt: 'bench', seed: r.seeds[k], settings: r.settings, width: im.width, height: im.height, model: 'default' }));
  };
  await pageWork(1);
  const tw = performance.now();
  for (let i = 0; i < repeat; i++) await pageWork(2 + i);
  const node_page_s = (performance.now() - tw) / 1000 / repeat;
  await ref.dispose();
  const { base, child } = await startServer(['--threads', '1']);
  const browser = await launch();
  const result: Record<string, unknown> = { bench: 'browser', model: 'default', repeat, warmup, node_s_per_image: +node_s.toFixed(3), node_page_work_s_per_image: +node_page_s.toFixed(3) };
  try {
    for (const b of backends) {
      const page = await browser.newPage();
      const first = await generateIn(page, `${base}/?backend=${b}`, 590_000);
      const times: number[] = [];
      for (let i = 0; i < warmup + repeat; i++) {
        await page.fill('#seed', String(2 + i));
        await page.evaluate(() => { (window as any).__hart.last = undefined; });
        const t0 = performance.now();
        await page.click('#go');
        await page.waitForFunction(() => (window as any).__hart.last?.seconds > 0, null, { timeout: 590_000 });
        if (i >= warmup) times.push((performance.now() - t0) / 1000);
      }
      const s = times.reduce((a, c) => a + c, 0) / times.length;
      result[b] = { backend: first.loaded.backend, load_s: +first.loaded.seconds.toFixed(2), first_image_s: +first.wall.toFixed(2), s_per_image: +s.toFixed(3), ratio_to_node: +(s / node_s).toFixed(2), ratio_to_node_page_work: +(s / node_page_s).toFixed(2) };
      await page.close();
    }
  } finally {
    await browser.close();
    child.kill('SIGINT');
  }
  if (!o.json) process.stderr.write(`${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
