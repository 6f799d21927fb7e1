// Parity of the hybrid tokenizer (src/models/tokenizer) with the official PyTorch code, on the
// hart-parity-tiny fixture (tokenizer/ weights, reference entries tok.* and tf.x_BLCv_wo_first_l):
// encoder, multi-scale quantizer (VAR and hybrid paths), teacher forcing, the inference f_hat
// update, decoding and the training forward. Tolerances follow the fixture README: latents 1e-4,
// images 1e-3 (2-thread VAE convolutions differ from the 1-thread reference by up to 3e-5), indices exact.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureDir } from '../../fixtures.ts';
import { tensor, float32, maxAbsDiff } from '../../tables/reference.ts';
import { readSafetensors } from '../../../src/io/safetensors.ts';
import { MapWeightStore, type StoredTensor } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import type { HostTensor } from '../../../src/runtime/host-tensor.ts';
import { HartTokenizer, parseTokenizerConfig, phiLayout, TOKENIZER_CONFIG_DEFAULTS } from '../../../src/models/tokenizer/index.ts';

const LATENT_TOL = 1e-4;
const IMAGE_TOL = 1e-3;
/** Quantizer-only paths fed with reference f or indices (no VAE convolution): float32 rounding only. */
const QUANT_TOL = 1e-5;

const configJson = JSON.parse(readFileSync(join(fixtureDir(), 'tokenizer', 'config.json'), 'utf8'));
const config = parseTokenizerConfig(configJson);
const weights = readSafetensors(new Uint8Array(readFileSync(join(fixtureDir(), 'tokenizer', 'model.safetensors'))), 'tokenizer');
const runtime = nodeRuntime({ threads: 2 });
const tok = HartTokenizer.fromWeights(config, new MapWeightStore(weights as unknown as Map<string, StoredTensor>), runtime);
const PN = config.v_patch_nums; // [1,2,3,4,5,6,8]
const SN = PN.length;
after(() => runtime.dispose());

const ref = (name: string): HostTensor => {
  const t = tensor(name);
  return { dtype: 'float32', shape: t.shape, data: float32(name) };
};
const refIdx = (si: number): HostTensor => {
  const t = tensor(`tok.idx.s${si}`);
  return { dtype: 'int64', shape: t.shape, data: BigInt64Array.from(t.data, (v) => BigInt(v)) };
};

/** Max |a − ref| after checking the shape; reports the value. */
function close(t: { diagnostic(s: string): void }, what: string, got: HostTensor, name: string, tol: number): number {
  const r = tensor(name);
  assert.deepEqual(got.shape, r.shape, `${what}: shape`);
  const err = maxAbsDiff(got.data as Float32Array, r.data);
  t.diagnostic(`${what}: max |Δ| = ${err.toExponential(2)} (tol ${tol})`);
  assert.ok(err <= tol, `${what}: max |Δ| ${err} > ${tol}`);
  return err;
}

function sameIdx(got: HostTensor, si: number): void {
  const r = tensor(`tok.idx.s${si}`);
  assert.deepEqual(got.shape, r.shape, `idx s${si}: shape`);
  assert.equal(got.dtype, 'int64');
  assert.deepEqual(Array.from(got.data as BigInt64Array, Number), Array.from(r.data), `idx s${si} differs`);
}

test('config: official fields and defaults, unknown fields rejected, HF keys tolerated', () => {
  assert.equal(config.model_type, 'hart_autoencoder_with_disc');
  assert.equal(config.quantizer_type, 'var_hybrid');
  assert.deepEqual(config.ch_mult, [1, 1, 2, 2, 4]);
  assert.deepEqual(config.v_patch_nums, [1, 2, 3, 4, 5, 6, 8]);
  assert.equal(config.z_channels, 8);
  assert.equal(config.vocab_size, 64);
  const d = parseTokenizerConfig({ model_type: 'hart_autoencoder', transformers_version: '4.42.0', _name_or_path: 'x' });
  assert.deepEqual(d, { ...TOKENIZER_CONFIG_DEFAULTS, model_type: 'hart_autoencoder' });
  assert.throws(() => parseTokenizerConfig({ ...configJson, z_chanels: 8 }), /unknown field "z_chanels"/);
  assert.throws(() => parseTokenizerConfig({ ...configJson, model_type: 'hart_transformer_t2i' }), /model_type/);
  assert.throws(() => parseTokenizerConfig({ ...configJson, ch_mult: [1, 'x'] }), /ch_mult/);
  assert.throws(() => parseTokenizerConfig({ ...configJson, quantizer_type: 'fsq' }), /quantizer_type/);
  // norm_groups: a HART.js extension whose default is the official 32.
  assert.equal(config.norm_groups, 32);
  assert.equal(parseTokenizerConfig({ ...configJson, ch: 32, norm_groups: 8 }).norm_groups, 8);
  assert.throws(() => parseTokenizerConfig({ ...configJson, ch: 32, norm_groups: 7 }), /not divisible by the 7 GroupNorm groups \(norm_groups\)/);
  assert.throws(() => parseTokenizerConfig({ ...configJson, norm_groups: 0 }), /norm_groups/);
});

test('φ index per scale matches PhiPartiallyShared', () => {
  assert.deepEqual(phiLayout(config).indexPerScale(SN), Array.from(tensor('tok.phi_index_per_scale').data));
});

test('encoder and quant_conv', async (t) => {
  const { encoder_out, f } = await tok.imgToF(ref('tok.image'));
  close(t, 'encoder_out', encoder_out, 'tok.encoder_out', LATENT_TOL);
  close(t, 'f', f, 'tok.f', LATENT_TOL);
});

