// Matrix-product precision modes (src/models/transformer/precision.ts): the quantizers against
// float64 arithmetic here (codes, scales, zero points: every weight within half a step), the ONNX
// Runtime kernels (MatMulNBits bits 8/4 with int8 activations, DynamicQuantizeMatMul) against a
// float64 x·Wᵀ, and the fixture's KV-cached steps in each mode against the official float32 logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../../src/graph/index.ts';
import { MapWeightStore, Params, type StoredTensor } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import {
  DYNQ8_REDUCED_MAX_CODE, HartTransformer, MATMUL_PRECISIONS, precisionLinear, quantizeColumnsInt8, quantizeNBits,
} from '../../../src/models/transformer/index.ts';
import { u8s8SaturatesOf } from '../../../src/runtime/cpu-features.node.ts';
import { float32, tensor } from '../../tables/reference.ts';
import { fixtureModel, hostF32 } from './helpers.ts';

/** Roughly normal values from a seed (sum of 4 uniforms). */
function normals(n: number, seed: number, std = 1): Float32Array {
  let s = seed >>> 0;
  const u = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  return Float32Array.from({ length: n }, () => (u() + u() + u() + u() - 2) * std * Math.sqrt(3));
}

test('quantizeNBits (8 and 4 bits) and quantizeColumnsInt8 keep every weight within half a step', () => {
  const N = 6, K = 256;
  const W = normals(N * K, 1, 0.05);
  for (const [bits, bs] of [[8, 128], [4, 32]] as const) {
    const q = quantizeNBits(W, N, K, bits, bs);
    const kb = K / bs, zRow = bits === 8 ? kb : Math.ceil(kb / 2);
    for (let n = 0; n < N; n++) for (let b = 0; b < kb; b++) {
      const s = q.scales[n * kb + b];
      const zb = q.zeros[n * zRow + (bits === 8 ? b : b >> 1)];
      const z = bits === 8 ? zb : (b & 1 ? zb >> 4 : zb & 15);
      let lo = 0, hi = 0;
      for (let k = 0; k < bs; k++) { lo = Math.min(lo, W[n * K + b * bs + k]); hi = Math.max(hi, W[n * K + b * bs + k]); }
      assert.ok(Math.abs(s - (hi - lo) / (2 ** bits - 1)) <= 1e-7 * Math.abs(s) + 1e-12);
      for (let k = 0; k < bs; k++) {
        const i = (n * kb + b) * (bs * bits / 8) + (bits === 8 ? k : k >> 1);
        const code = bits === 8 ? q.qweight[i] : (k & 1 ? q.qweight[i] >> 4 : q.qweight[i] & 15);
        assert.ok(Math.abs((code - z) * s - W[n * K + b * bs + k]) <= s / 2 + 1e-7, `bits ${bits} n ${n} k ${b * bs + k}`);
      }
    }
  }
  for (const maxCode of [127, DYNQ8_REDUCED_MAX_CODE]) {
    const c = quantizeColumnsInt8(W, N, K, maxCode);
    for (let n = 0; n < N; n++) {
      let peak = 0;
      for (let k = 0; k < K; k++) {
        const q = c.B[k * N + n];
        peak = Math.max(peak, Math.abs(q));
        assert.ok(Math.abs(q * c.scales[n] - W[n * K + k]) <= c.scales[n] / 2 + 1e-7);
      }
      assert.equal(peak, maxCode, `column ${n}: the largest weight takes code ±${maxCode}`);
    }
  }
  assert.throws(() => quantizeColumnsInt8(W, N, K, 128), /maxCode must be an integer in 1…127/);
});

