// Why a model's scene images fail the checker, on TRAINING-split prompts by default: each verdict
// sorted into pass / extra objects / missing objects / wrong colour / wrong shape / both /
// relation, for the generated images and, as a reference, for the tokenizer's discrete and hybrid
// reconstructions of the renders of the same prompts, and the single-object prompts' passes per
// colour–shape pair (which pairs the tokenizer itself cannot carry). Prints each failing generated
// image's objects (with --list) and one JSON object last. `--split heldout` diagnoses the held-out
// distribution (other prompts than `hart eval`'s at another seed); never tune a recipe or a default to it.
//   npx tsx scripts/scene-failures.ts <model> [--n 64] [--seed 777] [--split train|heldout] [--list]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { renderScene, scenePrompts, type SceneSplit } from '../src/train/data/scenes.ts';
import { checkScene, objectKey, type SceneVerdict } from '../src/eval/scenes-check.ts';
import { generateAll } from '../src/eval/evaluate.node.ts';
import { reconstructAll } from '../src/eval/tokenizer-eval.ts';
import { hwcToImage } from '../src/eval/feature-net.node.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string', default: '64' }, seed: { type: 'string', default: '777' }, threads: { type: 'string', default: '2' },
    split: { type: 'string', default: 'train' }, list: { type: 'boolean', default: false },
  },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: scene-failures.ts <model folder> [--n 64] [--seed 777] [--split train|heldout] [--list]');
const n = Number(values.n), seed = Number(values.seed), threads = Number(values.threads);
const split = values.split as SceneSplit;
if (split !== 'train' && split !== 'heldout') throw new Error(`--split must be train or heldout, got ${values.split}`);
if (split === 'heldout' && seed === 1) throw new Error('--seed 1 draws hart eval\'s own held-out prompts; diagnose at another seed');

/** The kind of a verdict: what differs between the expected and the found objects. */
function kind(v: SceneVerdict): string {
  if (v.pass) return 'pass';
  const want = v.expected.objects, got = v.found;
  if (got.length > want.length) return 'extra';
  if (got.length < want.length) return 'missing';
  const sorted = (xs: string[]) => xs.slice().sort().join();
  if (sorted(want.map(objectKey)) === sorted(got.map(objectKey))) return 'relation';
  const sameShapes = sorted(want.map((o) => o.shape)) === sorted(got.map((o) => o.shape));
  const sameColours = sorted(want.map((o) => o.colour)) === sorted(got.map((o) => o.colour));
  return sameShapes ? 'colour' : sameColours ? 'shape' : 'colour and shape';
}
const tally = (vs: SceneVerdict[]) => {
  const t: Record<string, number> = {};
  for (const v of vs) { const k = kind(v); t[k] = (t[k] ?? 0) + 1; }
  return t;
};

const runtime = nodeRuntime({ threads });
const pipe = await loadHartPipeline(dir, { threads, runtime });
const scenes = scenePrompts(seed, n, split);
const captions = scenes.map((s) => s.caption);
const generated = (await generateAll(pipe, captions, seed, 16)).map((im, k) => checkScene(im, captions[k]));
const renders = scenes.map((s) => hwcToImage(renderScene(s)));
const recon = await reconstructAll(pipe.model.tokenizer, renders, 16, pipe.model.transformer.dims.patchNums);
await pipe.dispose();
await runtime.dispose();
if (values.list) {
  for (const v of generated) if (!v.pass) process.stderr.write(`${kind(v).padEnd(16)} ${v.caption.padEnd(45)} → ${v.found.map(objectKey).join(', ')}\n`);
}
const discrete = recon.discrete.map((im, k) => checkScene(im, captions[k]));
const hybrid = recon.hybrid.map((im, k) => checkScene(im, captions[k]));
/** Single-object prompts per colour–shape pair: prompts, and passes of generated / discrete / hybrid. */
const byPair: Record<string, { n: number; generated: number; discrete: number; hybrid: number }> = {};
for (const [k, sc] of scenes.entries()) {
  if (sc.category !== 'single') continue;
  const row = (byPair[objectKey(sc.objects[0])] ??= { n: 0, generated: 0, discrete: 0, hybrid: 0 });
  row.n++;
  row.generated += Number(generated[k].pass);
  row.discrete += Number(discrete[k].pass);
  row.hybrid += Number(hybrid[k].pass);
}
const result = {
  model: dir, split, n, seed,
  generated: tally(generated),
  tokenizer_discrete: tally(discrete),
  tokenizer_hybrid: tally(hybrid),
  single_by_pair: byPair,
};
process.stderr.write(`generated ${JSON.stringify(result.generated)}\ntokenizer discrete ${JSON.stringify(result.tokenizer_discrete)}\ntokenizer hybrid ${JSON.stringify(result.tokenizer_hybrid)}\n`);
for (const [pair, r] of Object.entries(byPair).sort()) process.stderr.write(`single ${pair.padEnd(16)} ${r.n} prompts: generated ${r.generated}, discrete ${r.discrete}, hybrid ${r.hybrid} pass\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
