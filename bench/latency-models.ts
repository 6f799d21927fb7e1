// Latency of one image for several model folders, alternating image by image so that each model
// sees the same machine (this virtual machine's speed moves by a quarter within minutes, which a
// model-after-model comparison would attribute to the models). Each folder loads as `hart generate`
// loads it (loadHartPipeline, Node's runtime's default thread count); one warm-up image each, then
// `--runs` rounds of "a red circle", seed 1, the model's own defaults. `--threads 1,2` loads every
// folder once per intra-op thread count instead (the same alternation, so thread counts compare);
// `--keep-spinning` leaves ONNX Runtime's threads spinning after each run (as before session 16:
// RuntimeOptions.forceSpinningStop off), to measure what stopping them saves.
//   npx tsx bench/latency-models.ts models/default runs/default-10/model [--runs 15] [--prompt "..."]
//   npx tsx bench/latency-models.ts models/default --threads 1,2 [--keep-spinning]
import { parseArgs } from 'node:util';
import { loadHartPipeline, nodeRuntime } from '../src/index.node.ts';
import { median } from './timing.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '15' }, prompt: { type: 'string', default: 'a red circle' }, threads: { type: 'string' },
    'keep-spinning': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (positionals.length === 0) throw new Error('name one or more model folders');
const threadCounts: (number | undefined)[] = values.threads === undefined ? [undefined] : values.threads.split(',').map((t) => {
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--threads takes positive integers separated by commas, got ${values.threads}`);
  return n;
});
const variants = positionals.flatMap((dir) => threadCounts.map((threads) => ({ dir, threads })));
const label = (v: { dir: string; threads?: number }) => (v.threads === undefined ? v.dir : `${v.dir} (${v.threads} threads)`);

const pipes = [];
const runtimes = variants.map((v) => nodeRuntime({ threads: v.threads, forceSpinningStop: !values['keep-spinning'] }));
// no prompt cache: each image's prompt is encoded and its first step run, as for a new prompt
for (const [i, v] of variants.entries()) pipes.push(await loadHartPipeline(v.dir, { runtime: runtimes[i], promptCacheBytes: 0 }));
for (const p of pipes) await p.generate(values.prompt!, { seed: 1 });
const seconds: number[][] = pipes.map(() => []);
for (let r = 0; r < runs; r++) {
  for (const [i, p] of pipes.entries()) {
    const t0 = performance.now();
    await p.generate(values.prompt!, { seed: 1 });
    seconds[i].push((performance.now() - t0) / 1000);
  }
}
const rows = variants.map((v, i) => {
  const s = [...seconds[i]].sort((a, b) => a - b);
  return { model: v.dir, threads: v.threads ?? null, median_s: median(s), min_s: s[0], max_s: s[s.length - 1], runs };
});
for (const [i, r] of rows.entries()) console.error(`${label(variants[i])}: median ${r.median_s.toFixed(4)} s (${r.min_s.toFixed(4)}–${r.max_s.toFixed(4)}, ${runs} runs)`);
console.log(JSON.stringify(rows));
for (const p of pipes) await p.dispose();
for (const r of runtimes) await r.dispose();