test('encode = img_to_idxBl_and_frest: exact indices, f_rest_wo_last_discrete', async (t) => {
  const r = await tok.encode(ref('tok.image'));
  assert.equal(r.idx_Bl.length, SN);
  r.idx_Bl.forEach((idx, si) => sameIdx(idx, si));
  close(t, 'f_rest_wo_last_discrete', r.f_rest_wo_last_discrete, 'tok.f_rest_wo_last_discrete', LATENT_TOL);
  close(t, 'f (encode)', r.f, 'tok.f', LATENT_TOL);
  // From the reference f, isolating the quantizer.
  const q = await tok.fToIdxBlAndFrest(ref('tok.f'));
  q.idx_Bl.forEach((idx, si) => sameIdx(idx, si));
  close(t, 'f_rest_wo_last_discrete (ref f)', q.f_rest_wo_last_discrete, 'tok.f_rest_wo_last_discrete', QUANT_TOL);
});

test('VAR f_to_idxBl_or_fhat: indices and cumulative f_hat per scale', async (t) => {
  const r = await tok.fToIdxBlOrFhat(ref('tok.f'));
  r.idx_Bl.forEach((idx, si) => sameIdx(idx, si));
  r.f_hat.forEach((fh, si) => close(t, `var_fhat.s${si}`, fh, `tok.var_fhat.s${si}`, QUANT_TOL));
});

test('get_next_autoregressive_input replays the indices (HART: no φ at the last scale)', async (t) => {
  const B = 2, C = config.z_channels, HW = PN[SN - 1];
  let f_hat: HostTensor = { dtype: 'float32', shape: [B, C, HW, HW], data: new Float32Array(B * C * HW * HW) };
  for (let si = 0; si < SN - 1; si++) {
    const r = await tok.nextAutoregressiveInput(si, f_hat, tok.idxBlToH(refIdx(si)));
    assert.deepEqual(r.next.shape, [B, C, PN[si + 1], PN[si + 1]]);
    f_hat = r.f_hat;
  }
  close(t, 'fhat_discrete_wo_last', f_hat, 'tok.fhat_discrete_wo_last', QUANT_TOL);
  const last = await tok.nextAutoregressiveInput(SN - 1, f_hat, tok.idxBlToH(refIdx(SN - 1)));
  close(t, 'fhat_hybrid_discrete', last.f_hat, 'tok.fhat_hybrid_discrete', QUANT_TOL);
  close(t, 'fhat_hybrid_discrete (next)', last.next, 'tok.fhat_hybrid_discrete', QUANT_TOL);
});

test('idxBl_to_var_input: teacher-forcing input', async (t) => {
  const idx = PN.map((_, si) => refIdx(si));
  close(t, 'x_BLCv_wo_first_l', await tok.idxBlToVarInput(idx), 'tf.x_BLCv_wo_first_l', QUANT_TOL);
  // int32 indices are accepted too; the last scale's entry is not needed.
  const idx32 = idx.slice(0, -1).map((h) => ({ ...h, dtype: 'int32' as const, data: Int32Array.from(h.data as BigInt64Array, Number) }));
  close(t, 'x_BLCv_wo_first_l (int32)', await tok.idxBlToVarInput(idx32), 'tf.x_BLCv_wo_first_l', QUANT_TOL);
});

test('fhat_to_img: decoding (clamped)', async (t) => {
  close(t, 'img_from_f', await tok.decode(ref('tok.f')), 'tok.img_from_f', IMAGE_TOL);
  close(t, 'img_from_fhat_hybrid_discrete', await tok.decode(ref('tok.fhat_hybrid_discrete')), 'tok.img_from_fhat_hybrid_discrete', IMAGE_TOL);
  close(t, 'img_reconstructed_var_last', await tok.decode(ref('tok.var_fhat.s6')), 'tok.img_reconstructed_var_last', IMAGE_TOL);
});

test('the compiled graphs serve any batch size: image 1 alone', async (t) => {
  const f = ref('tok.f'), n = f.data.length / 2;
  const f1: HostTensor = { dtype: 'float32', shape: [1, ...f.shape.slice(1)], data: (f.data as Float32Array).subarray(n) };
  const img1 = await tok.decode(f1);
  const want = tensor('tok.img_from_f').data.subarray(img1.data.length);
  const err = maxAbsDiff(img1.data as Float32Array, want);
  t.diagnostic(`img_from_f[1] decoded alone: max |Δ| = ${err.toExponential(2)}`);
  assert.ok(err <= IMAGE_TOL);
  const q = await tok.fToIdxBlAndFrest(f1);
  q.idx_Bl.forEach((idx, si) => {
    const r = tensor(`tok.idx.s${si}`).data;
    assert.deepEqual(Array.from(idx.data as BigInt64Array, Number), Array.from(r.subarray(r.length / 2)));
  });
});

test('training forward: unclamped output and vq_loss, discrete and continuous', async (t) => {
  for (const [kind, skipContinuous] of [['discrete', true], ['continuous', false]] as const) {
    const r = await tok.forward(ref('tok.image'), { skipContinuous });
    close(t, `forward_${kind}.out`, r.out, `tok.forward_${kind}.out`, IMAGE_TOL);
    const want = tensor(`tok.forward_${kind}.vq_loss`).data[0];
    const got = (r.vq_loss.data as Float32Array)[0];
    t.diagnostic(`forward_${kind}.vq_loss: ${got} vs ${want} (rel ${(Math.abs(got - want) / want).toExponential(2)})`);
    assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want) + 1e-7, `vq_loss ${got} vs ${want}`);
  }
  // The continuous decode really is unclamped and differs from the clamped image.
  const r = await tok.forward(ref('tok.image'), { skipContinuous: false });
  assert.ok((r.out.data as Float32Array).some((v) => Math.abs(v) > 1));
});
