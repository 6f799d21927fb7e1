// Where a model's scene images go wrong, by scale (a diagnosis, on TRAINING-split prompts by default):
// each prompt's render is encoded by the model's own tokenizer, and the image is generated with the
// first k scales' tokens forced to the render's (teacher forcing) and the rest sampled as usual, for
// each k in --force; k = 0 is free generation, k = N forces every scale, so that only the residual
// diffusion's prediction differs from the tokenizer's hybrid reconstruction. The scenes checker's
// pass rate per k (and per category) says which scales the failures come from: the coarse ones that
// lay out the objects, the fine ones, or the residual diffusion. Also prints the tokenizer's own
// discrete and hybrid reconstructions' pass rates (the ceilings). --last-argmax takes the last scale's
// most likely tokens instead of sampling them (prediction or sampling?); --guidance t0,…,tN sets each
// scale's guidance t and, last, the residual diffusion's (see LoopHooks.guidanceAt; 0 = the caption's
// half alone, −1 = the unconditional half; empty keeps the defaults'). Prints one JSON object last.
//   npx tsx scripts/forced-scales.ts <model> [--n 128] [--seed 777] [--split train|heldout] [--force 0,2,4,7] [--last-argmax] [--guidance ,,,,,,-1,] [--threads 2]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { renderScene, scenePrompts, type SceneSplit } from '../src/train/data/scenes.ts';
import { checkScene, scoreVerdicts } from '../src/eval/scenes-check.ts';
import { reconstructAll, toBatch } from '../src/eval/tokenizer-eval.ts';
import { generateAll } from '../src/eval/evaluate.node.ts';
import { hwcToImage } from '../src/eval/feature-net.node.ts';
import type { ImageCHW } from '../src/io/png.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string', default: '128' }, seed: { type: 'string', default: '777' }, threads: { type: 'string', default: '2' },
    split: { type: 'string', default: 'train' }, force: { type: 'string' }, 'last-argmax': { type: 'boolean', default: false }, guidance: { type: 'string' },
  },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: forced-scales.ts <model folder> [--n 128] [--seed 777] [--split train|heldout] [--force 0,2,4,7] [--last-argmax] [--guidance t0,…,tN] [--threads 2]');
const n = Number(values.n), seed = Number(values.seed), threads = Number(values.threads);
if (!(Number.isInteger(n) && n >= 1)) throw new Error(`--n must be a positive integer, got ${values.n}`);
const split = values.split as SceneSplit;
if (split !== 'train' && split !== 'heldout') throw new Error(`--split must be train or heldout, got ${values.split}`);
if (split === 'heldout' && seed === 1) throw new Error('--seed 1 draws hart eval\'s own held-out prompts; diagnose at another seed');
const BATCH = 16;

const runtime = nodeRuntime({ threads });
const pipe = await loadHartPipeline(dir, { threads, runtime });
const patchNums = pipe.model.transformer.dims.patchNums, N = patchNums.length;
const ks = (values.force ?? Array.from({ length: N + 1 }, (_, k) => k).join(',')).split(',').map(Number);
for (const k of ks) if (!(Number.isInteger(k) && k >= 0 && k <= N)) throw new Error(`--force takes scale counts in 0…${N}, got ${k}`);
const guidance = values.guidance?.split(',').map((v) => (v.trim() === '' ? undefined : Number(v)));
if (guidance && (guidance.length !== N + 1 || guidance.some((t) => t !== undefined && !Number.isFinite(t)))) {
  throw new Error(`--guidance takes ${N + 1} comma-separated numbers or blanks (${N} scales, then the residual diffusion), got ${values.guidance}`);
}
const scenes = scenePrompts(seed, n, split);
const captions = scenes.map((s) => s.caption);
const renders: ImageCHW[] = scenes.map((s) => hwcToImage(renderScene(s)));

// the renders' token indices per scale, per batch of BATCH prompts
const tokens: Int32Array[][] = [];
for (let s = 0; s < n; s += BATCH) {
  const enc = await pipe.model.tokenizer.encode(toBatch(renders.slice(s, s + BATCH)), { patchNums });
  tokens.push(enc.idx_Bl.map((t) => Int32Array.from(t.data as ArrayLike<number | bigint>, Number)));
}
const rows: { forced_scales: number; accuracy: number; per_category: Record<string, number> }[] = [];
for (const k of ks) {
  const images = await generateAll(pipe, captions, seed, BATCH, (s) => ({
    hooks: {
      forceTokens: (si) => (si < k ? tokens[s / BATCH][si] : undefined),
      temperatureAt: (si) => (values['last-argmax'] && si === N - 1 ? 0 : undefined),
      guidanceAt: (si) => guidance?.[si],
    },
  }));
  const score = scoreVerdicts(images.map((im, j) => checkScene(im, captions[j])));
  const row = { forced_scales: k, accuracy: +score.overall.toFixed(3), per_category: Object.fromEntries(Object.entries(score.accuracy).map(([c, v]) => [c, +v.toFixed(3)])) };
  rows.push(row);
  process.stderr.write(`first ${k} of ${N} scales forced: ${row.accuracy.toFixed(3)} ${JSON.stringify(row.per_category)}\n`);
}
const recon = await reconstructAll(pipe.model.tokenizer, renders, BATCH, patchNums);
const ceiling = (ims: ImageCHW[]) => +scoreVerdicts(ims.map((im, j) => checkScene(im, captions[j]))).overall.toFixed(3);
const result = { model: dir, split, n, seed, last_argmax: values['last-argmax'], guidance: values.guidance ?? null, rows, tokenizer_discrete: ceiling(recon.discrete), tokenizer_hybrid: ceiling(recon.hybrid) };
process.stderr.write(`tokenizer reconstructions: discrete ${result.tokenizer_discrete}, hybrid ${result.tokenizer_hybrid}\n`);
await pipe.dispose();
await runtime.dispose();
process.stdout.write(`${JSON.stringify(result)}\n`);