test('u8s8SaturatesOf: x86 without VNNI flags saturates; with avx512_vnni or avx_vnni, or on ARM, it does not', () => {
  const cpu = (flags: string) => `processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: ${flags}\n\nprocessor\t: 1\nflags\t\t: ${flags}\n`;
  assert.equal(u8s8SaturatesOf(cpu('fpu sse2 ssse3 avx avx2 fma'), 'x64'), true);
  assert.equal(u8s8SaturatesOf(cpu('fpu avx2 avx512f avx512_vnni'), 'x64'), false);
  assert.equal(u8s8SaturatesOf(cpu('fpu avx2 avx_vnni'), 'x64'), false);
  assert.equal(u8s8SaturatesOf('processor\t: 0\nFeatures\t: fp asimd asimddp\n', 'arm64'), false);
  assert.equal(u8s8SaturatesOf('no flags line', 'x64'), false);
});

test('ONNX Runtime kernels of each precision against a float64 x·Wᵀ + b', async () => {
  const M = 37, K = 256, N = 96;
  const W = normals(N * K, 2, 1 / 16), b = normals(N, 3, 0.1), X = normals(M * K, 4);
  const want = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = b[n];
    for (let k = 0; k < K; k++) s += X[m * K + k] * W[n * K + k];
    want[m * N + n] = s;
  }
  const rms = Math.sqrt(want.reduce((a, v) => a + v * v, 0) / want.length);
  const rt = nodeRuntime({ threads: 1, modelCache: false });
  // relative RMS error bounds: int8 weights + int8 activations ≈ 2·(1/255)/√3 per factor; int4 ≈ 16× coarser weights
  // dynq8 as the runtime builds it: 7-bit weight codes where the u8·s8 kernel saturates (precision.ts)
  const bound: Record<string, number> = { float32: 1e-6, int8: 0.02, int4: 0.12, dynq8: 0.03 };
  const dynq8MaxCode = rt.options.u8s8Saturates ? DYNQ8_REDUCED_MAX_CODE : 127;
  for (const precision of MATMUL_PRECISIONS) {
    const g = new Graph();
    const store = new MapWeightStore(new Map<string, StoredTensor>([
      ['l.weight', { dtype: 'float32', shape: [N, K], data: W }], ['l.bias', { dtype: 'float32', shape: [N], data: b }],
    ]));
    const x = g.input('x', 'float32', ['M', K]);
    const y = precisionLinear(new Params(g, store).scope('l'), x, N, true, precision, dynq8MaxCode);
    const m = await rt.loadGraph({ y });
    const got = (await m.run({ x: { dtype: 'float32', shape: [M, K], data: X } })).y.data as Float32Array;
    let se = 0;
    got.forEach((v, i) => { se += (v - want[i]) ** 2; });
    const rel = Math.sqrt(se / got.length) / rms;
    console.log(`  ${precision}: relative RMS error ${rel.toExponential(2)}`);
    assert.ok(rel < bound[precision], `${precision}: ${rel}`);
  }
  await rt.dispose();
});

test('fixture steps in each precision mode against the official float32 logits', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 2, modelCache: false });
  const pos = tensor('ctx.context_position_ids');
  for (const precision of MATMUL_PRECISIONS) {
    const t = await HartTransformer.fromWeights(cfg, store, rt, { precision });
    const gen = await t.begin(hostF32('ctx.context'), [Array.from(pos.data.subarray(0, 8)), Array.from(pos.data.subarray(8, 16))]);
    let worst = 0;
    for (let si = 0; si < 7; si++) {
      const out = await t.step(gen, si === 0 ? undefined : hostF32(`infer.s${si - 1}.next_input`));
      const want = float32(`infer.s${si}.logits_raw`);
      let e = 0, m = 0;
      (out.logits_BlV.data as Float32Array).forEach((v, i) => { e = Math.max(e, Math.abs(v - want[i])); m = Math.max(m, Math.abs(want[i])); });
      worst = Math.max(worst, e / m);
    }
    console.log(`  ${precision}: logits max |Δ| / max |logit| ${worst.toExponential(2)}`);
    const bound = precision === 'float32' ? 1e-5 : precision === 'int4' ? 0.3 : 0.05;
    assert.ok(worst < bound, `${precision}: ${worst}`);
  }
  await rt.dispose();
});
