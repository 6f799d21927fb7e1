// Token sampling against the official fixture's CFG-mixed logits and against hand-made cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cfgMix, topKFilter, topPFilter, softmax, sampleTokens, argmax, gumbelSmoothMix } from '../../src/pipeline/sampling.ts';
import { categorical } from '../../src/random/philox.ts';
import { float32, tensor } from '../tables/reference.ts';

test('cfgMix reproduces the official (1+t)·cond − t·uncond in float32, every scale', () => {
  const numScales = 7, cfg = 4.5, B = 2;
  for (let si = 0; si < numScales; si++) {
    const raw = float32(`infer.s${si}.logits_raw`);
    const want = float32(`infer.s${si}.logits_cfg`);
    // the last scale reuses the stale ratio (N−2)/(N−1)
    const t = cfg * Math.min(si, numScales - 2) / (numScales - 1);
    let got = cfgMix(raw, B, t);
    if (si === 0) {
      // only the last context position predicts the 1×1 token
      const [, l, V] = tensor(`infer.s0.logits_raw`).shape;
      got = Float32Array.from({ length: B * V }, (_, i) => got[(Math.floor(i / V) * l + l - 1) * V + (i % V)]);
    }
    assert.equal(got.length, want.length);
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `si=${si} i=${i}: ${got[i]} vs ${want[i]}`);
    // the fixture forced top-k = 1: arg-max of the mixed logits is the recorded index
    const idx = tensor(`infer.s${si}.idx`).data;
    const V = 64;
    for (let r = 0; r < idx.length; r++) assert.equal(argmax(want.subarray(r * V, (r + 1) * V)), idx[r]);
  }
});

test('top-k equals the sort-based k-th value on random rows with ties, −∞ and NaN, for every k', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 200; trial++) {
    const V = 1 + Math.floor(rand() * (trial % 2 ? 90 : 700));
    const row = Float32Array.from({ length: V }, () => {
      const u = rand();
      return u < 0.1 ? -Infinity : u < 0.12 && trial % 5 === 0 ? NaN : Math.round(rand() * 20) / 4; // many ties
    });
    for (const k of [1, 2, 3, 10, 64, 65, Math.floor(V / 2), V - 1, V]) {
      const got = Float32Array.from(row), want = Float32Array.from(row);
      topKFilter(got, k);
      if (k > 0 && k < V) {
        const kth = Float32Array.from(want).sort()[V - k];
        for (let i = 0; i < V; i++) if (want[i] < kth) want[i] = -Infinity;
      }
      assert.deepEqual(Array.from(got), Array.from(want), `trial ${trial} V ${V} k ${k}`);
    }
  }
});

test('top-k keeps ties with the k-th value; top-p keeps the nucleus and always the best token', () => {
  const row = Float32Array.from([1, 5, 3, 3, 0]);
  topKFilter(row, 2);
  assert.deepEqual(Array.from(row), [-Infinity, 5, 3, 3, -Infinity]);
  const r2 = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
  topPFilter(r2, 0.7); // ascending mass 0.05, 0.20 (≤0.3 removed), 0.50 (kept)
  assert.deepEqual(Array.from(r2).map(Number.isFinite), [true, true, false, false]);
  const r3 = Float32Array.from([0, 10, 0]);
  topPFilter(r3, 0.01);
  assert.ok(Number.isFinite(r3[1]));
});

test('sampleTokens draws by inverse CDF from explicit uniforms; temperature 0 is arg-max', () => {
  const logits = Float32Array.from([0, Math.log(3), -Infinity, 0]); // probs 1/5, 3/5, 0, 1/5
  const draw = (u: number) => sampleTokens(Float32Array.from(logits), 1, 1, 4, { topK: 0, topP: 0, temperature: 1 }, () => u)[0];
  assert.equal(draw(0.1), 0);
  assert.equal(draw(0.5), 1);
  assert.equal(draw(0.85), 3);
  assert.equal(sampleTokens(Float32Array.from(logits), 1, 1, 4, { topK: 0, topP: 0, temperature: 0 }, () => 0.99)[0], 1);
  // top-k 1 leaves only the arg-max whatever the uniform
  assert.equal(sampleTokens(Float32Array.from(logits), 1, 1, 4, { topK: 1, topP: 0, temperature: 1 }, () => 0.99)[0], 1);
});

test('sampleTokens, top-k path (kept entries only) = filter, softmax over the row, categorical: same index and filtered row', () => {
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 300; trial++) {
    const V = 2 + Math.floor(rand() * (trial % 3 ? 300 : 2100));
    const kind = trial % 4;
    const row = Float32Array.from({ length: V }, () => {
      const u = rand();
      if (kind === 1) return u < 0.9 ? -Infinity : rand() * 8; // fewer finite logits than k
      if (kind === 2) return Math.round(rand() * 12) / 4; // many ties
      return (rand() - 0.5) * 30; // wide logits: tiny probabilities underflow to 0
    });
    for (const k of [1, 2, 10, 64, 65, 600, V - 1]) {
      if (k <= 0 || k >= V) continue;
      for (const temperature of [1, 0.7]) {
        for (const u of [0, rand(), rand(), 0.999999]) {
          const got = Float32Array.from(row), want = Float32Array.from(row);
          const i = sampleTokens(got, 1, 1, V, { topK: k, topP: 0, temperature }, () => u)[0];
          // the general path, spelled out
          if (temperature !== 1) for (let v = 0; v < V; v++) want[v] = Math.fround(want[v] / temperature);
          topKFilter(want, k);
          const j = categorical(softmax(want), u);
          assert.equal(i, j, `trial ${trial} V ${V} k ${k} T ${temperature} u ${u}`);
          assert.deepEqual(got, want);
        }
      }
    }
  }
  // a row with nothing finite still fails loudly, as before
  assert.throws(() => sampleTokens(Float32Array.from([-Infinity, -Infinity, -Infinity]), 1, 1, 3, { topK: 2, topP: 0, temperature: 1 }, () => 0.5), RangeError);
  assert.throws(() => sampleTokens(Float32Array.from([0, NaN, 1]), 1, 1, 3, { topK: 2, topP: 0, temperature: 1 }, () => 0.5), RangeError);
});

test('gumbelSmoothMix: a dominant logit selects its codebook row; weights follow softmax((l·(1+r)+g)/tau)', () => {
  const V = 3, C = 2;
  const codebook = Float32Array.from([1, 0, 0, 1, 5, 5]);
  const logits = Float32Array.from([0, 0, -Infinity]);
  const h = gumbelSmoothMix(logits, 1, 1, V, 0, codebook, C, () => Float32Array.from([0, Math.log(3) * 0.27, 0]));
  // tau = 0.27 at ratio 0: weights ∝ exp(0), exp(ln 3) → 1/4, 3/4; the −∞ row gets none
  assert.ok(Math.abs(h[0] - 0.25) < 1e-6 && Math.abs(h[1] - 0.75) < 1e-6, `${h}`);
});
