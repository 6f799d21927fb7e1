// Tests for src/tables/schedules.ts against the fixture (tok.phi_index_per_scale, the run's cfg
// schedule, infer.diff.cfg, emb.*_sinusoid), numpy's float64 linspace values and the spec's tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  linspace, phiTicks, phiIndexPerScale, scaleRatio, cfgRamp, diffusionCfg, topKPerScale, gumbelSmoothing,
  timestepFrequencies, timestepSinusoid,
} from '../../src/tables/schedules.ts';
import { fixtureDir } from '../fixtures.ts';
import { tensor, float32, maxAbsDiff } from './reference.ts';

test('φ ticks and per-scale φ index reproduce the official float64 arithmetic', () => {
  // numpy 1.24: np.linspace(1/3/4, 1-1/3/4, 4).tolist()
  assert.deepEqual(Array.from(phiTicks(4)), [0.08333333333333333, 0.36111111111111105, 0.6388888888888888, 0.9166666666666666]);
  assert.deepEqual(Array.from(linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(phiIndexPerScale(7), Array.from(tensor('tok.phi_index_per_scale').data)); // [0,0,1,2,2,3,3]
  assert.deepEqual(phiIndexPerScale(7), [0, 0, 1, 2, 2, 3, 3]);
  assert.deepEqual(phiIndexPerScale(14), [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3]); // spec §2.4
  assert.deepEqual(phiIndexPerScale(10), [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]); // VAR's 10 scales (ties at 2 and 7)
  assert.deepEqual(phiIndexPerScale(10, 6), [0, 0, 1, 1, 2, 3, 3, 4, 5, 5]); // K != 4: linspace(1/2K, 1-1/2K, K)
  assert.deepEqual(phiIndexPerScale(5, 1), [0, 0, 0, 0, 0]);
});

test('CFG ramp with the stale last ratio; diffusion cfg', () => {
  const run = JSON.parse(readFileSync(join(fixtureDir(), 'reference.json'), 'utf8')).run;
  assert.deepEqual(cfgRamp(run.cfg, run.patch_nums.length), run.cfg_t_per_step); // [0,.75,1.5,2.25,3,3.75,3.75]
  assert.equal(diffusionCfg(4.5, 7), tensor('infer.diff.cfg').data[0]); // 3.75
  const r14 = cfgRamp(4.5, 14).map((t) => Math.round(t * 1000) / 1000);
  assert.deepEqual(r14, [0, 0.346, 0.692, 1.038, 1.385, 1.731, 2.077, 2.423, 2.769, 3.115, 3.462, 3.808, 4.154, 4.154]);
  assert.equal(diffusionCfg(4.5, 14), 4.5 * (12 / 13));
  assert.equal(scaleRatio(13, 14), 12 / 13);
  assert.equal(scaleRatio(5, 14), 5 / 13);
  assert.throws(() => scaleRatio(14, 14));
});

test('the constant cfg schedule (a HART.js option) guides every scale and the diffusion head with cfg', () => {
  assert.deepEqual(cfgRamp(1.5, 7, 'constant'), [1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
  assert.equal(diffusionCfg(1.5, 7, 'constant'), 1.5);
  assert.deepEqual(cfgRamp(4.5, 7, 'linear'), cfgRamp(4.5, 7));
  assert.equal(diffusionCfg(4.5, 7, 'linear'), 3.75);
});

test('top-k per scale and the more_smooth Gumbel schedule', () => {
  assert.deepEqual([0, 6, 7, 13].map((si) => topKPerScale(si, 4096)), [600, 600, 300, 300]);
  assert.deepEqual([0, 7].map((si) => topKPerScale(si, 64)), [64, 64]);
  assert.deepEqual(gumbelSmoothing(0), { tau: 0.27, logitScale: 1 });
  const last = gumbelSmoothing(scaleRatio(13, 14));
  assert.ok(Math.abs(last.tau - 0.27 * (1 - 0.95 * 12 / 13)) < 1e-15 && last.logitScale === 1 + 12 / 13);
  assert.equal(gumbelSmoothing(1.05).tau, 0.005); // floor
});

test('timestep sinusoids equal the official float32 features bit for bit (emb.*_sinusoid)', () => {
  assert.deepEqual(tensor('emb.lvl_sinusoid').shape, [7, 256]);
  assert.deepEqual(timestepSinusoid([0, 1, 2, 3, 4, 5, 6]), float32('emb.lvl_sinusoid'));
  const ts = Array.from(tensor('diff.table.timestep_map').data); // [0,143,...,999]
  assert.deepEqual(timestepSinusoid(ts), float32('emb.diff_time_sinusoid'));
});

test('timestep sinusoid layout [cos, sin] and float64 formula', () => {
  const f64 = Array.from({ length: 128 }, (_, k) => Math.exp((-Math.log(10000) * k) / 128));
  assert.ok(maxAbsDiff(timestepFrequencies(256), f64) < 1e-7);
  const t = [0, 3, 250];
  const got = timestepSinusoid(t);
  const want = t.flatMap((x) => [...f64.map((f) => Math.cos(x * f)), ...f64.map((f) => Math.sin(x * f))]);
  assert.ok(maxAbsDiff(got, want) < 5e-5);
  const odd = timestepSinusoid([2], 9); // dim 9 → 4 cos, 4 sin, a zero column
  assert.equal(odd.length, 9);
  assert.equal(odd[8], 0);
});
