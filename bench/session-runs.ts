// Where one image's time goes, by ONNX Runtime session: a model folder loaded as `hart generate`
// loads it, two warm-up images, then `--runs` images of one prompt (seed 1, the model's defaults),
// each session's calls per image and milliseconds per image (mean over the images), grouped by the
// graph's input names (the text encoder, the transformer's context prefix, its step graphs, token
// embedding, diffusion condition, the tokenizer's next-scale input, the diffusion head, the
// decoder). Bench-only instrumentation: CompiledModel.prototype.run is wrapped with a timer for the
// process. To compare two versions of the code, run it in a checkout of each, alternating (this
// virtual machine's speed moves within minutes; small graphs are steadier than the totals). With
// the pipeline's prompt cache (the default) the one prompt's text encoding and conditional step 0
// run only in the warm-up: `--prompt-cache-bytes 0` times them in every image.
//   npx tsx bench/session-runs.ts [models/default] [--runs 41] [--threads N] [--prompt "a red circle"] [--prompt-cache-bytes N]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { CompiledModel } from '../src/runtime/runtime.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string' }, runs: { type: 'string', default: '41' }, prompt: { type: 'string', default: 'a red circle' },
    'prompt-cache-bytes': { type: 'string' },
  },
});
const dir = positionals[0] ?? 'models/default';
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
const threads = values.threads === undefined ? undefined : Number(values.threads);
if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads must be a positive integer, got ${values.threads}`);

const perGraph = new Map<string, { calls: number; ms: number }>();
const run = CompiledModel.prototype.run;
CompiledModel.prototype.run = async function timed(this: CompiledModel, ...args: Parameters<typeof run>) {
  const key = Object.keys(args[0]).sort().join(',');
  const t0 = performance.now();
  try {
    return await run.apply(this, args);
  } finally {
    const g = perGraph.get(key) ?? { calls: 0, ms: 0 };
    g.calls++;
    g.ms += performance.now() - t0;
    perGraph.set(key, g);
  }
};

const cacheBytes = values['prompt-cache-bytes'] === undefined ? undefined : Number(values['prompt-cache-bytes']);
if (cacheBytes !== undefined && !(Number.isInteger(cacheBytes) && cacheBytes >= 0)) throw new Error(`--prompt-cache-bytes must be an integer ≥ 0, got ${values['prompt-cache-bytes']}`);
const pipe = await loadHartPipeline(dir, { threads, promptCacheBytes: cacheBytes });
for (let i = 0; i < 2; i++) await pipe.generate([values.prompt!], { seed: 1 });
perGraph.clear();
const t0 = performance.now();
for (let i = 0; i < runs; i++) await pipe.generate([values.prompt!], { seed: 1 });
const imageMs = (performance.now() - t0) / runs;
await pipe.dispose();

const graphs = [...perGraph].map(([inputs, g]) => ({ inputs, calls_per_image: g.calls / runs, ms_per_image: +(g.ms / runs).toFixed(3) }));
for (const g of graphs) process.stderr.write(`${String(g.calls_per_image).padStart(3)} calls ${g.ms_per_image.toFixed(2).padStart(7)} ms  ${g.inputs.slice(0, 90)}\n`);
const inRuns = graphs.reduce((a, g) => a + g.ms_per_image, 0);
process.stderr.write(`${dir}: ${imageMs.toFixed(1)} ms per image (mean of ${runs}), ${inRuns.toFixed(1)} ms in session runs\n`);
process.stdout.write(`${JSON.stringify({ model: dir, runs, threads: threads ?? null, image_ms: +imageMs.toFixed(3), session_ms: +inRuns.toFixed(3), graphs })}\n`);
