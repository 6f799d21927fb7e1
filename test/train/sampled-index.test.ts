// The diffusion target's index sampled inside the training graph (diff_index "sampled", the
// official training's rule, hart-spec §4.2):
//   - sampleIndexInGraph = a plain TypeScript reading of the official sample_with_top_k_top_p_
//     (top-k keeps logits ≥ the k-th largest; top-p removes the ascending-sorted tail whose
//     cumulative probability is ≤ 1 − p) followed by the Gumbel-max draw, index for index;
//   - the transformer's training graph in that mode (the fixture model) samples from its own
//     last-scale logits, and its diffusion loss equals the ground-truth mode's fed with the sampled
//     indices' codebook rows: the only change is which index the head is conditioned on and corrects;
//   - the recipe field transformer.diff_index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emitOnnx, Graph } from '../../src/graph/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { hostTensor, type HostTensor } from '../../src/runtime/host-tensor.ts';
import { sampleIndexInGraph } from '../../src/train/sampled-index.ts';
import { buildTransformerTrainGraph } from '../../src/train/transformer-train.ts';
import { hartDims, lastScaleKeep, trainingFeeds } from '../../src/models/transformer/index.ts';
import { Philox } from '../../src/random/philox.ts';
import { fixtureDir } from '../fixtures.ts';
import { float32, tensor } from '../tables/reference.ts';
import { fixtureModel } from '../models/transformer/helpers.ts';
import { mulberry32 } from '../mulberry32.ts';
import { parseRecipe, stageFingerprint } from '../../src/train/recipe.ts';

const runtime = nodeRuntime({ threads: 1 });

/** The official filter (VAR/HART sample_with_top_k_top_p_) on one row, then argmax(kept + g). */
function reference(logits: Float32Array, g: Float32Array, topK: number, topP: number): number {
  const V = logits.length;
  const x = Array.from(logits);
  const kth = [...x].sort((a, b) => b - a)[Math.min(topK, V) - 1];
  const kept = x.map((v) => v >= kth);
  if (topP > 0) {
    const order = x.map((_, i) => i).filter((i) => kept[i]).sort((a, b) => x[a] - x[b]); // ascending
    const m = Math.max(...order.map((i) => x[i]));
    const z = order.reduce((s, i) => s + Math.exp(x[i] - m), 0);
    let cum = 0;
    order.forEach((i, j) => {
      cum += Math.exp(x[i] - m) / z;
      if (cum <= 1 - topP && j < order.length - 1) kept[i] = false;
    });
  }
  let best = -1, bestV = -Infinity;
  for (let i = 0; i < V; i++) if (kept[i] && x[i] + g[i] > bestV) { bestV = x[i] + g[i]; best = i; }
  return best;
}

test('sampleIndexInGraph = the official top-k / top-p filter and a Gumbel-max draw, row for row', async () => {
  const N = 400, V = 50;
  const rnd = mulberry32(11);
  const logits = Float32Array.from({ length: N * V }, (_, i) => (rnd() - 0.5) * (2 + 6 * ((i / V) % 4 === 0 ? 1 : rnd())));
  const gumbel = new Philox(5).gumbel(1, 0, N * V);
  for (const [topK, topP] of [[20, 0.9], [50, 0.96], [7, 0], [600, 0.5]] as const) {
    const g = new Graph();
    const l = g.input('logits', 'float32', ['N', V]);
    const u = g.input('gumbel', 'float32', ['N', V]);
    const s = await runtime.load(emitOnnx({ outputs: { idx: sampleIndexInGraph(l, u, V, topK, topP) } }));
    const r = await s.run({ logits: hostTensor(logits, [N, V]), gumbel: hostTensor(gumbel, [N, V]) });
    const got = Array.from(r.idx.data as BigInt64Array, Number);
    const want = Array.from({ length: N }, (_, n) => reference(logits.subarray(n * V, (n + 1) * V), gumbel.subarray(n * V, (n + 1) * V), topK, topP));
    const wrong = got.filter((v, n) => v !== want[n]).length;
    assert.equal(wrong, 0, `top-k ${topK} top-p ${topP}: ${wrong} of ${N} rows differ`);
    // the filter matters: without it some draws would land elsewhere
    if (topK < V || topP > 0) {
      const unfiltered = Array.from({ length: N }, (_, n) => reference(logits.subarray(n * V, (n + 1) * V), gumbel.subarray(n * V, (n + 1) * V), V, 0));
      assert.ok(unfiltered.some((v, n) => v !== want[n]), `top-k ${topK} top-p ${topP} never changed a draw`);
    }
  }
});

