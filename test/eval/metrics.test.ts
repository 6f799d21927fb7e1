// The evaluation metrics against independent references: PSNR and SSIM on images with closed-form
// values (constant offsets, constant images) and a direct float64 2-D-window SSIM; KID against a
// hand-computed case, and identical vs shifted sets; retrieval ranks on a constructed gallery;
// Lab against published sRGB → L*a*b* values; the plot's helpers and a rendered log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageCHW } from '../../src/io/png.ts';
import {
  features, gaussianWindow, kid, labFeature, mmd2Unbiased, psnr, retrievalRanks, rgbFeature, srgbToLab, ssim, topK,
} from '../../src/eval/metrics.ts';
import { ema, niceTicks, plotLog, seriesOfLog } from '../../src/eval/plot.ts';
import { mulberry32 } from '../mulberry32.ts';

function image(W: number, H: number, f: (c: number, y: number, x: number) => number): ImageCHW {
  const data = new Float32Array(3 * W * H);
  for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[c * W * H + y * W + x] = f(c, y, x);
  return { width: W, height: H, data };
}

test('PSNR: a constant offset δ gives 10·log10(1/δ²); identical images give Infinity', () => {
  const rnd = mulberry32(1);
  const a = image(16, 16, () => 0.2 + 0.6 * rnd());
  const b: ImageCHW = { ...a, data: a.data.map((v) => v + 0.1) };
  assert.ok(Math.abs(psnr(a, b) - 20) < 1e-4, `${psnr(a, b)}`);
  const c: ImageCHW = { ...a, data: a.data.map((v) => v - 0.01) };
  assert.ok(Math.abs(psnr(a, c) - 40) < 1e-3);
  assert.equal(psnr(a, a), Infinity);
});

/** SSIM by its definition with an explicit 2-D Gaussian window at every valid position, float64. */
function ssimDirect(a: ImageCHW, b: ImageCHW): number {
  const H = a.height, W = a.width, k = 11, g = gaussianWindow(11, 1.5);
  const C1 = 0.01 ** 2, C2 = 0.03 ** 2;
  let total = 0;
  for (let c = 0; c < 3; c++) {
    let s = 0, n = 0;
    for (let y0 = 0; y0 + k <= H; y0++) {
      for (let x0 = 0; x0 + k <= W; x0++) {
        let mx = 0, my = 0;
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
          const w = g[i] * g[j], p = c * H * W + (y0 + i) * W + x0 + j;
          mx += w * a.data[p]; my += w * b.data[p];
        }
        let vx = 0, vy = 0, cxy = 0;
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
          const w = g[i] * g[j], p = c * H * W + (y0 + i) * W + x0 + j;
          vx += w * (a.data[p] - mx) ** 2; vy += w * (b.data[p] - my) ** 2; cxy += w * (a.data[p] - mx) * (b.data[p] - my);
        }
        s += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        n++;
      }
    }
    total += s / n;
  }
  return total / 3;
}

test('SSIM: 1 for identical images, the closed form for constant images, equal to a direct 2-D evaluation', () => {
  const rnd = mulberry32(2);
  const a = image(20, 18, () => rnd());
  assert.ok(Math.abs(ssim(a, a) - 1) < 1e-12);
  // constant images: SSIM = (2ab + C1) / (a² + b² + C1) (the contrast-structure factor is C2/C2)
  const p = image(16, 16, () => 0.5), q = image(16, 16, () => 0.6);
  const want = (2 * 0.5 * 0.6 + 1e-4) / (0.25 + 0.36 + 1e-4);
  assert.ok(Math.abs(ssim(p, q) - want) < 1e-6, `${ssim(p, q)} vs ${want}`);
  // a noisy, blurred pair against the definition
  const b = image(20, 18, (c, y, x) => Math.min(1, Math.max(0, a.data[c * 360 + y * 20 + x] * 0.7 + 0.2 * rnd())));
  const got = ssim(a, b), ref = ssimDirect(a, b);
  assert.ok(Math.abs(got - ref) < 1e-9, `${got} vs ${ref}`);
  assert.ok(got > 0 && got < 0.95);
  assert.throws(() => ssim(image(8, 8, () => 0), image(8, 8, () => 0)), /larger than/);
});

test('KID: the unbiased MMD² of a hand-computed case; ≈ 0 for samples of one distribution, large for a shift', () => {
  // x = {0, 1}, y = {1, 2}, d = 1, k = (xy + 1)³: E_xx = k(0,1) = 1, E_yy = k(1,2) = 27,
  // E_xy = (k(0,1) + k(0,2) + k(1,1) + k(1,2)) / 4 = (1 + 1 + 8 + 27) / 4 = 9.25 → 1 + 27 − 18.5 = 9.5
  assert.ok(Math.abs(mmd2Unbiased(features([[0], [1]]), features([[1], [2]])) - 9.5) < 1e-12);
  const rnd = mulberry32(3);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const sampleSet = (n: number, shift: number) => features(Array.from({ length: n }, () => Array.from({ length: 8 }, () => gauss() + shift)));
  const x = sampleSet(200, 0), y = sampleSet(200, 0), z = sampleSet(200, 1);
  const same = kid(x, y, { subsets: 5, subsetSize: 100 }), shifted = kid(x, z, { subsets: 5, subsetSize: 100 });
  assert.ok(Math.abs(same.mean) < 0.05, `same distribution: ${same.mean}`);
  // a mean shift of 1 in each of 8 dims: the cubic kernel's MMD² is ≫ the sampling noise
  assert.ok(shifted.mean > 0.5 && shifted.mean > 20 * Math.abs(same.mean), `shifted: ${shifted.mean}`);
  // whole sets: exactly the unbiased MMD²
  assert.equal(kid(x, z, { subsetSize: 1000 }).mean, mmd2Unbiased(x, z));
});

