// Checks src/tables/resample.ts on the official tokenizer tensors of the fixture: area-down of f_hat
// gives the next AR input (infer.s*.next_input, tf.x_BLCv_wo_first_l), and bicubic-up of codebook
// embeddings followed by the φ convs (float64 3×3 conv written here) rebuilds f_hat scale by scale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { areaMatrix, bicubicMatrix, resizePlanes } from '../../src/tables/resample.ts';
import { phiIndexPerScale } from '../../src/tables/schedules.ts';
import { tensor, maxAbsDiff } from './reference.ts';

const PATCH_NUMS = [1, 2, 3, 4, 5, 6, 8];
const B = 2, C = 8, H = 8;
const TOK = 'tokenizer/model.safetensors';

const area = (f_BChw: Float64Array, pn: number) => resizePlanes(f_BChw, B * C, H, H, areaMatrix(H, pn), pn, areaMatrix(H, pn), pn);

test('area-down of f_hat reproduces the next AR input (infer.s*.next_input)', () => {
  for (let si = 0; si < PATCH_NUMS.length - 1; si++) {
    const pn = PATCH_NUMS[si + 1];
    const f_hat = tensor(`infer.s${si}.f_hat`);
    const next = tensor(`infer.s${si}.next_input`);
    assert.deepEqual(next.shape, [B, C, pn, pn]);
    const d = maxAbsDiff(area(f_hat.data, pn), next.data);
    assert.ok(d < 1e-6, `s${si}: ${d}`);
  }
});

test('teacher-forcing input = area-down of the cumulative f_hat, token-major (tf.x_BLCv_wo_first_l)', () => {
  const ref = tensor('tf.x_BLCv_wo_first_l'); // [B, 154, C]
  const L = ref.shape[1];
  const got = new Float64Array(B * L * C);
  let l0 = 0;
  for (let si = 0; si < PATCH_NUMS.length - 1; si++) {
    const pn = PATCH_NUMS[si + 1];
    const x = area(tensor(`tok.var_fhat.s${si}`).data, pn); // [B, C, pn, pn]
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++)
        for (let t = 0; t < pn * pn; t++) got[(b * L + l0 + t) * C + c] = x[(b * C + c) * pn * pn + t];
    l0 += pn * pn;
  }
  assert.equal(l0, L);
  const d = maxAbsDiff(got, ref.data);
  assert.ok(d < 1e-6, `${d}`);
});

/** φ(h) = 0.5·h + 0.5·conv3x3(h) (padding 1), float64, on [B, C, H, H]. */
function phi(h: Float64Array, k: number): Float64Array {
  const w = tensor(`vae.quantize.quant_resi.qresi_ls.${k}.weight`, TOK).data; // [C, C, 3, 3]
  const bias = tensor(`vae.quantize.quant_resi.qresi_ls.${k}.bias`, TOK).data;
  const out = new Float64Array(h.length);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < C; o++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < H; x++) {
          let s = bias[o];
          for (let i = 0; i < C; i++)
            for (let ky = 0; ky < 3; ky++)
              for (let kx = 0; kx < 3; kx++) {
                const yy = y + ky - 1, xx = x + kx - 1;
                if (yy < 0 || yy >= H || xx < 0 || xx >= H) continue;
                s += w[((o * C + i) * 3 + ky) * 3 + kx] * h[((b * C + i) * H + yy) * H + xx];
              }
          const at = ((b * C + o) * H + y) * H + x;
          out[at] = 0.5 * h[at] + 0.5 * s;
        }
  return out;
}

/** bicubic-up of the codebook embeddings of idx [B, pn²] to [B, C, H, H]. */
function upsampledEmbedding(idx: Float64Array, pn: number): Float64Array {
  const emb = tensor('vae.quantize.embedding.weight', TOK).data; // [V, C]
  const h = new Float64Array(B * C * pn * pn);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < pn * pn; t++)
      for (let c = 0; c < C; c++) h[(b * C + c) * pn * pn + t] = emb[idx[b * pn * pn + t] * C + c];
  const M = bicubicMatrix(pn, H);
  return resizePlanes(h, B * C, pn, pn, M, H, M, H);
}

test('bicubic-up + φ rebuilds f_hat scale by scale (tok.var_fhat.s*, infer.s*.f_hat)', () => {
  const phiIdx = phiIndexPerScale(PATCH_NUMS.length);
  for (const run of ['tok', 'infer'] as const) {
    const f_hat = new Float64Array(B * C * H * H);
    const last = run === 'tok' ? PATCH_NUMS.length : PATCH_NUMS.length - 1;
    for (let si = 0; si < last; si++) {
      const idx = tensor(run === 'tok' ? `tok.idx.s${si}` : `infer.s${si}.idx`).data;
      const h = phi(upsampledEmbedding(idx, PATCH_NUMS[si]), phiIdx[si]);
      for (let i = 0; i < f_hat.length; i++) f_hat[i] += h[i];
      const ref = tensor(run === 'tok' ? `tok.var_fhat.s${si}` : `infer.s${si}.f_hat`).data;
      const d = maxAbsDiff(f_hat, ref);
      assert.ok(d < 1e-6, `${run} s${si}: ${d}`); // official float32 accumulation: ≤ 3.5e-7 observed
    }
  }
});
