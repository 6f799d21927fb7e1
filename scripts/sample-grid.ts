// The model card's grid of generated images: fixed prompts (columns) × seeds (rows), each image at the
// model's defaults, scaled up by whole pixels, written as one PNG.
//   npx tsx scripts/sample-grid.ts <model> <out.png> [--seeds 1] [--scale 2] [--threads 2]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { loadHartPipeline } from '../src/index.node.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { encodePng, type ImageCHW } from '../src/io/png.ts';

export const SAMPLE_PROMPTS = [
  'a red circle', 'a blue square', 'three green triangles', 'a yellow star and a purple square',
  'a blue square left of a red circle', 'twemoji: red apple', 'noto: grinning face', 'twemoji: rocket',
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seeds: { type: 'string', default: '1' }, scale: { type: 'string', default: '2' }, threads: { type: 'string', default: '2' } },
});
const [dir, out] = positionals;
if (!dir || !out) throw new Error('usage: sample-grid.ts <model folder> <out.png> [--seeds 1] [--scale 2]');
const rows = Number(values.seeds), s = Number(values.scale), threads = Number(values.threads);
const runtime = nodeRuntime({ threads });
const pipe = await loadHartPipeline(dir, { threads, runtime });
const tiles: ImageCHW[][] = [];
for (let r = 0; r < rows; r++) {
  const res = await pipe.generate(SAMPLE_PROMPTS, { seeds: SAMPLE_PROMPTS.map(() => r + 1) });
  tiles.push(res.images);
}
await pipe.dispose();
await runtime.dispose();
const w = tiles[0][0].width, h = tiles[0][0].height, gap = 2;
const W = SAMPLE_PROMPTS.length * (w * s + gap) - gap, H = rows * (h * s + gap) - gap;
const data = new Float32Array(3 * W * H).fill(1);
for (let r = 0; r < rows; r++) for (let c = 0; c < SAMPLE_PROMPTS.length; c++) {
  const im = tiles[r][c];
  for (let ch = 0; ch < 3; ch++) for (let y = 0; y < h * s; y++) for (let x = 0; x < w * s; x++) {
    data[ch * W * H + (r * (h * s + gap) + y) * W + c * (w * s + gap) + x] = im.data[ch * w * h + Math.floor(y / s) * w + Math.floor(x / s)];
  }
}
writeFileSync(out, encodePng({ width: W, height: H, data }, { prompts: SAMPLE_PROMPTS.join(' | '), model: dir }));
console.log(`${out}: ${SAMPLE_PROMPTS.length} prompts × ${rows} seeds, ${W}×${H}`);
