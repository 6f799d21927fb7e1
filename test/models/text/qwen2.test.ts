// Qwen2 encoder graphs (src/models/text/{qwen2,encoder,weights}.ts) against an independent float64
// forward of HF's Qwen2Model (reference.ts), on a tiny random model: 2 layers, hidden 64, 4 heads
// over 2 K/V heads (GQA), θ = 1e6, with right, left and interior padding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import type { LoadEvent } from '../../../src/runtime/runtime.ts';
import { Qwen2Encoder, MASK_MIN, qwen2AttentionBias } from '../../../src/models/text/encoder.ts';
import { selectLanguageModelWeights } from '../../../src/models/text/weights.ts';
import { qwen2ParamShapes } from '../../../src/models/text/config.ts';
import { maxAbsDiff, mulberry32, qwen2ReferenceRow, randomQwen2Weights, tinyQwen2Config } from './reference.ts';
import { checkpointSource } from './checkpoint.ts';

const cfg = tinyQwen2Config();
const runtime = nodeRuntime({ threads: 2 });

/** 4 rows of 24 tokens: no padding, right padding, left padding (5 fully masked rows), a hole. */
function batch(seed: number): { ids: Int32Array; mask: Uint8Array; B: number; L: number } {
  const B = 4, L = 24, rnd = mulberry32(seed);
  const ids = Int32Array.from({ length: B * L }, () => Math.floor(rnd() * cfg.vocab_size));
  const mask = new Uint8Array(B * L);
  for (let t = 0; t < L; t++) {
    mask[t] = 1;
    mask[L + t] = t < 15 ? 1 : 0;
    mask[2 * L + t] = t >= 5 ? 1 : 0;
    mask[3 * L + t] = t < 8 || t >= 12 ? 1 : 0;
  }
  return { ids, mask, B, L };
}

function referenceBatch(values: Map<string, Float32Array>, ids: Int32Array, mask: Uint8Array, B: number, L: number): Float64Array {
  const out = new Float64Array(B * L * cfg.hidden_size);
  for (let b = 0; b < B; b++) {
    out.set(qwen2ReferenceRow(cfg, values, ids.subarray(b * L, (b + 1) * L), mask.subarray(b * L, (b + 1) * L)), b * L * cfg.hidden_size);
  }
  return out;
}

test('attention bias: causal plus key padding, float32-min elsewhere', () => {
  const bias = qwen2AttentionBias([1, 0, 1], 1, 3);
  const M = MASK_MIN;
  assert.deepEqual([...bias], [0, M, M, 0, M, M, 0, M, 0].map(Math.fround));
  assert.equal(Math.fround(MASK_MIN), -3.4028234663852886e38);
});

test('tiny Qwen2 (GQA 4/2, θ 1e6) matches the float64 reference with right, left and interior padding', async () => {
  const weights = randomQwen2Weights(cfg, 1);
  const { source, values } = await checkpointSource(cfg, weights, { prefix: 'model.' });
  const enc = await Qwen2Encoder.load(cfg, source, runtime);
  try {
    assert.equal(enc.segmentCount, 1);
    const { ids, mask, B, L } = batch(7);
    const out = await enc.forward(ids, mask, B);
    assert.deepEqual(out.shape, [B, L, cfg.hidden_size]);
    assert.equal(out.dtype, 'float32');
    const ref = referenceBatch(values, ids, mask, B, L);
    const err = maxAbsDiff(out.data as Float32Array, ref);
    assert.ok(err <= 1e-4, `max |ORT − float64 reference| = ${err}`);
    // The check has teeth: the padded rows differ from the same ids without padding.
    const unpadded = referenceBatch(values, ids, new Uint8Array(B * L).fill(1), B, L);
    assert.ok(maxAbsDiff(unpadded, ref) > 0.1);
  } finally {
    await enc.release();
  }
});

