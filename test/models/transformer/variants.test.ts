// Config variants the fixture does not cover (AdaLN blocks with max / masked-avg pooling, shared
// AdaLN, l2-normalised attention, an nn.Embedding level embedding): the step graph on random
// weights against the independent float64 reference in reference-step.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitOnnx, Graph } from '../../../src/graph/index.ts';
import { MapWeightStore, Params, type StoredTensor } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import type { HostTensor } from '../../../src/runtime/host-tensor.ts';
import {
  buildStepGraph, checkTransformerWeights, expectedWeights, levelEmbedTable, needsContextMask, parseHartConfig,
  type HARTForT2IConfig,
} from '../../../src/models/transformer/index.ts';
import { referenceStep } from './reference-step.ts';
import { report } from './helpers.ts';

const V = 24, Cvae = 4;

/** Deterministic pseudo-random values in [-1, 1). */
function rand(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s ^= s + Math.imul(s ^ (s >>> 7), 61);
    return (((s ^ (s >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  };
}

function randomWeights(cfg: HARTForT2IConfig, seed: number): Map<string, StoredTensor> {
  const r = rand(seed);
  const m = new Map<string, StoredTensor>();
  for (const [name, shape] of expectedWeights(cfg, V, Cvae)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? shape[shape.length - 1] : 1;
    let gen = () => (r() * 1.7) / Math.sqrt(fanIn);
    if (/norm|ln_wo_grad/.test(name)) gen = () => 1 + 0.25 * r();
    else if (name.endsWith('bias') || name.includes('scale_shift_table')) gen = () => 0.2 * r();
    else if (name.includes('ada_lin')) gen = () => (0.8 * r()) / Math.sqrt(fanIn);
    else if (name.includes('qkv_proj')) gen = () => (3.5 * r()) / Math.sqrt(fanIn);
    else if (name.endsWith('scale_mul_1H11')) gen = () => Math.log(4) + 0.5 * r();
    const data = Float32Array.from({ length: n }, gen);
    if (name.endsWith('zero_k_bias')) data.fill(0);
    m.set(name, { dtype: 'float32', shape, data });
  }
  return m;
}

const base = {
  context_token: 5, context_dim: 12, depth: 2, embed_dim: 16, num_heads: 2, mlp_type: 'llama', attn_type: 'llama',
  patch_nums: [1, 2, 3], use_timestep_embed: true, use_context_norm: true, disable_aln: true,
};

const variants: [string, object][] = [
  ['AdaLN blocks, max pooling', { disable_aln: false, sep_aln_pooling_mode: 'max' }],
  ['AdaLN blocks, masked avg pooling', { disable_aln: false, sep_aln_pooling_mode: 'avg' }],
  ['shared AdaLN (scale_shift_table + avg)', { shared_aln: true }],
  ['attn_l2_norm', { attn_l2_norm: true }],
  ['plain blocks, 4 heads in 2 groups', { num_heads: 4, headGroups: 2 }],
  ['plain blocks, 4 heads in 4 groups, queries in chunks of 3', { num_heads: 4, headGroups: 4, queryChunk: 3 }],
];

for (const [name, extra] of variants) {
  test(`step graph matches the float64 reference: ${name}`, async () => {
    const { headGroups, queryChunk, ...fields } = extra as { headGroups?: number; queryChunk?: number };
    const cfg = parseHartConfig({ ...base, ...fields });
    const weights = randomWeights(cfg, 7);
    checkTransformerWeights(cfg, weights, V, Cvae);
    // (this step has l = 4 queries: chunks [0, 3) and [3, 4))
    const { graph, outputs } = buildStepGraph(cfg, new MapWeightStore(weights), V, { headGroups, queryChunk, maxQueries: queryChunk ? 4 : undefined });
    void graph;
    const rt = nodeRuntime({ threads: 1 });
    const s = await rt.load(emitOnnx({ outputs }));
    const B = 2, l = 4, P = 3, C = 16, H = cfg.num_heads, hd = C / H, T = 5;
    const r = rand(99);
    const arr = (n: number, k = 1) => Float32Array.from({ length: n }, () => k * r());
    const x = arr(B * l * C, 2), cond = arr(B * T * C, 1.5), ang = arr(B * l * hd, 3);
    const cos = ang.map(Math.cos), sin = ang.map(Math.sin);
    const mask = Float32Array.from([1, 1, 1, 0, 0, 1, 0, 0, 0, 0]);
    const past = Array.from({ length: cfg.depth }, () => ({ k: arr(B * H * P * hd), v: arr(B * H * P * hd) }));
    const feeds: Record<string, HostTensor> = {
      x_BlC: { dtype: 'float32', shape: [B, l, C], data: x },
      cond_BD: { dtype: 'float32', shape: [B, T, C], data: cond },
      rope_cos: { dtype: 'float32', shape: [B, l, hd], data: cos },
      rope_sin: { dtype: 'float32', shape: [B, l, hd], data: sin },
    };
    if (needsContextMask(cfg)) feeds.context_mask = { dtype: 'float32', shape: [B, T], data: mask };
    // the graph's caches are token-major, [P, B, H, hd]; the reference's are [B, H, P, hd]
    const tokenMajor = (a: ArrayLike<number>, S: number, from: number, n: number) => {
      const out = new Float32Array(n * B * H * hd);
      for (let t = 0; t < n; t++) for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
        for (let e = 0; e < hd; e++) out[((t * B + b) * H + h) * hd + e] = a[((b * H + h) * S + from + t) * hd + e];
      }
      return out;
    };
    past.forEach((kv, i) => {
      feeds[`past.${i}.key`] = { dtype: 'float32', shape: [P, B, H, hd], data: tokenMajor(kv.k, P, 0, P) };
      feeds[`past.${i}.value`] = { dtype: 'float32', shape: [P, B, H, hd], data: tokenMajor(kv.v, P, 0, P) };
    });
    feeds.kv_rows = { dtype: 'int64', shape: [l], data: BigInt64Array.from([0n, 1n, 2n, 3n]) };
    const got = await s.run(feeds);
    const f64 = (a: Float32Array) => Float64Array.from(a);
    const ref = referenceStep(cfg, (n) => f64(weights.get(n)!.data as Float32Array), V, {
      B, l, P, x: f64(x), cond: f64(cond), mask: f64(mask), cos: f64(cos), sin: f64(sin),
      past: past.map((kv) => ({ k: f64(kv.k), v: f64(kv.v) })),
    });
    const e = [
      report('logits', got.logits.data as Float32Array, ref.logits),
      report('hidden', got.hidden.data as Float32Array, ref.hidden),
      // this step's rows of the reference's full caches
      ...ref.presents.flatMap((kv, i) => [
        report(`new ${i} k`, got[`new.${i}.key`].data as Float32Array, tokenMajor(kv.k, P + l, P, l)),
        report(`new ${i} v`, got[`new.${i}.value`].data as Float32Array, tokenMajor(kv.v, P + l, P, l)),
      ]),
    ];
    assert.ok(Math.max(...e) < 2e-5, `${name}: ${e}`);
    await rt.dispose();
  });
}

test('use_timestep_embed: false reads lvl_embed.weight [N, C]', () => {
  const cfg = parseHartConfig({ ...base, use_timestep_embed: false });
  const weights = randomWeights(cfg, 3);
  assert.deepEqual(weights.get('lvl_embed.weight')!.shape, [3, 16]);
  const g = new Graph();
  const t = levelEmbedTable(new Params(g, new MapWeightStore(weights)), cfg);
  assert.equal(t.kind, 'param');
  assert.equal(t.name, 'lvl_embed.weight');
});
