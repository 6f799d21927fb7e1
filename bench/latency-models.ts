// Latency of one image for several model folders, alternating image by image so that each model
// sees the same machine (this virtual machine's speed moves by a quarter within minutes, which a
// model-after-model comparison would attribute to the models). Each folder loads as `hart generate`
// loads it (loadHartPipeline, ONNX Runtime's default thread count); one warm-up image each, then
// `--runs` rounds of "a red circle", seed 1, the model's own defaults.
//   npx tsx bench/latency-models.ts models/default runs/default-10/model [--runs 15] [--prompt "..."]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { median } from './timing.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '15' }, prompt: { type: 'string', default: 'a red circle' } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (positionals.length === 0) throw new Error('name one or more model folders');

const pipes = [];
for (const dir of positionals) pipes.push(await loadHartPipeline(dir));
for (const p of pipes) await p.generate(values.prompt!, { seed: 1 });
const seconds: number[][] = pipes.map(() => []);
for (let r = 0; r < runs; r++) {
  for (const [i, p] of pipes.entries()) {
    const t0 = performance.now();
    await p.generate(values.prompt!, { seed: 1 });
    seconds[i].push((performance.now() - t0) / 1000);
  }
}
const rows = positionals.map((dir, i) => {
  const s = [...seconds[i]].sort((a, b) => a - b);
  return { model: dir, median_s: median(s), min_s: s[0], max_s: s[s.length - 1], runs };
});
for (const r of rows) console.error(`${r.model}: median ${r.median_s.toFixed(4)} s (${r.min_s.toFixed(4)}–${r.max_s.toFixed(4)}, ${runs} runs)`);
console.log(JSON.stringify(rows));
for (const p of pipes) await p.dispose();
