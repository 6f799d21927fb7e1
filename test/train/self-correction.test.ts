// Self-correction (`transformer.self_correction`): the encode graph's swapped codes are the chosen
// neighbours, they reach the teacher-forcing input and what later scales quantize, the targets of
// each scale stay its own nearest codes, no swap is the plain graph bitwise, and the draws are a pure
// function of the step. A whole run with it (stopped, resumed, bitwise the same): test/train/train-run.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, emitOnnx } from '../../src/graph/index.ts';
import { Params, type StoredTensor } from '../../src/nn/index.ts';
import { Quantizer } from '../../src/models/tokenizer/quant.ts';
import { parseTokenizerConfig } from '../../src/models/tokenizer/config.ts';
import { buildEncodeGraph, codeNeighbours, selfCorrectionSwaps, SELF_CORRECTION_NEIGHBOURS } from '../../src/train/transformer-batch.ts';
import { InitWeightStore } from '../../src/train/init.ts';
import { Philox } from '../../src/random/philox.ts';
import { hostTensor, type HostTensor } from '../../src/runtime/host-tensor.ts';
import { checkOptionalTransformerField } from './recipe-field.ts';
import { runtime } from '../graph/harness.ts';

test('codeNeighbours: the K nearest other codes, nearest first, ties by index', () => {
  // 1-D codes at 0, 1, 3, 7, 8
  const nb = codeNeighbours(Float32Array.of(0, 1, 3, 7, 8), 5, 2);
  assert.deepEqual([...nb].map(Number), [1, 2, 0, 2, 1, 0, 4, 2, 3, 2]);
  assert.throws(() => codeNeighbours(Float32Array.of(0, 1), 2, 2), /no 2 neighbours/);
});

test('the encode graph with swaps: neighbours in the teacher-forcing input, own nearest codes as targets; no swap = the plain graph', async () => {
  const V = 32, pns = [1, 2, 4], R = 32;
  const cfg = parseTokenizerConfig({ quantizer_type: 'var_hybrid', vocab_size: V, z_channels: 4, ch: 16, ch_mult: [1, 2, 2, 2], norm_groups: 8 });
  const gen = new InitWeightStore(11);
  const store = { get: (name: string, shape?: readonly number[]) => gen.get(name, shape) as StoredTensor | undefined };
  // build once to create every weight, then read the codebook the graphs share
  buildEncodeGraph(cfg, store, R, pns);
  const codebook = gen.created.get('quantize.embedding.weight')!.data as Float32Array;
  const K = SELF_CORRECTION_NEIGHBOURS;
  const nb = codeNeighbours(codebook, V, K);
  const plain = await runtime.load(buildEncodeGraph(cfg, store, R, pns));
  const swapped = await runtime.load(buildEncodeGraph(cfg, store, R, pns, { neighbours: nb, K }));
  const B = 3;
  const img = hostTensor(Float32Array.from({ length: B * 3 * R * R }, (_, i) => Math.sin(i * 0.37) * 0.8), [B, 3, R, R]);
  const none = { 'swap.s0': hostTensor(new BigInt64Array(B).fill(-1n), [B, 1], 'int64'), 'swap.s1': hostTensor(new BigInt64Array(B * 4).fill(-1n), [B, 4], 'int64') };
  const a = await plain.run({ img });
  const b = await swapped.run({ img, ...none });
  for (const k of Object.keys(a)) assert.deepEqual(b[k].data, a[k].data, `${k} differs with no swap`);

  // swap every scale-0 token for its neighbour k = 2, and scale-1 token 1 of each image for k = 0
  const s1 = new BigInt64Array(B * 4).fill(-1n);
  for (let i = 0; i < B; i++) s1[i * 4 + 1] = 0n;
  const c = await swapped.run({ img, 'swap.s0': hostTensor(new BigInt64Array(B).fill(2n), [B, 1], 'int64'), 'swap.s1': hostTensor(s1, [B, 4], 'int64') });
  assert.deepEqual(c['idx.s0'].data, a['idx.s0'].data, 'scale 0 targets are its own nearest codes');
  const used0 = Array.from(c['idx.s0'].data as BigInt64Array, (v) => nb[Number(v) * K + 2]);
  const used1 = Array.from(c['idx.s1'].data as BigInt64Array, (v, i) => (i % 4 === 1 ? nb[Number(v) * K] : v));
  // the teacher-forcing input is idxBl_to_var_input of the codes used
  const g = new Graph();
  const q = new Quantizer(new Params(g, store).scope('quantize'), cfg);
  const x = q.idxBlToVarInput([g.constant(BigInt64Array.from(used0), [B, 1], 'int64'), g.constant(BigInt64Array.from(used1), [B, 4], 'int64')], pns);
  const ref = (await (await runtime.load(emitOnnx({ outputs: { x } }))).run({})).x as HostTensor;
  const xs = c.x_BLCv.data as Float32Array, xr = ref.data as Float32Array;
  assert.equal(xs.length, xr.length);
  let maxd = 0;
  for (let i = 0; i < xs.length; i++) maxd = Math.max(maxd, Math.abs(xs[i] - xr[i]));
  assert.ok(maxd < 1e-5, `teacher-forcing input vs the used codes' max |Δ| ${maxd}`);
  // later scales quantize what the wrong codes left: their targets move
  const moved = (c['idx.s2'].data as BigInt64Array).some((v, i) => v !== (a['idx.s2'].data as BigInt64Array)[i]);
  assert.ok(moved, 'the last scale\'s targets correct the swapped codes');
  assert.notDeepEqual(c.f_rest.data, a.f_rest.data);
});

test('selfCorrectionSwaps: a pure function of the step, about p of the tokens, neighbour indices in range', () => {
  const pns = [1, 2, 3, 4, 8];
  const a = selfCorrectionSwaps(new Philox(5), 7, 16, pns, 0.25);
  const b = selfCorrectionSwaps(new Philox(5), 7, 16, pns, 0.25);
  assert.deepEqual(Object.keys(a), ['swap.s0', 'swap.s1', 'swap.s2', 'swap.s3']);
  let swapped = 0, total = 0;
  for (const k of Object.keys(a)) {
    assert.deepEqual(a[k].data, b[k].data);
    for (const v of a[k].data as BigInt64Array) {
      total++;
      if (v >= 0n) { swapped++; assert.ok(v < BigInt(SELF_CORRECTION_NEIGHBOURS)); } else assert.equal(v, -1n);
    }
  }
  assert.ok(Math.abs(swapped / total - 0.25) < 0.06, `${swapped} of ${total} swapped`);
  assert.notDeepEqual(selfCorrectionSwaps(new Philox(5), 8, 16, pns, 0.25)['swap.s3'].data, a['swap.s3'].data);
});

test('recipe: transformer.self_correction parses, is bounded, and a 0 leaves the fingerprint as before', () => {
  checkOptionalTransformerField('self_correction', 0.1, -1);
});
