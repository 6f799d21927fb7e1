// A prompt generated again against a new one (PipelineOptions.promptCacheBytes): one pipeline on a
// model folder (as `hart generate` loads it), then `--rounds` rounds of a prompt it has not seen
// (seed r) and the same prompt again (seed r + 1000), alternating so that both see the same
// machine; medians of each and their ratio, and the share of the image the cache skips (text
// encoder, context prefix and the conditional step 0). Prompts are the scene vocabulary's captions
// ("a {colour} {shape}", "{n} {colour} {shape}s"), each used in one round only.
//   npx tsx bench/prompt-repeat.ts [models/default] [--rounds 21] [--threads N] [--json]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { COLOUR_NAMES, COUNT_WORDS, SHAPES } from '../src/train/data/scene-vocab.ts';
import { median } from './timing.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '21' }, threads: { type: 'string' }, json: { type: 'boolean', default: false } },
});
const dir = positionals[0] ?? 'models/default';
const rounds = Number(values.rounds);
const prompts = [
  ...COLOUR_NAMES.flatMap((c) => SHAPES.map((s) => `a ${c} ${s}`)),
  ...Object.values(COUNT_WORDS).flatMap((n) => COLOUR_NAMES.flatMap((c) => SHAPES.map((s) => `${n} ${c} ${s}s`))),
];
if (!Number.isInteger(rounds) || rounds < 1 || rounds + 2 > prompts.length) throw new Error(`--rounds must be an integer in [1, ${prompts.length - 2}], got ${values.rounds}`);
const threads = values.threads === undefined ? undefined : Number(values.threads);

const pipe = await loadHartPipeline(dir, { threads });
// warm-up: sessions, the unconditional prefix, the decoder's first compile
for (const p of prompts.slice(-2)) await pipe.generate(p, { seed: 1 });
const first: number[] = [], again: number[] = [];
for (let r = 0; r < rounds; r++) {
  let t = performance.now();
  await pipe.generate(prompts[r], { seed: r });
  first.push(performance.now() - t);
  t = performance.now();
  await pipe.generate(prompts[r], { seed: r + 1000 });
  again.push(performance.now() - t);
}
const use = pipe.model.transformer.promptCacheUse;
await pipe.dispose();
const result = {
  model: dir, rounds, threads: threads ?? null,
  new_prompt_ms: +median(first).toFixed(2), same_prompt_ms: +median(again).toFixed(2),
  ratio: +(median(again) / median(first)).toFixed(3),
  prompt_cache: use,
};
process.stderr.write(`${dir}: a new prompt ${result.new_prompt_ms} ms, the same prompt again ${result.same_prompt_ms} ms (median of ${rounds} each, alternating): ratio ${result.ratio}; prompt cache ${use.prompts} prompts, ${(use.bytes / 2 ** 20).toFixed(1)} MiB\n`);
if (values.json) console.log(JSON.stringify(result));
