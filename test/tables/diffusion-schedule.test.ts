// Tests for src/tables/diffusion-schedule.ts against the official float64 tables in the fixture
// (diff.table.*) and IDDPM's documented space_timesteps examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineBetas, cosineAlphaBar, spaceTimesteps, respacedBetas, diffusionTables, diffusionSchedule } from '../../src/tables/diffusion-schedule.ts';
import { tensor } from './reference.ts';

test('space_timesteps: the 8-step map and IDDPM docstring cases', () => {
  assert.deepEqual(spaceTimesteps(1000, '8'), [0, 143, 285, 428, 571, 714, 856, 999]);
  assert.deepEqual(spaceTimesteps(1000, [8]), [0, 143, 285, 428, 571, 714, 856, 999]);
  // 300 steps, sections [10,15,20]: 100-step sections strided to 10, 15 and 20 steps
  const s = spaceTimesteps(300, '10,15,20');
  assert.equal(s.length, 45);
  assert.deepEqual(s.slice(0, 10), [0, 11, 22, 33, 44, 55, 66, 77, 88, 99]);
  assert.equal(s[10], 100);
  assert.equal(s[44], 299);
  assert.deepEqual(spaceTimesteps(1000, 'ddim10'), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  assert.deepEqual(spaceTimesteps(10, '10'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Python's round() ties to even: stride 5/2 gives 0, round(2.5) = 2, 5
  assert.deepEqual(spaceTimesteps(6, '3'), [0, 2, 5]);
  assert.throws(() => spaceTimesteps(5, '6'));
});

test('cosine schedule shape', () => {
  const b = cosineBetas(1000);
  assert.equal(b.length, 1000);
  assert.equal(b[999], 0.999); // clipped
  for (let i = 1; i < 999; i++) assert.ok(b[i] > b[i - 1]);
  assert.ok(Math.abs(cosineAlphaBar(0) - Math.cos((0.008 / 1.008) * Math.PI / 2) ** 2) < 1e-16);
});

test('diffusion tables equal the official float64 tables exactly (diff.table.*)', () => {
  const sched = diffusionSchedule('8');
  assert.deepEqual(sched.timestep_map, Array.from(tensor('diff.table.timestep_map').data));
  const names = [
    'betas', 'alphas_cumprod', 'alphas_cumprod_prev', 'sqrt_recip_alphas_cumprod', 'sqrt_recipm1_alphas_cumprod',
    'posterior_variance', 'posterior_log_variance_clipped', 'posterior_mean_coef1', 'posterior_mean_coef2', 'log_betas',
  ] as const;
  for (const name of names) {
    const ref = tensor(`diff.table.${name}`);
    assert.deepEqual(ref.shape, [8]);
    assert.deepEqual(Array.from(sched[name]), Array.from(ref.data), name);
  }
  // train_diffusion's 1000 betas: exact except where the official math.cos (glibc) is not
  // correctly rounded (t = 0.732); the cumprod round trip carries that one ulp to three entries.
  const train = tensor('diff.table.train_betas_1000').data;
  const differ: number[] = [];
  for (let i = 0; i < 1000; i++) {
    if (sched.train_betas[i] === train[i]) continue;
    differ.push(i);
    assert.ok(Math.abs(sched.train_betas[i] - train[i]) <= 2 ** -52, `${i}`);
  }
  assert.deepEqual(differ, [732, 747, 826]);
  // train_diffusion's betas are the cosine betas passed through cumprod and back: ≤ 1 ulp apart
  const raw = cosineBetas(1000);
  for (let i = 0; i < 1000; i++) assert.ok(Math.abs(raw[i] - train[i]) <= 2 ** -52, `${i}`);
});

test('derived tables: shifted cumprod, clipped first log-variance, ᾱ·(1/√ᾱ)² = 1', () => {
  const t = diffusionTables(respacedBetas(cosineBetas(1000), spaceTimesteps(1000, '8')));
  for (let i = 0; i < 8; i++) {
    assert.ok(Math.abs(t.sqrt_recip_alphas_cumprod[i] ** 2 * t.alphas_cumprod[i] - 1) < 1e-12);
    assert.equal(t.alphas_cumprod_prev[i], i === 0 ? 1 : t.alphas_cumprod[i - 1]);
    assert.equal(t.alphas_cumprod_next[i], i === 7 ? 0 : t.alphas_cumprod[i + 1]);
  }
  assert.equal(t.posterior_variance[0], 0);
  assert.equal(t.posterior_log_variance_clipped[0], t.posterior_log_variance_clipped[1]);
  assert.throws(() => diffusionTables([0.5, 0]));
});
