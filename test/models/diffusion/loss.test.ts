// DiffLoss.forward against the official training forward (fixture train_full / train_masked
// .diff_loss), with its inputs rebuilt in float64 from the fixture: the condition
// z = decoder_norm(hidden + word_embed(codebook[idx])) of the kept last-scale tokens, the target
// f_rest_wo_last_discrete − codebook[idx], rows repeated ×4, and the recorded timesteps and noise.
// Then the gradient: the vb term reaches only the variance half of the output (mean detached).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, emitOnnx, grad } from '../../../src/graph/index.ts';
import { Params } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { forwardDiffLoss } from '../../../src/models/diffusion/index.ts';
import { float32, tensor } from '../../tables/reference.ts';
import { llmWeights, tinyConfig } from './weights.ts';

const runtime = nodeRuntime({ threads: 2 });
const B = 2, TOKENS = 64, C = 64, CV = 8, CTX = 8, L = 155;

/** z [B, kept, C] and target [B, kept, Cvae] of a training run, in float64 math (rounded to float32). */
function rebuild(run: string): { z: Float32Array; target: Float32Array; kept: number } {
  const keptMask = tensor(`${run}.kept_last_scale`).data;
  const hidden = tensor(`${run}.hidden_last_layer`);
  const idx = tensor('tok.idx.s6').data;
  const fRest = tensor('tok.f_rest_wo_last_discrete').data; // [B, 64, Cvae]
  const codebook = tensor('vae.quantize.embedding.weight', 'tokenizer/model.safetensors').data;
  const W = tensor('word_embed.weight', 'llm/model.safetensors').data; // [C, Cvae]
  const bias = tensor('word_embed.bias', 'llm/model.safetensors').data;
  const normW = tensor('decoder_norm.weight', 'llm/model.safetensors').data;
  const S = hidden.shape[1];
  const first = CTX + L - 1 - TOKENS; // HARTForT2I.forward: x_BLC[:, L + context_token - 1 - last_level_pns:]
  const kept = S - first;
  const z = new Float32Array(B * kept * C), target = new Float32Array(B * kept * CV);
  for (let b = 0; b < B; b++) {
    const toks = [...Array(TOKENS).keys()].filter((k) => keptMask[b * TOKENS + k]);
    assert.equal(toks.length, kept);
    toks.forEach((tok, k) => {
      const e = codebook.subarray(idx[b * TOKENS + tok] * CV, (idx[b * TOKENS + tok] + 1) * CV);
      const h = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let acc = bias[c];
        for (let j = 0; j < CV; j++) acc += W[c * CV + j] * e[j];
        h[c] = hidden.data[(b * S + first + k) * C + c] + acc;
      }
      const rms = 1 / Math.sqrt(h.reduce((s, v) => s + v * v, 0) / C + 1e-6);
      for (let c = 0; c < C; c++) z[(b * kept + k) * C + c] = h[c] * rms * normW[c];
      for (let j = 0; j < CV; j++) target[(b * kept + k) * CV + j] = fRest[(b * TOKENS + tok) * CV + j] - e[j];
    });
  }
  return { z, target, kept };
}

function lossGraph() {
  const cfg = tinyConfig();
  const g = new Graph();
  const M = `${cfg.diffusion_batch_mul}*B*L`;
  const z = g.input('z', 'float32', ['B', 'L', C]);
  const target = g.input('target', 'float32', ['B', 'L', CV]);
  const t = g.input('t', 'int64', [M]);
  const noise = g.input('noise', 'float32', [M, CV]);
  const terms = forwardDiffLoss(new Params(g, llmWeights(), 'diffloss'), cfg, z, target, t, noise);
  return { g, terms };
}

for (const run of ['train_full', 'train_masked']) {
  test(`DiffLoss.forward matches ${run}.diff_loss`, async () => {
    const { terms } = lossGraph();
    const s = await runtime.load(emitOnnx({ outputs: { loss: terms.loss } }));
    const { z, target, kept } = rebuild(run);
    const t = tensor(`rng.${run}.03.randint`).data;
    assert.equal(t.length, 4 * B * kept);
    const out = await s.run({
      z: { dtype: 'float32', shape: [B, kept, C], data: z },
      target: { dtype: 'float32', shape: [B, kept, CV], data: target },
      t: { dtype: 'int64', shape: [t.length], data: BigInt64Array.from(t, (v) => BigInt(v)) },
      noise: { dtype: 'float32', shape: [t.length, CV], data: float32(`rng.${run}.04.randn`) },
    });
    const got = (out.loss.data as Float32Array)[0], want = float32(`${run}.diff_loss`)[0];
    console.log(`${run}: diff_loss ${got} vs official ${want} (|Δ| ${Math.abs(got - want).toExponential(2)})`);
    assert.ok(Math.abs(got - want) < 1e-5 * Math.max(1, Math.abs(want)));
  });
}

test('the vb term trains only the variance half: gradients of final_layer.linear', async () => {
  const { g, terms } = lossGraph();
  const w = g.params.find((p) => p.name === 'diffloss.net.final_layer.linear.weight')!;
  const [gLoss] = grad(terms.loss, [w]);
  const [gMse] = grad(terms.mse.mean([0]), [w]);
  const [gVb] = grad(terms.vb.mean([0]), [w]);
  const s = await runtime.load(emitOnnx({ outputs: { gLoss, gMse, gVb } }));
  const { z, target, kept } = rebuild('train_masked');
  const t = tensor('rng.train_masked.03.randint').data;
  const out = await s.run({
    z: { dtype: 'float32', shape: [B, kept, C], data: z },
    target: { dtype: 'float32', shape: [B, kept, CV], data: target },
    t: { dtype: 'int64', shape: [t.length], data: BigInt64Array.from(t, (v) => BigInt(v)) },
    noise: { dtype: 'float32', shape: [t.length, CV], data: float32('rng.train_masked.04.randn') },
  });
  const [gl, gm, gv] = [out.gLoss.data, out.gMse.data, out.gVb.data] as Float32Array[];
  const W = 64, eps = CV * W; // rows 0..Cvae-1 of the [2·Cvae, W] weight produce eps
  for (let i = 0; i < eps; i++) assert.equal(gv[i], 0, 'vb sends no gradient to the eps outputs');
  for (let i = eps; i < gm.length; i++) assert.equal(gm[i], 0, 'mse sends no gradient to the variance outputs');
  assert.ok(gv.subarray(eps).some((v) => v !== 0));
  for (let i = 0; i < gl.length; i++) assert.ok(Math.abs(gl[i] - gm[i] - gv[i]) <= 1e-6 * (1 + Math.abs(gl[i])));
});
