// Token sampling's cost per image: sampleTokens (top-k: two passes over each row, softmax and the
// draw on the kept entries only) against the general path spelled out (topKFilter, softmax over the
// whole row, categorical over it) on the same logits and uniforms, alternating, same process; the
// drawn indices must agree. Default: the embedded model's 155 tokens of 2,048 codes, top-k 10.
//   npx tsx bench/sampling.ts [--tokens 155] [--vocab 2048] [--top-k 10] [--rounds 300]
import { parseArgs } from 'node:util';
import { sampleTokens, softmax, topKFilter } from '../src/pipeline/sampling.ts';
import { Philox, categorical } from '../src/random/philox.ts';

const { values } = parseArgs({ options: {
  tokens: { type: 'string', default: '155' }, vocab: { type: 'string', default: '2048' },
  'top-k': { type: 'string', default: '10' }, rounds: { type: 'string', default: '300' },
} });
const l = Number(values.tokens), V = Number(values.vocab), k = Number(values['top-k']), rounds = Number(values.rounds);
for (const [name, v] of Object.entries({ tokens: l, vocab: V, 'top-k': k, rounds })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
}
const rng = new Philox(1);
const logits = Float32Array.from(rng.normal(0, 0, l * V), (x) => 3 * x);
const uniforms = rng.uniform(1, 0, l);

function fast(): { ms: number; idx: Int32Array } {
  const x = Float32Array.from(logits);
  const t = performance.now();
  const idx = sampleTokens(x, 1, l, V, { topK: k, topP: 0, temperature: 1 }, (_, i) => uniforms[i]);
  return { ms: performance.now() - t, idx };
}
function general(): { ms: number; idx: Int32Array } {
  const x = Float32Array.from(logits);
  const t = performance.now();
  const idx = new Int32Array(l);
  for (let i = 0; i < l; i++) {
    const row = x.subarray(i * V, (i + 1) * V);
    topKFilter(row, k);
    idx[i] = categorical(softmax(row), uniforms[i]);
  }
  return { ms: performance.now() - t, idx };
}
for (let w = 0; w < 20; w++) { fast(); general(); }
const a: number[] = [], b: number[] = [];
for (let r = 0; r < rounds; r++) {
  const g = general(), f = fast();
  if (g.idx.join() !== f.idx.join()) throw new Error('sampleTokens drew other indices than the general path');
  a.push(g.ms); b.push(f.ms);
}
const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
const row = { tokens: l, vocab: V, top_k: k, rounds, general_ms: +med(a).toFixed(3), sample_tokens_ms: +med(b).toFixed(3), ratio: +(med(b) / med(a)).toFixed(3), indices_equal: true };
console.error(`${l} tokens × ${V} codes, top-k ${k}: general path ${row.general_ms} ms, sampleTokens ${row.sample_tokens_ms} ms (${row.ratio}×), same indices`);
console.log(JSON.stringify(row));
