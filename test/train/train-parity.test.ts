// The training losses against the official forward (hart-parity-tiny): the tokenizer's training
// graph gives HARTAutoEncoder.forward's decoder output and VQ loss on both paths (discrete-only,
// continuous), and the transformer's training graph (context as an input, as the official model
// was trained) gives HARTForT2I.forward's logits and diffusion loss with the recorded draws;
// the cross-entropy equals a float64 log-softmax of the official logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emitOnnx } from '../../src/graph/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { MapWeightStore, type StoredTensor } from '../../src/nn/index.ts';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { hostTensor, type HostTensor } from '../../src/runtime/host-tensor.ts';
import { parseTokenizerConfig } from '../../src/models/tokenizer/index.ts';
import { buildTokenizerTrainGraph } from '../../src/train/tokenizer-train.ts';
import { buildTransformerTrainGraph } from '../../src/train/transformer-train.ts';
import { hartDims, lastScaleKeep, trainingFeeds } from '../../src/models/transformer/index.ts';
import { fixtureDir } from '../fixtures.ts';
import { float32, tensor } from '../tables/reference.ts';
import { fixtureModel, report } from '../models/transformer/helpers.ts';

const runtime = nodeRuntime({ threads: 2 });

test('tokenizer training graph = official HARTAutoEncoder.forward (decoder output and VQ loss, both paths)', async () => {
  const cfg = parseTokenizerConfig(JSON.parse(readFileSync(join(fixtureDir(), 'tokenizer', 'config.json'), 'utf8')));
  const weights = readSafetensors(new Uint8Array(readFileSync(join(fixtureDir(), 'tokenizer', 'model.safetensors'))), 'tokenizer');
  const store = new MapWeightStore(weights as unknown as Map<string, StoredTensor>);
  const tg = buildTokenizerTrainGraph(cfg, store, { resolution: 128, patchNums: [1, 2, 3, 4, 5, 6, 8], prefix: 'vae', withReconstruction: true });
  const s = await runtime.load(emitOnnx({ outputs: { rec: tg.extras.rec, vq: tg.extras.vq } }));
  const img = hostTensor(float32('tok.image'), [2, 3, 128, 128]);
  for (const [path, skip] of [['discrete', 1], ['continuous', 0]] as const) {
    const r = await s.run({ img, skip: hostTensor(new Float32Array([skip, skip]), [2]) });
    const e = report(`${path} out`, r.rec.data as Float32Array, float32(`tok.forward_${path}.out`));
    const vq = (r.vq.data as Float32Array)[0], want = float32(`tok.forward_${path}.vq_loss`)[0];
    console.log(`  ${path}: decoder output max |Δ| ${e.toExponential(2)}, vq_loss ${vq} vs ${want}`);
    assert.ok(e < 1e-3, `${path} decoder output differs by ${e}`);
    assert.ok(Math.abs(vq - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${path} vq_loss ${vq} vs ${want}`);
  }
});

test('transformer training graph = official HARTForT2I.forward (logits, diffusion loss) and float64 cross-entropy', async () => {
  const { cfg, store } = fixtureModel();
  const d = hartDims(cfg);
  for (const run of ['train_full', 'train_masked']) {
    const orders = [tensor(`rng.${run}.00.perm`).data, tensor(`rng.${run}.01.perm`).data];
    const keep = lastScaleKeep(orders, tensor(`${run}.mask_rate`).data[0], d.lastScaleTokens);
    const K = keep[0].filter(Boolean).length;
    const tg = buildTransformerTrainGraph(cfg, null, store, { Cvae: 8, vocabSize: 64, keptLast: K, context: 'input', withLogits: true });
    const s = await runtime.load(emitOnnx({ outputs: { loss: tg.loss, ...tg.extras } }));
    const pos = tensor('ctx.context_position_ids').data;
    const drop = Array.from(tensor(`rng.${run}.02.randn`).data, (v) => v < cfg.cond_drop_rate);
    const f = trainingFeeds(d, 8, {
      context: float32('ctx.context'), contextPositionIds: [Array.from(pos.subarray(0, 8)), Array.from(pos.subarray(8, 16))],
      x_BLCv: float32('tf.x_BLCv_wo_first_l'), keep,
    }) as Record<string, HostTensor>;
    // targets: every scale's ground-truth index, the last scale's kept ones; diffusion inputs likewise
    const B = 2, Limg = f.x_BLCv.shape[1];
    const target = new BigInt64Array(B * (1 + Limg));
    const emb = float32('tok.f_rest_wo_last_discrete'); // [B, 64, 8]
    const tokWeights = readSafetensors(new Uint8Array(readFileSync(join(fixtureDir(), 'tokenizer', 'model.safetensors'))), 'tokenizer');
    const codebook = tokWeights.get('vae.quantize.embedding.weight')!.data as Float32Array;
    const lastE = new Float32Array(B * K * 8), lastR = new Float32Array(B * K * 8);
    for (let b = 0; b < B; b++) {
      let o = b * (1 + Limg), k = 0;
      for (let si = 0; si < 6; si++) for (const v of tensor(`tok.idx.s${si}`).data.subarray(b * (d.patchNums[si] ** 2), (b + 1) * (d.patchNums[si] ** 2))) target[o++] = BigInt(v);
      const last = tensor('tok.idx.s6').data;
      for (let t = 0; t < 64; t++) {
        if (!keep[b][t]) continue;
        const code = Number(last[b * 64 + t]);
        target[o++] = BigInt(code);
        for (let c = 0; c < 8; c++) {
          lastE[(b * K + k) * 8 + c] = codebook[code * 8 + c];
          lastR[(b * K + k) * 8 + c] = emb[(b * 64 + t) * 8 + c] - codebook[code * 8 + c];
        }
        k++;
      }
    }
    const r = await s.run({
      context: f.context, cond_keep: hostTensor(Float32Array.from(drop, (x) => (x ? 0 : 1)), [B]),
      x_BLCv: f.x_BLCv, lvl: f.lvl, rope_cos: f.rope_cos, rope_sin: f.rope_sin,
      target: hostTensor(target, [B, 1 + Limg], 'int64'),
      last_embed: hostTensor(lastE, [B, K, 8]), last_residual: hostTensor(lastR, [B, K, 8]),
      diff_t: hostTensor(BigInt64Array.from(tensor(`rng.${run}.03.randint`).data, (v) => BigInt(v)), [4, B, K], 'int64'),
      diff_noise: hostTensor(float32(`rng.${run}.04.randn`), [4, B, K, 8]),
    });
    const eLogits = report(`${run} logits`, r.logits.data as Float32Array, float32(`${run}.logits`));
    const diff = (r.diff.data as Float32Array)[0], wantDiff = float32(`${run}.diff_loss`)[0];
    // float64 cross-entropy of the official logits
    const L = float32(`${run}.logits`), V = 64, rows = L.length / V;
    let ce = 0;
    for (let i = 0; i < rows; i++) {
      let m = -Infinity;
      for (let v = 0; v < V; v++) m = Math.max(m, L[i * V + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(L[i * V + v] - m);
      ce += m + Math.log(z) - L[i * V + Number(target[i])];
    }
    ce /= rows;
    const gotCe = (r.ce.data as Float32Array)[0];
    console.log(`  ${run}: logits max |Δ| ${eLogits.toExponential(2)}, diff_loss ${diff} vs ${wantDiff}, CE ${gotCe} vs float64 ${ce}`);
    assert.ok(eLogits < 1e-4, `${run} logits differ by ${eLogits}`);
    assert.ok(Math.abs(diff - wantDiff) <= 1e-4 * Math.abs(wantDiff), `${run} diff_loss ${diff} vs ${wantDiff}`);
    assert.ok(Math.abs(gotCe - ce) <= 1e-5 * ce, `${run} CE ${gotCe} vs ${ce}`);
    // the same compiled graph serves batch 1: sample 0 alone gives sample 0's logits
    const first = <T extends HostTensor>(t: T, n = 1): HostTensor => {
      const per = t.data.length / t.shape[0];
      return { dtype: t.dtype, shape: [n, ...t.shape.slice(1)], data: (t.data as Float32Array).subarray(0, n * per) } as HostTensor;
    };
    const perMul = (t: HostTensor) => {
      const [m, , k, ...rest] = t.shape;
      const inner = k * rest.reduce((a, b) => a * b, 1);
      const out = new (t.data.constructor as Float32ArrayConstructor)(m * inner);
      for (let i = 0; i < m; i++) out.set((t.data as Float32Array).subarray(i * 2 * inner, i * 2 * inner + inner), i * inner);
      return { dtype: t.dtype, shape: [m, 1, k, ...rest], data: out } as HostTensor;
    };
    const one = await s.run({
      context: first(f.context), cond_keep: hostTensor(Float32Array.from([drop[0] ? 0 : 1]), [1]),
      x_BLCv: first(f.x_BLCv), lvl: f.lvl, rope_cos: first(f.rope_cos), rope_sin: first(f.rope_sin),
      target: first(hostTensor(target, [B, 1 + Limg], 'int64')),
      last_embed: first(hostTensor(lastE, [B, K, 8])), last_residual: first(hostTensor(lastR, [B, K, 8])),
      diff_t: perMul(hostTensor(BigInt64Array.from(tensor(`rng.${run}.03.randint`).data, (v) => BigInt(v)), [4, B, K], 'int64')),
      diff_noise: perMul(hostTensor(float32(`rng.${run}.04.randn`), [4, B, K, 8])),
    });
    const n0 = one.logits.data.length;
    assert.ok(report(`${run} batch-1 logits`, one.logits.data as Float32Array, (r.logits.data as Float32Array).subarray(0, n0)) < 1e-5);
  }
});
