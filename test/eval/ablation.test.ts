// The discrete-only ablation (generate option residualDiffusion: false) and the tokenizer's two
// reconstruction paths, on the parity fixture (random weights, official layout):
//   - the ablation changes the image, is deterministic by seed, never runs the diffusion sampler,
//     and equals the full loop with a diffusion that returns a zero residual;
//   - the discrete-only reconstruction equals the generation loop's own f_hat update
//     (nextAutoregressiveInput over the encoded indices) decoded; the hybrid one is decode(f);
//   - the loop's diagnostic hooks: forceTokens (teacher forcing, scripts/forced-scales.ts) with
//     every scale forced and the residual off draws that discrete reconstruction; temperatureAt and
//     guidanceAt (per-scale overrides).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureDir } from '../fixtures.ts';
import { loadHartPipeline } from '../../src/index.node.ts';
import { mulberry32 } from '../mulberry32.ts';
import { reconstruct, toBatch, fromBatch } from '../../src/eval/tokenizer-eval.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import type { ImageCHW } from '../../src/io/png.ts';

const pipe = await loadHartPipeline(fixtureDir(), { threads: 1 });
after(() => pipe.dispose());
const prompts = ['a red circle', 'twemoji: rocket'];
const same = (a: ImageCHW[], b: ImageCHW[]) => a.every((im, i) => im.data.every((v, k) => v === b[i].data[k]));

test('residualDiffusion: false changes the image, is deterministic, skips the sampler, and equals a zero residual', async () => {
  const full = await pipe.generate(prompts, { seed: 3 });
  const off1 = await pipe.generate(prompts, { seed: 3, residualDiffusion: false });
  const off2 = await pipe.generate(prompts, { seed: 3, residualDiffusion: false });
  assert.ok(!same(full.images, off1.images), 'the ablation did not change the images');
  assert.ok(same(off1.images, off2.images), 'the ablation is not deterministic');
  assert.equal(off1.settings.residualDiffusion, false);
  assert.equal('residualDiffusion' in full.settings, false, 'default settings (and PNG metadata) must not change');
  assert.ok(same((await pipe.generate(prompts, { seed: 3, residualDiffusion: true })).images, full.images));

  const diffusion = pipe.model.diffusion;
  const sample = diffusion.sample;
  try {
    diffusion.sample = () => { throw new Error('the sampler ran'); };
    assert.ok(same((await pipe.generate(prompts, { seed: 3, residualDiffusion: false })).images, off1.images));
    // the full loop with a residual of zeros is the discrete-only image
    diffusion.sample = (async (z: Float32Array) => new Float32Array((z.length / pipe.model.transformer.dims.C) * pipe.model.tokenizer.Cvae)) as typeof sample;
    assert.ok(same((await pipe.generate(prompts, { seed: 3 })).images, off1.images));
  } finally {
    diffusion.sample = sample;
  }
  await assert.rejects(pipe.generate(prompts, { seed: 3, residualDiffusion: 'no' as unknown as boolean }), /residualDiffusion no must be true or false/);
});

test('reconstruction: discrete-only = the generation loop\'s f_hat of the encoded tokens; hybrid = decode(f)', async () => {
  const tok = pipe.model.tokenizer;
  const pns = pipe.model.transformer.dims.patchNums;
  const S = pns[pns.length - 1] * tok.downsample;
  const rnd = mulberry32(5);
  const images: ImageCHW[] = [0, 1].map(() => ({ width: S, height: S, data: Float32Array.from({ length: 3 * S * S }, () => rnd()) }));
  const r = await reconstruct(tok, images, pns);
  const enc = await tok.encode(toBatch(images), { patchNums: pns });
  let f_hat: HostTensor = { dtype: 'float32', shape: enc.f.shape, data: new Float32Array(enc.f.data.length) };
  for (let si = 0; si < pns.length; si++) f_hat = (await tok.nextAutoregressiveInput(si, f_hat, tok.idxBlToH(enc.idx_Bl[si]), { patchNums: pns })).f_hat;
  const discrete = fromBatch(await tok.decode(f_hat));
  const hybrid = fromBatch(await tok.decode(enc.f));
  const maxDiff = (a: ImageCHW[], b: ImageCHW[]) => Math.max(...a.map((im, i) => Math.max(...im.data.map((v, k) => Math.abs(v - b[i].data[k])))));
  assert.ok(maxDiff(r.discrete, discrete) < 1e-4, `discrete path differs by ${maxDiff(r.discrete, discrete)}`);
  assert.ok(maxDiff(r.hybrid, hybrid) === 0);
  assert.ok(maxDiff(r.hybrid, r.discrete) > 1e-3, 'the residual tokens changed nothing');
});

