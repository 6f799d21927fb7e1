// Matrix-precision modes on a trained model folder (default: models/default): the same prompts and
// seeds generated with the transformer in float32 and in each mode (src/models/transformer/
// precision.ts), each image against its float32 twin: PSNR (peak 1) and max |Δ|, and the seconds per
// generation (median). On by default only for modes within PSNR ≥ 35 dB of float32 on every image.
//   npx tsx bench/precision-model.ts [--model models/default] [--modes int8,dynq8,int4] [--seeds 4] [--threads 2] [--json]
import { parseArgs } from 'node:util';
import { diskFiles } from '../src/io/file-access.node.ts';
import { openWeights } from '../src/io/weights.ts';
import { int4Source, MapWeightStore, type StoredTensor } from '../src/nn/index.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { HartPipeline } from '../src/pipeline/hart-pipeline.ts';
import { loadTextEncoder } from '../src/pipeline/text-encoder-folder.ts';
import { HartTransformer, ignoredBuffers, type MatmulPrecision } from '../src/models/transformer/index.ts';
import type { ImageCHW } from '../src/io/png.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/default' }, modes: { type: 'string', default: 'int8,dynq8,int4' },
    seeds: { type: 'string', default: '4' }, threads: { type: 'string', default: '2' }, json: { type: 'boolean', default: false },
  },
});
const PROMPTS = [
  'a red circle above a blue square', 'a green triangle left of a yellow star', 'a purple square below an orange circle',
  'a blue star right of a red triangle', 'a smiling face', 'a red heart',
];
const seeds = Array.from({ length: Number(values.seeds) }, (_, k) => k + 1);
const files = diskFiles(values.model!);
const rt = nodeRuntime({ threads: Number(values.threads) });
const pipe = await HartPipeline.fromPretrained(files, { runtime: rt, textEncoder: () => loadTextEncoder(files.sub('text_encoder'), rt) });
const cfg = pipe.model.transformerConfig;
const src = int4Source(await openWeights(files.sub(pipe.model.transformerWeights.split('/')[0])));
const map = new Map<string, StoredTensor>();
const skip = ignoredBuffers(cfg);
for (const n of src.names()) if (!skip.has(n)) map.set(n, await src.read(n) as StoredTensor);
await src.close();
const store = new MapWeightStore(map);
const { V, Cvae } = pipe.model.transformer.dims;

async function run(): Promise<{ images: ImageCHW[]; seconds: number[] }> {
  const images: ImageCHW[] = [], seconds: number[] = [];
  for (const prompt of PROMPTS) {
    for (const seed of seeds) {
      const t = performance.now();
      const r = await pipe.generate(prompt, { seed });
      seconds.push((performance.now() - t) / 1000);
      images.push(...r.images);
    }
  }
  return { images, seconds };
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
await run(); // warm-up (text encoder, tokenizer graphs)
const ref = await run();
const report: Record<string, unknown> = {
  model: values.model, images: ref.images.length, size: ref.images[0].width, threads: Number(values.threads),
  float32: { seconds_per_image: Number(med(ref.seconds).toFixed(4)) },
};
if (!values.json) console.log(`float32: ${ref.images.length} images (${PROMPTS.length} prompts × ${seeds.length} seeds), ${med(ref.seconds).toFixed(4)} s per image (median)`);
for (const mode of values.modes!.split(',') as MatmulPrecision[]) {
  // release first: the new transformer shares the unchanged graphs' sessions through the runtime's cache
  await pipe.model.transformer.release(rt);
  pipe.model.transformer = await HartTransformer.fromWeights(cfg, store, rt, { precision: mode, vocabSize: V, Cvae });
  const r = await run();
  const psnrs: number[] = [];
  let maxAbs = 0, same = 0;
  r.images.forEach((im, k) => {
    let se = 0, m = 0;
    im.data.forEach((v, i) => { const d = v - ref.images[k].data[i]; se += d * d; m = Math.max(m, Math.abs(d)); });
    maxAbs = Math.max(maxAbs, m);
    if (se === 0) same++;
    psnrs.push(se === 0 ? Infinity : 10 * Math.log10(im.data.length / se));
  });
  const finite = psnrs.filter(Number.isFinite);
  const entry = {
    seconds_per_image: Number(med(r.seconds).toFixed(4)), image_max_abs_diff: Number(maxAbs.toPrecision(3)),
    psnr_db_min: finite.length ? Number(Math.min(...finite).toFixed(1)) : null,
    psnr_db_mean_finite: finite.length ? Number((finite.reduce((a, b) => a + b, 0) / finite.length).toFixed(1)) : null,
    identical_images: same, within_35db: psnrs.every((p) => p >= 35),
  };
  report[mode] = entry;
  if (!values.json) console.log(`${mode}: ${JSON.stringify(entry)}`);
}
await pipe.dispose();
await rt.dispose();
if (values.json) console.log(JSON.stringify(report));
