// torchExpf (torch's CPU float32 exp, SLEEF u10) against float64 exp: within 1 ulp everywhere, and
// bit-equal to torch on the fixture's recorded noise scales (sampler step: mean + exp(½·lv)·noise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expf as torchExpf } from '../../src/tables/sleef32.ts';
import { float32 } from './reference.ts';

const f32 = Math.fround;
const ulp = (x: number) => {
  const b = new Float32Array([x]), u = new Uint32Array(b.buffer);
  u[0] += 1;
  return b[0] - x;
};

test('torchExpf is within 1 ulp of exp and exact at 0, with the float32 overflow/underflow edges', () => {
  assert.equal(torchExpf(0), 1);
  assert.equal(torchExpf(-200), 0);
  assert.equal(torchExpf(200), Infinity);
  let worst = 0, differ = 0;
  for (let k = 0; k <= 40000; k++) {
    const x = f32(-87 + (175 * k) / 40000);
    const e = torchExpf(x), ref = Math.exp(x);
    worst = Math.max(worst, Math.abs(e - ref) / ulp(f32(ref)));
    if (e !== f32(ref)) differ++;
  }
  assert.ok(worst <= 1, `worst error ${worst} ulp`);
  assert.ok(differ > 0); // it is not the correctly rounded exp
});

test('torchExpf reproduces every recorded sampler noise scale bit for bit', () => {
  for (let step = 0; step < 7; step++) {
    const k = `infer.diff.step${step}`;
    const noise = float32(`rng.infer.${String(3 + step).padStart(2, '0')}.randn`);
    const lv = float32(`${k}.log_variance`), mean = float32(`${k}.mean`), want = float32(`${k}.sample`);
    for (let i = 0; i < want.length; i++) assert.equal(f32(mean[i] + f32(torchExpf(f32(0.5 * lv[i])) * noise[i])), want[i]);
  }
});