test('forceTokens (teacher forcing): every scale forced to an image\'s tokens with the residual off draws its discrete-only reconstruction, for any seed', async () => {
  const tok = pipe.model.tokenizer;
  const pns = pipe.model.transformer.dims.patchNums;
  const S = pns[pns.length - 1] * tok.downsample;
  const rnd = mulberry32(9);
  const images: ImageCHW[] = prompts.map(() => ({ width: S, height: S, data: Float32Array.from({ length: 3 * S * S }, () => rnd()) }));
  const r = await reconstruct(tok, images, pns);
  const enc = await tok.encode(toBatch(images), { patchNums: pns });
  const idx = enc.idx_Bl.map((t) => Int32Array.from(t.data as ArrayLike<number | bigint>, Number));
  const maxDiff = (a: ImageCHW[], b: ImageCHW[]) => Math.max(...a.map((im, i) => Math.max(...im.data.map((v, k) => Math.abs(v - b[i].data[k])))));
  for (const seed of [3, 4]) {
    const g = await pipe.generate(prompts, { seed, residualDiffusion: false, hooks: { forceTokens: (si) => idx[si] } });
    assert.ok(maxDiff(g.images, r.discrete) < 1e-4, `seed ${seed}: the forced image differs from the discrete reconstruction by ${maxDiff(g.images, r.discrete)}`);
  }
  // forcing only the first scales leaves the rest sampled: another seed, another image
  const part = (seed: number) => pipe.generate(prompts, { seed, residualDiffusion: false, hooks: { forceTokens: (si) => (si < 2 ? idx[si] : undefined) } });
  assert.ok(!same((await part(3)).images, (await part(4)).images));
  await assert.rejects(pipe.generate(prompts, { seed: 3, hooks: { forceTokens: () => new Int32Array(3) } }), /forceTokens: scale 0 needs 2 indices, got 3/);
  await assert.rejects(pipe.generate(prompts, { seed: 3, hooks: { forceTokens: () => Int32Array.of(0, pipe.model.transformer.dims.V) } }), /forceTokens: scale 0 has an index outside the codebook/);
});

test('temperatureAt: a per-scale temperature hook of 0 everywhere draws what temperature 0 draws; undefined keeps the options\'', async () => {
  const argmax = await pipe.generate(prompts, { seed: 3, temperature: 0 });
  assert.ok(same((await pipe.generate(prompts, { seed: 3, hooks: { temperatureAt: () => 0 } })).images, argmax.images));
  const plain = await pipe.generate(prompts, { seed: 3 });
  assert.ok(same((await pipe.generate(prompts, { seed: 3, hooks: { temperatureAt: () => undefined } })).images, plain.images));
  assert.ok(!same(plain.images, argmax.images));
});

test('guidanceAt: t 0 at every scale and for the residual diffusion draws what constant cfg 0 draws; undefined keeps the schedule', async () => {
  const unguided = await pipe.generate(prompts, { seed: 3, cfg: 0, cfgSchedule: 'constant' });
  assert.ok(same((await pipe.generate(prompts, { seed: 3, hooks: { guidanceAt: () => 0 } })).images, unguided.images));
  const plain = await pipe.generate(prompts, { seed: 3 });
  assert.ok(same((await pipe.generate(prompts, { seed: 3, hooks: { guidanceAt: () => undefined } })).images, plain.images));
  assert.ok(!same(plain.images, unguided.images));
});
