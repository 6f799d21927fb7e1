// The system prompt's keys/values computed once (Qwen2Encoder.prefix) against the official way of
// running Qwen2 over system prompt + prompt tokens for every prompt: a random Qwen2 at Qwen2-1.5B's
// width (hidden 1536, MLP 8960, 12 heads over 2 K/V heads) with --layers of its 28 layers (the
// ratio per layer is the same), --sys system tokens (132: the official prompt's estimate,
// bench/generate.ts) before 300 prompt tokens, B prompts. Prints the medians of --runs encodes:
//   full:   one forward over sys + 300 tokens per prompt (what the official code runs)
//   prefix: the system prompt's forward alone (once per encoder, or read from the disk cache)
//   cached: the prompts' 300 tokens attending to the cached prefix (every later encode)
// and the ratios cached / full and (prefix + cached) / full (a first encode with nothing cached).
//   npx tsx bench/text-prefix.ts [--layers 4] [--sys 132] [--batch 1] [--runs 5] [--threads 2]
import { parseArgs } from 'node:util';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { Qwen2Encoder } from '../src/models/text/index.ts';
import { qwen2_1_5bConfig } from '../src/models/text/config.ts';
import { randomQwen2Source } from './random-models.ts';
import { median } from './timing.ts';

const { values } = parseArgs({ options: {
  layers: { type: 'string', default: '4' }, sys: { type: 'string', default: '132' }, batch: { type: 'string', default: '1' },
  runs: { type: 'string', default: '5' }, threads: { type: 'string', default: '2' },
} });
const [layers, S, B, runs, threads] = ['layers', 'sys', 'batch', 'runs', 'threads'].map((k) => {
  const v = Number(values[k as keyof typeof values]);
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`--${k} must be a positive integer, got ${values[k as keyof typeof values]}`);
  return v;
});
const T = 300, valid = 12;
const cfg = { ...qwen2_1_5bConfig(), num_hidden_layers: layers, vocab_size: 4096 };
const rt = nodeRuntime({ threads });
const enc = await Qwen2Encoder.load(cfg, randomQwen2Source(cfg, 3), rt);
const sys = Array.from({ length: S }, (_, i) => (i * 37 + 11) % (cfg.vocab_size - 1));
const prompt = Array.from({ length: T }, (_, i) => (i < valid ? (i * 53 + 7) % (cfg.vocab_size - 1) : cfg.vocab_size - 1));
const maskT = Array.from({ length: T }, (_, i) => (i < valid ? 1 : 0));
const rows = <X>(row: X[]) => Array.from({ length: B }, () => row).flat();
const fullIds = rows([...sys, ...prompt]), fullMask = rows([...new Array<number>(S).fill(1), ...maskT]);
const time = async (f: () => Promise<unknown>) => { const t = performance.now(); await f(); return (performance.now() - t) / 1000; };

const full: number[] = [], pre: number[] = [], cached: number[] = [];
let maxDiff = 0;
for (let r = 0; r < runs + 1; r++) {
  let a: Float32Array | undefined, b: Float32Array | undefined;
  const tf = await time(async () => { a = (await enc.forward(fullIds, fullMask, B)).data as Float32Array; });
  const tp = await time(() => enc.forward(sys, new Array<number>(S).fill(1), 1));
  const prefix = await enc.prefix(sys);
  const tc = await time(async () => { b = (await enc.forward(rows(prompt), rows(maskT), B, prefix)).data as Float32Array; });
  const C = cfg.hidden_size;
  for (let bi = 0; bi < B; bi++) for (let i = 0; i < T * C; i++) maxDiff = Math.max(maxDiff, Math.abs(a![(bi * (S + T)) * C + S * C + i] - b![bi * T * C + i]));
  if (r > 0) { full.push(tf); pre.push(tp); cached.push(tc); } // the first round warms up
}
const m = { full: median(full), prefix: median(pre), cached: median(cached) };
const row = {
  layers, system_tokens: S, prompt_tokens: T, batch: B, threads, runs,
  seconds: { full: +m.full.toFixed(4), prefix: +m.prefix.toFixed(4), cached: +m.cached.toFixed(4) },
  ratio_cached_to_full: +(m.cached / m.full).toFixed(3),
  ratio_first_to_full: +((m.prefix + m.cached) / m.full).toFixed(3),
  max_abs_diff: Number(maxDiff.toPrecision(3)),
};
console.error(`Qwen2 at 1.5B width, ${layers} layers, ${S} system + ${T} prompt tokens, batch ${B}: full ${m.full.toFixed(3)} s, `
  + `prefix ${m.prefix.toFixed(3)} s, cached ${m.cached.toFixed(3)} s → cached/full ${row.ratio_cached_to_full}, (prefix + cached)/full ${row.ratio_first_to_full}; max |Δ| ${row.max_abs_diff}`);
console.log(JSON.stringify(row));
await enc.release();
await rt.dispose();
