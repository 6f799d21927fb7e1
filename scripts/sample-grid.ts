// The model card's grid of generated images: fixed prompts (columns) × seeds (rows), each image at the
// model's defaults, scaled up by whole pixels, tiled by training's gridImage, written as one PNG.
//   npx tsx scripts/sample-grid.ts <model> <out.png> [--seeds 1] [--scale 2] [--threads 2] [--prompts "a|b|…"]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { loadHartPipeline } from '../src/index.node.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { encodePng, type ImageCHW } from '../src/io/png.ts';
import { nearestUpsample } from '../src/eval/metrics.ts';
import { gridImage } from '../src/train/samples.node.ts';

export const SAMPLE_PROMPTS = [
  'a red circle', 'a blue square', 'three green triangles', 'a yellow star and a purple square',
  'a blue square left of a red circle', 'twemoji: red apple', 'noto: grinning face', 'twemoji: rocket',
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seeds: { type: 'string', default: '1' }, scale: { type: 'string', default: '2' }, threads: { type: 'string', default: '2' },
    prompts: { type: 'string' },
  },
});
const [dir, out] = positionals;
if (!dir || !out) throw new Error('usage: sample-grid.ts <model folder> <out.png> [--seeds 1] [--scale 2]');
const prompts = values.prompts === undefined ? SAMPLE_PROMPTS : values.prompts.split('|').map((p) => p.trim());
const rows = Number(values.seeds), s = Number(values.scale), threads = Number(values.threads);
const runtime = nodeRuntime({ threads });
const pipe = await loadHartPipeline(dir, { threads, runtime });
const tiles: ImageCHW[] = [];
for (let r = 0; r < rows; r++) {
  const res = await pipe.generate(prompts, { seeds: prompts.map(() => r + 1) });
  tiles.push(...res.images.map((im) => nearestUpsample(im, s)));
}
await pipe.dispose();
await runtime.dispose();
const grid = gridImage(tiles, prompts.length);
writeFileSync(out, encodePng(grid, { prompts: prompts.join(' | '), model: dir }));
console.log(`${out}: ${prompts.length} prompts × ${rows} seeds, ${grid.width}×${grid.height}`);