test('training graph, diff_index "sampled": the diffusion head is conditioned on (and corrects) an index drawn from the model\'s own logits', async () => {
  const { cfg, store } = fixtureModel();
  const d = hartDims(cfg);
  const run = 'train_masked', Cv = 8, V = 64, B = 2;
  const orders = [tensor(`rng.${run}.00.perm`).data, tensor(`rng.${run}.01.perm`).data];
  const keep = lastScaleKeep(orders, tensor(`${run}.mask_rate`).data[0], d.lastScaleTokens);
  const K = keep[0].filter(Boolean).length;
  const pos = tensor('ctx.context_position_ids').data;
  const f = trainingFeeds(d, Cv, {
    context: float32('ctx.context'), contextPositionIds: [Array.from(pos.subarray(0, 8)), Array.from(pos.subarray(8, 16))],
    x_BLCv: float32('tf.x_BLCv_wo_first_l'), keep,
  }) as Record<string, HostTensor>;
  const Limg = f.x_BLCv.shape[1];
  const codebook = readSafetensors(new Uint8Array(readFileSync(join(fixtureDir(), 'tokenizer', 'model.safetensors'))), 'tokenizer')
    .get('vae.quantize.embedding.weight')!.data as Float32Array;
  const rest = float32('tok.f_rest_wo_last_discrete'); // [B, 64, Cv]
  const target = new BigInt64Array(B * (1 + Limg));
  const restK = new Float32Array(B * K * Cv);
  const rowsOf = (idx: ArrayLike<number>) => {
    const e = new Float32Array(B * K * Cv), res = new Float32Array(B * K * Cv);
    for (let r = 0; r < B * K; r++) {
      for (let c = 0; c < Cv; c++) {
        e[r * Cv + c] = codebook[idx[r] * Cv + c];
        res[r * Cv + c] = restK[r * Cv + c] - e[r * Cv + c];
      }
    }
    return { last_embed: hostTensor(e, [B, K, Cv]), last_residual: hostTensor(res, [B, K, Cv]) };
  };
  const gtLast: number[] = [];
  for (let b = 0; b < B; b++) {
    let o = b * (1 + Limg), k = 0;
    for (let si = 0; si < 6; si++) for (const v of tensor(`tok.idx.s${si}`).data.subarray(b * (d.patchNums[si] ** 2), (b + 1) * (d.patchNums[si] ** 2))) target[o++] = BigInt(v);
    for (let t = 0; t < 64; t++) {
      if (!keep[b][t]) continue;
      const code = Number(tensor('tok.idx.s6').data[b * 64 + t]);
      target[o++] = BigInt(code);
      gtLast.push(code);
      restK.set(rest.subarray((b * 64 + t) * Cv, (b * 64 + t + 1) * Cv), (b * K + k) * Cv);
      k++;
    }
  }
  const common = {
    context: f.context, cond_keep: hostTensor(new Float32Array([1, 1]), [B]),
    x_BLCv: f.x_BLCv, lvl: f.lvl, rope_cos: f.rope_cos, rope_sin: f.rope_sin,
    target: hostTensor(target, [B, 1 + Limg], 'int64'),
    diff_t: hostTensor(BigInt64Array.from(tensor(`rng.${run}.03.randint`).data, (v) => BigInt(v)), [4, B, K], 'int64'),
    diff_noise: hostTensor(float32(`rng.${run}.04.randn`), [4, B, K, Cv]),
  };
  const sampled = buildTransformerTrainGraph(cfg, null, store, { Cvae: Cv, vocabSize: V, keptLast: K, context: 'input', withLogits: true, diffIndex: 'sampled' });
  const sSampled = await runtime.load(emitOnnx({ outputs: { loss: sampled.loss, ...sampled.extras } }));
  const gumbel = new Philox(9).gumbel(3, 0, B * K * V);
  const r = await sSampled.run({ ...common, ...rowsOf(gtLast), diff_gumbel: hostTensor(gumbel, [B, K, V]), codebook: hostTensor(codebook, [V, Cv]) });
  const idx = Array.from(r.diff_idx.data as BigInt64Array, Number);
  // the draw follows the graph's own last-scale logits (top-k clipped to the 64 codes, top-p 0.96)
  const logits = r.logits.data as Float32Array;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const row = (b * (1 + Limg) + 1 + Limg - K + k) * V;
      assert.equal(idx[b * K + k], reference(logits.subarray(row, row + V), gumbel.subarray((b * K + k) * V, (b * K + k + 1) * V), 600, 0.96));
    }
  }
  const match = idx.filter((v, i) => v === gtLast[i]).length / idx.length;
  assert.ok(Math.abs((r.idx_match.data as Float32Array)[0] - match) < 1e-6);
  assert.ok(match < 1, 'a random model drew every ground-truth index');
  // the same loss as the ground-truth mode fed with the sampled indices' rows
  const gt = buildTransformerTrainGraph(cfg, null, store, { Cvae: Cv, vocabSize: V, keptLast: K, context: 'input' });
  const sGt = await runtime.load(emitOnnx({ outputs: { loss: gt.loss, ...gt.extras } }));
  const viaGt = await sGt.run({ ...common, ...rowsOf(idx) });
  const a = (r.diff.data as Float32Array)[0], b2 = (viaGt.diff.data as Float32Array)[0];
  assert.ok(Math.abs(a - b2) <= 1e-6 * Math.abs(b2), `diffusion loss ${a} vs ${b2}`);
  assert.equal((r.ce.data as Float32Array)[0], (viaGt.ce.data as Float32Array)[0]);
  const withGt = await sGt.run({ ...common, ...rowsOf(gtLast) });
  assert.notEqual((withGt.diff.data as Float32Array)[0], a, 'the sampled indices changed nothing');
});

