// The IDDPM sampler against the official p_sample_loop (fixture infer.diff.*): the step arithmetic
// alone on recorded inputs, then the whole 8-step guided loop from infer.diff.cond_z with the
// recorded noise rng.infer.02..10 (only the conditional rows are carried, as only they are kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { diffusionSchedule } from '../../../src/tables/diffusion-schedule.ts';
import { Philox } from '../../../src/random/philox.ts';
import { DiffusionSampler, philoxNoise, pSample, type SamplerStep } from '../../../src/models/diffusion/index.ts';
import { float32, maxAbsDiff, tensor } from '../../tables/reference.ts';
import { llmWeights, tinyConfig } from './weights.ts';

const runtime = nodeRuntime({ threads: 2 });
const CV = 8, C = 64, N = 128; // B = 2 images × 64 tokens; the guided batch has 2N rows
const rec = (name: string) => float32(name);
const condRows = (a: Float32Array, width = CV) => a.subarray(0, N * width);
const recordedNoise = (draw: number, rows: number, channels: number) => {
  const d = rec(`rng.infer.${String(2 + draw).padStart(2, '0')}.randn`);
  return d.slice(0, rows * channels); // the conditional half of the 2B-row draw
};

test('p_sample arithmetic reproduces every recorded step exactly from the recorded net output', () => {
  const sched = diffusionSchedule('8');
  for (let step = 0; step < 8; step++) {
    const k = `infer.diff.step${step}`;
    const t = tensor(`${k}.t`).data[0];
    assert.equal(t, 7 - step);
    const x = rec(`${k}.x_t`), net = rec(`${k}.net_out`);
    const noise = t === 0 ? null : rec(`rng.infer.${String(3 + step).padStart(2, '0')}.randn`);
    // all 2N rows: the unconditional half takes its own variance values and noise rows
    const out = pSample(sched, t, x, net, CV, noise);
    for (const f of ['pred_xstart', 'mean', 'log_variance', 'sample'] as const) {
      assert.deepEqual(out[f], rec(`${k}.${f}`), `step ${step} ${f}: max |Δ| ${maxAbsDiff(out[f], rec(`${k}.${f}`))}`);
    }
  }
});

test('8-step guided sampling from infer.diff.cond_z matches every step and sample_out', async () => {
  const cfg = tinyConfig();
  const sampler = await DiffusionSampler.create(runtime, llmWeights(), cfg);
  const z = rec('infer.diff.cond_z');
  const cfgScale = tensor('infer.diff.cfg').data[0];
  assert.equal(cfgScale, 3.75);
  const steps: SamplerStep[] = [];
  const out = await sampler.sample(z.slice(0, N * C), {
    cfg: cfgScale, zUncond: z.slice(N * C), noise: recordedNoise, onStep: (s) => steps.push(s),
  });
  assert.equal(steps.length, 8);
  const worst: Record<string, number> = {};
  for (const s of steps) {
    const k = `infer.diff.step${s.step}`;
    assert.equal(s.t, tensor(`${k}.t`).data[0]);
    assert.equal(s.timestep, tensor('diff.table.timestep_map').data[s.t]);
    const pairs: [string, Float32Array, Float32Array][] = [
      ['x_t', s.x_t, condRows(rec(`${k}.x_t`))],
      ['net_out', s.net_out, rec(`${k}.net_out`)], // both halves: eps_cfg twice, each half's own variance
      ['pred_xstart', s.pred_xstart, condRows(rec(`${k}.pred_xstart`))],
      ['mean', s.mean, condRows(rec(`${k}.mean`))],
      ['log_variance', s.log_variance, condRows(rec(`${k}.log_variance`))],
      ['sample', s.sample, condRows(rec(`${k}.sample`))],
    ];
    for (const [name, got, want] of pairs) worst[name] = Math.max(worst[name] ?? 0, maxAbsDiff(got, want));
  }
  worst.sample_out = maxAbsDiff(out, condRows(rec('infer.diff.sample_out')));
  console.log('max |Δ| over the 8 steps:', Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
  for (const [k, v] of Object.entries(worst)) assert.ok(v < 5e-5, `${k}: ${v}`);
});

test('unguided sampling (cfg = 1) runs the conditional rows alone; Philox noise is per image', async () => {
  const cfg = tinyConfig();
  const sampler = await DiffusionSampler.create(runtime, llmWeights(), cfg);
  const z = rec('infer.diff.cond_z');
  const [a, b] = [new Philox(11), new Philox(12)];
  const both = await sampler.sample(z.slice(0, N * C), { noise: philoxNoise([a, b], 64) });
  const second = await sampler.sample(z.slice(64 * C, N * C), { noise: philoxNoise([b], 64) });
  assert.deepEqual(both.subarray(64 * CV), second, 'image 1 of a batch equals image 1 alone');
  // the last step adds no noise and its mean is the clamped x0 (coef1 = 1, coef2 = 0): |out| ≤ vae_scale
  assert.ok(both.every((v) => Math.abs(v) <= 0.6 + 1e-6));
  // Guided with zUncond = zCond is the unguided sampler.
  const same = await sampler.sample(z.slice(0, N * C), { cfg: 4, zUncond: z.slice(0, N * C), noise: philoxNoise([a, b], 64) });
  assert.ok(maxAbsDiff(same, both) < 1e-5);
  await assert.rejects(sampler.sample(z.slice(0, N * C), { cfg: 2, noise: philoxNoise([a, b], 64) }), /zUncond/);
});