test('attention bias with a P-token prefix: every query sees the prefix, then causal plus key padding', () => {
  const M = MASK_MIN;
  assert.deepEqual([...qwen2AttentionBias([1, 0, 1], 1, 3, 2)], [0, 0, 0, M, M, 0, 0, 0, M, M, 0, 0, 0, M, 0].map(Math.fround));
});

test('a cached prefix (the system prompt) gives the hidden states of one forward over prefix + tokens, across segments; it is computed once', async () => {
  const weights = randomQwen2Weights(cfg, 5);
  const { source, values } = await checkpointSource(cfg, weights, { prefix: 'model.' });
  const enc = await Qwen2Encoder.load(cfg, source, runtime, { maxSegmentBytes: 1 });
  try {
    assert.equal(enc.segmentCount, 2);
    const { ids, mask, B, L } = batch(10);
    const rnd = mulberry32(11);
    const P = 9;
    const sys = Array.from({ length: P }, () => Math.floor(rnd() * cfg.vocab_size));
    const prefix = await enc.prefix(sys);
    assert.equal(await enc.prefix([...sys]), prefix, 'the same ids are not computed again');
    assert.deepEqual(prefix.k[1].shape, [1, cfg.num_key_value_heads, 1, P, cfg.head_dim]);
    const out = (await enc.forward(ids, mask, B, prefix)).data as Float32Array;
    // the reference: each row's full sequence (prefix ids, then the row's ids) in float64, its last L positions
    const C = cfg.hidden_size;
    const ref = new Float64Array(B * L * C);
    for (let b = 0; b < B; b++) {
      const rowIds = Int32Array.from([...sys, ...ids.subarray(b * L, (b + 1) * L)]);
      const rowMask = Uint8Array.from([...new Array<number>(P).fill(1), ...mask.subarray(b * L, (b + 1) * L)]);
      ref.set(qwen2ReferenceRow(cfg, values, rowIds, rowMask).subarray(P * C), b * L * C);
    }
    const err = maxAbsDiff(out, ref);
    assert.ok(err <= 1e-4, `max |ORT with prefix − float64 reference over prefix + tokens| = ${err}`);
    // teeth: without the prefix the same tokens give other states
    assert.ok(maxAbsDiff((await enc.forward(ids, mask, B)).data as Float32Array, ref) > 0.1);
    const other = await enc.prefix(sys.slice(1));
    assert.notEqual(other, prefix);
  } finally {
    await enc.release();
  }
});

test('bfloat16 weights under model.language_model., one graph per layer, Qwen2-VL extras skipped', async () => {
  const weights = randomQwen2Weights(cfg, 2);
  const { source, values } = await checkpointSource(cfg, weights, {
    prefix: 'model.language_model.',
    dtype: 'bfloat16',
    extra: { 'model.visual.blocks.0.attn.qkv.weight': [6, 2], 'model.visual.merger.mlp.0.weight': [2, 2], 'lm_head.weight': [cfg.vocab_size, cfg.hidden_size] },
  });
  const enc = await Qwen2Encoder.load(cfg, source, runtime, { maxSegmentBytes: 1 });
  try {
    assert.equal(enc.segmentCount, 2);
    assert.deepEqual(enc.skippedWeights, [{ prefix: 'lm_head.', count: 1 }, { prefix: 'model.visual.', count: 2 }]);
    const { ids, mask, B, L } = batch(8);
    const out = await enc.forward(ids, mask, B);
    const err = maxAbsDiff(out.data as Float32Array, referenceBatch(values, ids, mask, B, L));
    assert.ok(err <= 1e-4, `max |ORT − float64 reference| = ${err}`);
  } finally {
    await enc.release();
  }
  await assert.rejects(enc.forward(new Int32Array(4), new Uint8Array(4).fill(1), 1), /after release/);
});

