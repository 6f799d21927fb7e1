// Where one image's time goes: a model folder loaded as `hart generate` loads it (Node's runtime's
// default thread count, the physical cores), two warm-up images, then `--runs` images of one prompt
// (seed 1, the model's own defaults); for the median image, the seconds of text encoding, of each
// scale's transformer step (with its token sampling and the tokenizer's next-scale input), of the
// residual diffusion and of the decoder (src/pipeline/progress.ts stageClock). To compare two
// versions of the code, run it in a checkout of each, alternating (this virtual machine's speed
// moves within minutes).
//   npx tsx bench/latency-stages.ts [models/default] [--runs 21] [--prompt "a red circle"] [--cfg 1] [--threads N]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { stageClock } from '../src/pipeline/progress.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { threads: { type: 'string' }, runs: { type: 'string', default: '21' }, prompt: { type: 'string', default: 'a red circle' }, cfg: { type: 'string' } },
});
const dir = positionals[0] ?? 'models/default';
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
const cfg = values.cfg === undefined ? undefined : Number(values.cfg);
if (cfg !== undefined && !Number.isFinite(cfg)) throw new Error(`--cfg must be a number, got ${values.cfg}`);

const threads = values.threads === undefined ? undefined : Number(values.threads);
if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads must be a positive integer, got ${values.threads}`);
// no prompt cache: each image's prompt is encoded and its first step run, as for a new prompt
const pipe = await loadHartPipeline(dir, { threads, promptCacheBytes: 0 });
async function one(): Promise<{ total: number; stages: Record<string, number> }> {
  const clock = stageClock();
  const t0 = performance.now();
  await pipe.generate([values.prompt!], { seed: 1, cfg, onProgress: clock.onProgress });
  const total = (performance.now() - t0) / 1000;
  return { total, stages: clock.stages(total) };
}
await one();
await one();
const rs = [];
for (let i = 0; i < runs; i++) rs.push(await one());
const sorted = [...rs].sort((a, b) => a.total - b.total);
const med = sorted[(sorted.length - 1) >> 1];
const row = {
  model: dir, runs, median_s: med.total, min_s: sorted[0].total, max_s: sorted.at(-1)!.total,
  median_image_stages_s: Object.fromEntries(Object.entries(med.stages).map(([k, v]) => [k, +v.toFixed(4)])),
};
console.error(`${dir}: median ${med.total.toFixed(4)} s (${sorted[0].total.toFixed(4)}–${sorted.at(-1)!.total.toFixed(4)}, ${runs} runs); `
  + Object.entries(row.median_image_stages_s).map(([k, v]) => `${k} ${(v * 1000).toFixed(1)} ms`).join(', '));
console.log(JSON.stringify(row));
await pipe.dispose();