test('retrieval ranks: nearest member per group, ties count as found', () => {
  // gallery: group 0 = {(0,0), (10,0)} (a base emoji and its skin-tone variant), group 1 = (5,0), group 2 = (0,5)
  const gallery = features([[0, 0], [10, 0], [5, 0], [0, 5]]);
  const groups = [0, 0, 1, 2];
  const q = features([[9, 0], [4, 0], [0, 4], [0, 2.5]]);
  // (9,0): group 0 via its variant (1) first; (4,0): group 1 (1) then group 0 (4), true = 0 → 2;
  // (0,4): true 2 at distance 1 → 1; (0, 2.5): groups 0 and 2 tie at 2.5 → 1 for either
  assert.deepEqual(retrievalRanks(q, gallery, groups, [0, 0, 2, 2]), [1, 2, 1, 1]);
  assert.deepEqual(retrievalRanks(features([[0, 2.5], [6, 0]]), gallery, groups, [0, 2]), [1, 3]);
  assert.equal(topK([1, 2, 1, 6], 1), 0.5);
  assert.equal(topK([1, 2, 1, 6], 5), 0.75);
  assert.throws(() => retrievalRanks(q, gallery, groups, [0, 0, 3, 2]), /not in the gallery/);
});

test('Lab: published sRGB → CIE L*a*b* (D65) values; labFeature and rgbFeature average cells', () => {
  const close = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]) < tol);
  assert.ok(close(srgbToLab(1, 1, 1), [100, 0, 0], 1e-3));
  assert.ok(close(srgbToLab(1, 0, 0), [53.2408, 80.0925, 67.2032], 2e-3), `${srgbToLab(1, 0, 0)}`);
  assert.ok(close(srgbToLab(0, 0, 1), [32.2970, 79.1875, -107.8602], 2e-3), `${srgbToLab(0, 0, 1)}`);
  assert.ok(close(srgbToLab(0, 0, 0), [0, 0, 0], 1e-9));
  // left half red, right half white: cells at 8×8 are pure colours
  const im = image(64, 64, (c, _y, x) => (x < 32 ? [1, 0, 0][c] : 1));
  const f = labFeature(im, 8);
  assert.equal(f.length, 192);
  assert.ok(close([...f.subarray(0, 3)], srgbToLab(1, 0, 0), 1e-9));
  assert.ok(close([...f.subarray(7 * 3, 8 * 3)], [100, 0, 0], 1e-3));
  const g = rgbFeature(im, 8);
  assert.deepEqual([...g.subarray(0, 3)], [1, 0, 0]);
  assert.deepEqual([...g.subarray(7 * 3, 8 * 3)], [1, 1, 1]);
  // a 2×2 block average: one cell of a 16×16 image at side 8 averages 4 pixels
  const tiny = image(16, 16, (c, y, x) => (c === 0 && x === 0 && y === 0 ? 1 : 0));
  assert.equal(rgbFeature(tiny, 8)[0], 0.25);
});

test('plot: EMA, ticks, series per stage, and a rendered log that is not blank', () => {
  assert.deepEqual(ema([1, 2, 3], 0), [1, 2, 3]);
  assert.ok(ema([5, 5, 5, 5], 0.9).every((v) => Math.abs(v - 5) < 1e-12));
  assert.deepEqual(niceTicks(0, 1, 4), [0, 0.5, 1]);
  assert.deepEqual(niceTicks(0.13, 0.61, 4), [0.2, 0.4, 0.6]);
  const records = [
    ...Array.from({ length: 30 }, (_, s) => ({ stage: 'tokenizer', step: s, loss: 1 / (s + 1), lr: 1e-3, metrics: { rec: 0.5 / (s + 1), codes_used: 10 + s } })),
    ...Array.from({ length: 10 }, (_, s) => ({ stage: 'transformer', step: s, loss: 5 - s * 0.1, metrics: { ce: 4 } })),
  ];
  const g = seriesOfLog(records);
  assert.deepEqual(g.map((x) => [x.stage, x.series.map((s) => s.name)]), [['tokenizer', ['loss', 'rec', 'codes_used', 'lr']], ['transformer', ['loss', 'ce']]]);
  const r = plotLog(records, { columns: 4, title: 'test' });
  assert.equal(r.width, 4 * 280 + 10);
  let blue = 0;
  for (let i = 0; i < r.width * r.height; i++) if (r.rgb[i * 3] === 31 && r.rgb[i * 3 + 1] === 119 && r.rgb[i * 3 + 2] === 180) blue++;
  assert.ok(blue > 500, `${blue} curve pixels`);
  // a long run's log (300k steps) plots too: its range is not taken by spreading it into Math.min
  const long = Array.from({ length: 300_000 }, (_, s) => ({ stage: 'transformer', step: s, loss: 5 / (1 + s / 1000) }));
  const big = plotLog(long);
  let curve = 0;
  for (let i = 0; i < big.width * big.height; i++) if (big.rgb[i * 3] === 31 && big.rgb[i * 3 + 1] === 119 && big.rgb[i * 3 + 2] === 180) curve++;
  assert.ok(curve > 100, `${curve} curve pixels for the 300k-step log`);
});