test('recipe: transformer.diff_index parses ("ground-truth" by default, "sampled"), rejects other values, and its default leaves the fingerprint as before', () => {
  const base = JSON.parse(readFileSync('recipes/default-18.json', 'utf8'));
  const r0 = parseRecipe(base);
  assert.equal(r0.transformer.diff_index, 'ground-truth');
  assert.equal(JSON.stringify(stageFingerprint(r0, 'transformer')).includes('diff_index'), false);
  assert.deepEqual(stageFingerprint(parseRecipe({ ...base, transformer: { ...base.transformer, diff_index: 'ground-truth' } }), 'transformer'), stageFingerprint(r0, 'transformer'));
  const r1 = parseRecipe({ ...base, transformer: { ...base.transformer, diff_index: 'sampled' } });
  assert.equal(r1.transformer.diff_index, 'sampled');
  assert.notDeepEqual(stageFingerprint(r1, 'transformer'), stageFingerprint(r0, 'transformer'));
  assert.deepEqual(stageFingerprint(r1, 'tokenizer'), stageFingerprint(r0, 'tokenizer'));
  assert.throws(() => parseRecipe({ ...base, transformer: { ...base.transformer, diff_index: 'gt' } }), /transformer\.diff_index must be "ground-truth" or "sampled", got "gt"/);
});
