// The tokenizer's decoder alone (HartTokenizer.decode: post_quant_conv + VQGAN decoder, unclamped),
// random weights: median seconds of one decode at each latent size, and a checksum of the image so
// that two lowerings of the same decoder can be compared (run it before and after a change). `default` is the shipped model's
// tokenizer shape (ch 32, 4 levels, 8 groups; 64 px from an 8×8 latent), `full` the released
// tokenizer (ch 160, 5 levels, 32 groups).
//   npx tsx bench/decoder.ts [--config default|full] [--sizes 64,128] [--runs 9] [--threads 2]
import { parseArgs } from 'node:util';
import { RandomWeightStore } from '../src/nn/index.ts';
import { HartTokenizer, parseTokenizerConfig } from '../src/models/tokenizer/index.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { readFileSync } from 'node:fs';
import { fullTokenizerConfig } from './random-models.ts';
import { median } from './timing.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'default' }, sizes: { type: 'string' },
    runs: { type: 'string', default: '9' }, threads: { type: 'string', default: '0' },
  },
});
const config = values.config === 'full' ? fullTokenizerConfig()
  : values.config === 'default' ? parseTokenizerConfig(JSON.parse(readFileSync('models/default/tokenizer/config.json', 'utf8')))
  : (() => { throw new Error(`--config must be default or full, got ${values.config}`); })();
const down = 2 ** (config.ch_mult.length - 1);
const sizes = (values.sizes ?? (values.config === 'full' ? '256,512' : '64')).split(',').map(Number);
for (const s of sizes) if (!Number.isInteger(s / down) || s <= 0) throw new Error(`size ${s} is not a multiple of ${down}`);
const runs = Number(values.runs);

const store = new RandomWeightStore(7);
store.get('quantize.embedding.weight', [config.vocab_size, config.z_channels]); // the codebook the tokenizer checks
const runtime = nodeRuntime({ threads: Number(values.threads), modelCache: false });
const tokenizer = HartTokenizer.fromWeights(config, store, runtime, { prefix: '' });
const rows = [];
for (const size of sizes) {
  const h = size / down;
  const data = new Float32Array(config.z_channels * h * h);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.5;
  const f_hat = { dtype: 'float32' as const, shape: [1, config.z_channels, h, h], data };
  let img = (await tokenizer.decode(f_hat, { clamp: false })).data as Float32Array;
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    img = (await tokenizer.decode(f_hat, { clamp: false })).data as Float32Array;
    times.push((performance.now() - t0) / 1000);
  }
  let sum = 0, sumAbs = 0;
  for (const v of img) { sum += v; sumAbs += Math.abs(v); }
  rows.push({ config: values.config, size, median_s: median(times), runs, checksum: sum, mean_abs: sumAbs / img.length });
  console.error(`${values.config} ${size} px: median ${rows.at(-1)!.median_s.toFixed(4)} s (${runs} runs), checksum ${sum.toFixed(4)}`);
}
console.log(JSON.stringify(rows));
await runtime.dispose();
