// The benchmark's fused lowering (bench/fused-ops.ts: ORT SimplifiedLayerNormalization and
// com.microsoft MultiHeadAttention, with VJPs written in standard ops) against the standard-op
// forms of src/nn, whose rules test/graph checks by finite differences: values and gradients of
// each op, then a whole block's forward and training step (dx and the AdamW-updated weights).
import test from 'node:test';
import type { Tensor } from '../../src/graph/index.ts';
import { Graph, emitOnnx, grad } from '../../src/graph/index.ts';
import { attention, rmsNorm } from '../../src/nn/index.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { fusedAttention, fusedRmsNorm } from '../../bench/fused-ops.ts';
import { benchConfig, blockWeights, buildBlock } from '../../bench/llama-block.ts';
import { TrainLoop } from '../../bench/train-step.ts';
import { assertClose, feed, runtime, toArr } from '../graph/harness.ts';
import { rand } from '../graph/ref.ts';

const TOL = { atol: 2e-5, rtol: 2e-4 }; // float32 kernels summing in different orders

/** y = build(inputs) and the gradients of Σ y·r for every input, evaluated in float32. */
async function valueAndGrads(build: (xs: Tensor[]) => Tensor, shapes: number[][], seed: number): Promise<HostTensor[]> {
  const g = new Graph();
  const xs = shapes.map((s, i) => g.input(`x${i}`, 'float32', s));
  const y = build(xs);
  const r = g.input('r', 'float32', y.shape);
  const grads = grad(y.mul(r).sum([...y.shape.keys()]), xs);
  const outs: Record<string, Tensor> = { y };
  grads.forEach((t, i) => (outs[`g${i}`] = t));
  const feeds: Record<string, HostTensor> = { r: feed(rand(y.shape as number[], seed + 99), 'float32') };
  shapes.forEach((s, i) => (feeds[`x${i}`] = feed(rand(s, seed + i), 'float32')));
  const res = await (await runtime.load(emitOnnx({ outputs: outs }))).run(feeds);
  return ['y', ...grads.map((_, i) => `g${i}`)].map((k) => res[k]);
}

async function assertSameOp(fused: (xs: Tensor[]) => Tensor, standard: (xs: Tensor[]) => Tensor, shapes: number[][], what: string) {
  const a = await valueAndGrads(fused, shapes, 5), b = await valueAndGrads(standard, shapes, 5);
  a.forEach((t, i) => assertClose(toArr(t), toArr(b[i]), TOL, `${what}: ${i === 0 ? 'value' : `gradient of input ${i - 1}`}`));
}

test('FusedRmsNorm (SimplifiedLayerNormalization) equals rmsNorm, with gradients', async () => {
  await assertSameOp(([x, w]) => fusedRmsNorm(x, w, 1e-6), ([x, w]) => rmsNorm(null, x, 1e-6).mul(w), [[2, 3, 16], [16]], 'rms norm');
});

test('FusedAttention (MultiHeadAttention) equals softmax attention per head, with gradients', async () => {
  const H = 4, hd = 8, scale = 0.3;
  const heads = (t: Tensor) => t.reshape([0, 0, H, hd]).transpose([0, 2, 1, 3]);
  const standard = ([q, k, v]: Tensor[]) => attention(heads(q), heads(k), heads(v), scale).transpose([0, 2, 1, 3]).reshapeAs(q);
  for (const [Lq, Lk] of [[6, 6], [3, 7]]) {
    await assertSameOp(([q, k, v]) => fusedAttention(q, k, v, H, scale), standard,
      [[2, Lq, H * hd], [2, Lk, H * hd], [2, Lk, H * hd]], `attention Lq=${Lq} Lk=${Lk}`);
  }
});

test('the fused block lowering computes the standard one: forward and a training step', async () => {
  const cfg = benchConfig(2, 8, 32, 4);
  const weights = blockWeights(cfg, 7);
  const x = feed(rand([cfg.B, cfg.L, cfg.C], 11), 'float32'), gy = feed(rand([cfg.B, cfg.L, cfg.C], 12), 'float32');
  const ys = await Promise.all((['standard', 'fused'] as const).map(async (l) =>
    (await (await runtime.load(emitOnnx({ outputs: { y: buildBlock(cfg, weights, l).y } }))).run({ x })).y));
  assertClose(toArr(ys[1]), toArr(ys[0]), TOL, 'block forward');
  const [std, fused] = await Promise.all((['standard', 'fused'] as const).map((l) => TrainLoop.create(runtime, cfg, weights, l)));
  for (let step = 1; step <= 2; step++) {
    assertClose(toArr(await fused.step(x, gy)), toArr(await std.step(x, gy)), TOL, `dx, step ${step}`);
    for (const s of std.spec.slots) assertClose(toArr(fused.param(s.param)), toArr(std.param(s.param)), TOL, `${s.param}, step ${step}`);
  }
});