test('a second load comes from the on-disk model cache, segment by segment, with bitwise the same output; with prepacking too (own entries)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hart-qwen2-cache-'));
  try {
    const weights = randomQwen2Weights(cfg, 4);
    const { ids, mask, B } = batch(9);
    const once = async (prepack?: boolean) => {
      const events: LoadEvent[] = [];
      const rt = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 }, onLoad: (e) => events.push(e) });
      const { source } = await checkpointSource(cfg, weights, { prefix: 'model.' });
      const enc = await Qwen2Encoder.load(cfg, source, rt, { maxSegmentBytes: 1, prepack });
      const out = (await enc.forward(ids, mask, B)).data as Float32Array;
      await enc.release();
      await rt.dispose();
      return { out, sources: events.map((e) => e.source) };
    };
    const cold = await once();
    assert.deepEqual(cold.sources, ['compiled', 'compiled']);
    const warm = await once();
    assert.deepEqual(warm.sources, ['disk-cache', 'disk-cache']);
    assert.ok(Buffer.from(warm.out.buffer).equals(Buffer.from(cold.out.buffer)), 'the cached segments compute other bits');
    // with ONNX Runtime's prepacking (an option; off by default): entries of their own (ONNX Runtime's
    // optimized copies, where the unpacked graphs keep the emitted ones), the same values up to rounding
    const packed = await once(true);
    assert.deepEqual(packed.sources, ['compiled', 'compiled']);
    assert.deepEqual((await once(true)).sources, ['disk-cache', 'disk-cache']);
    const err = maxAbsDiff(packed.out, Float64Array.from(cold.out));
    assert.ok(err <= 1e-5, `prepack on vs off: max |Δ| ${err}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the system prompt\'s keys/values are persisted in the disk cache and read by a later load (bitwise); a damaged blob is recomputed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hart-qwen2-prefix-'));
  try {
    const weights = randomQwen2Weights(cfg, 6);
    const sys = [5, 9, 2, 44, 17, 3, 8];
    const once = async (damage = false) => {
      const rt = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 } });
      const reads: boolean[] = [];
      const read = rt.readDerived.bind(rt);
      rt.readDerived = async (name, models) => { const r = await read(name, models); reads.push(r !== undefined); return r; };
      const { source } = await checkpointSource(cfg, weights, { prefix: 'model.' });
      const enc = await Qwen2Encoder.load(cfg, source, rt, { maxSegmentBytes: 1 });
      if (damage) await rt.writeDerived(`qwen2-prefix-v1:${sys.join(',')}`, (enc as unknown as { segments: never[] }).segments, new Uint8Array([1, 2, 3]));
      const p = await enc.prefix(sys);
      const bytes = [...p.k, ...p.v].map((t) => Buffer.from((t.data as Float32Array).slice().buffer));
      await enc.release();
      await rt.dispose();
      return { reads, bytes };
    };
    const cold = await once();
    assert.deepEqual(cold.reads, [false]);
    const warm = await once();
    assert.deepEqual(warm.reads, [true]);
    warm.bytes.forEach((b, i) => assert.ok(b.equals(cold.bytes[i]), `array ${i} differs when read from the cache`));
    const damaged = await once(true);
    assert.deepEqual(damaged.reads, [true]);
    damaged.bytes.forEach((b, i) => assert.ok(b.equals(cold.bytes[i]), `array ${i} differs after recomputing`));
    assert.deepEqual((await once()).reads, [true]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forwardPersisted: rows kept in the disk cache are read by a later load (bitwise the batch forward); new rows computed, a damaged one recomputed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hart-qwen2-rows-'));
  try {
    const weights = randomQwen2Weights(cfg, 8);
    const sys = [5, 9, 2];
    const rows = { a: { ids: [7, 3, 0, 0], mask: [1, 1, 0, 0] }, b: { ids: [11, 12, 13, 1], mask: [1, 1, 1, 1] }, c: { ids: [7, 3, 9, 0], mask: [1, 1, 1, 0] } };
    const once = async (names: (keyof typeof rows)[], damage?: keyof typeof rows) => {
      const rt = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 } });
      const reads: boolean[] = [];
      const read = rt.readDerived.bind(rt);
      rt.readDerived = async (name, models) => {
        const r = await read(name, models);
        if (name.startsWith('qwen2-hidden')) reads.push(r !== undefined);
        return r;
      };
      const { source } = await checkpointSource(cfg, weights, { prefix: 'model.' });
      const enc = await Qwen2Encoder.load(cfg, source, rt, { maxSegmentBytes: 1 });
      const p = await enc.prefix(sys);
      const ids = names.flatMap((n) => rows[n].ids), mask = names.flatMap((n) => rows[n].mask);
      if (damage) {
        const r = rows[damage];
        await rt.writeDerived(`qwen2-hidden-v1:${sys.join(',')}|${r.ids.join(',')}|${r.mask.join('')}`, (enc as unknown as { segments: never[] }).segments, new Uint8Array([1, 2, 3]));
      }
      const got = Buffer.from(((await enc.forwardPersisted(ids, mask, names.length, p)).data as Float32Array).slice().buffer);
      const want = Buffer.from(((await enc.forward(ids, mask, names.length, p)).data as Float32Array).slice().buffer);
      await enc.release();
      await rt.dispose();
      return { reads, same: got.equals(want) };
    };
    const first = await once(['a', 'b']);
    assert.deepEqual(first, { reads: [false, false], same: true });
    const second = await once(['b', 'c', 'a']); // another batch: b and a from the disk cache, c computed
    assert.deepEqual(second, { reads: [true, false, true], same: true });
    const damaged = await once(['c'], 'c');
    assert.deepEqual(damaged, { reads: [true], same: true }, 'a damaged row is recomputed');
    assert.deepEqual((await once(['c'])).reads, [true]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weight names: prefixes, skipped prefixes, missing and unexpected weights', () => {
  const canon = [...qwen2ParamShapes(cfg).keys()];
  const bare = selectLanguageModelWeights(canon, cfg);
  assert.equal(bare.prefix, '');
  assert.equal(bare.names.get('layers.1.mlp.up_proj.weight'), 'layers.1.mlp.up_proj.weight');
  assert.deepEqual(bare.skipped, []);

  const vl = selectLanguageModelWeights([...canon.map((k) => `model.${k}`), 'visual.patch_embed.proj.weight', 'visual.blocks.0.norm1.weight', 'lm_head.weight', 'model.layers.0.self_attn.rotary_emb.inv_freq'], cfg);
  assert.equal(vl.prefix, 'model.');
  assert.equal(vl.names.get('norm.weight'), 'model.norm.weight');
  assert.equal(vl.names.size, canon.length);
  assert.deepEqual(vl.skipped, [{ prefix: 'visual.', count: 2 }, { prefix: 'lm_head.', count: 1 }]);

  assert.throws(() => selectLanguageModelWeights(canon.filter((k) => k !== 'layers.0.self_attn.k_proj.bias'), cfg), /lacks 1 weight.*layers\.0\.self_attn\.k_proj\.bias/);
  assert.throws(() => selectLanguageModelWeights([...canon, 'layers.2.input_layernorm.weight'], cfg), /does not use.*layers\.2\./);
  assert.throws(() => selectLanguageModelWeights(['visual.a', 'lm_head.weight'], cfg), /no Qwen2 language-model weights/);
});

test('a weight whose shape disagrees with the config is named in the error', async () => {
  const weights = randomQwen2Weights(cfg, 3);
  weights.set('layers.1.self_attn.k_proj.bias', new Float32Array(cfg.hidden_size));
  const { source } = await checkpointSource(cfg, weights, { prefix: '' });
  await assert.rejects(Qwen2Encoder.load(cfg, source, runtime), /layers\.1\.self_attn\.k_proj\.bias has shape \[64\], the config implies \[32\]/);
});
