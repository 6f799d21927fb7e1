// Step-0 reuse (HartTransformerOptions.reusePrefix): the unconditional half's context prefix
// computed once per model, and one step-0 row per distinct prompt of a batch, must give bitwise
// the same logits, hidden states and K/V caches as running every CFG row, at every scale — on the
// fixture (whose logits also stay within the official run's tolerance) and on the AdaLN variants
// whose blocks read the context (max / masked-average pooling); and the same images end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import type { HostTensor } from '../../../src/runtime/host-tensor.ts';
import { HartTransformer, expectedWeights, parseHartConfig, type HARTForT2IConfig } from '../../../src/models/transformer/index.ts';
import { MapWeightStore, type StoredTensor, type WeightStore } from '../../../src/nn/index.ts';
import { diskFiles } from '../../../src/io/file-access.node.ts';
import { loadHart } from '../../../src/pipeline/load.ts';
import { runGeneration } from '../../../src/pipeline/generate-loop.ts';
import { resolveOptions } from '../../../src/pipeline/options.ts';
import { fixtureDir } from '../../fixtures.ts';
import { float32, tensor } from '../../tables/reference.ts';
import { fixtureModel, hostF32, report } from './helpers.ts';

const bytes = (t: HostTensor | Float32Array) => Buffer.from(('data' in t ? t.data : t).buffer as ArrayBuffer,
  ('data' in t ? t.data : t).byteOffset, ('data' in t ? t.data : t).byteLength);

/** Runs every scale with the given next-scale inputs; returns each step's outputs and the caches after step 0 and at the end. */
async function run(t: HartTransformer, context: HostTensor, pos: number[][], nextInputs: (si: number) => HostTensor, mask?: HostTensor) {
  const gen = await t.begin(context, pos, mask);
  const outs = [];
  let cacheAfter0: Buffer[] = [];
  for (let si = 0; si < t.dims.numScales; si++) {
    const out = await t.step(gen, si === 0 ? undefined : nextInputs(si));
    outs.push(out);
    if (si === 0) cacheAfter0 = Object.values(gen.past).map((p) => Buffer.from(bytes(p).subarray(0, t.dims.T * 2 * gen.B * t.dims.C * 4)));
  }
  return { gen, outs, cacheAfter0 };
}

function assertSameRuns(a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>, what: string) {
  assert.equal(a.outs.length, b.outs.length);
  a.outs.forEach((o, si) => {
    assert.deepEqual(o.logits_BlV.shape, b.outs[si].logits_BlV.shape, `${what}: scale ${si} logits shape`);
    assert.ok(bytes(o.logits_BlV).equals(bytes(b.outs[si].logits_BlV)), `${what}: scale ${si} logits differ`);
    assert.ok(bytes(o.hidden_BlC).equals(bytes(b.outs[si].hidden_BlC)), `${what}: scale ${si} hidden differs`);
  });
  a.cacheAfter0.forEach((c, k) => assert.ok(c.equals(b.cacheAfter0[k]), `${what}: K/V cache ${k} after step 0 differs`));
  assert.ok(bytes(a.gen.cond_BD).equals(bytes(b.gen.cond_BD)), `${what}: cond_BD differs`);
}

test('prefix reuse: bitwise the same steps as all 2B rows on the fixture, and still the official logits', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 2 });
  const full = await HartTransformer.fromWeights(cfg, store, rt, { reusePrefix: false });
  const reuse = await HartTransformer.fromWeights(cfg, store, rt);
  const posT = tensor('ctx.context_position_ids');
  const pos = [Array.from(posT.data.subarray(0, 8)), Array.from(posT.data.subarray(8, 16))];
  const next = (si: number) => hostF32(`infer.s${si - 1}.next_input`);
  const ctx = hostF32('ctx.context');
  const a = await run(full, ctx, pos, next);
  // twice: the second generation takes the unconditional prefix from the model's constants
  for (let k = 0; k < 2; k++) {
    const b = await run(reuse, ctx, pos, next);
    assertSameRuns(a, b, `generation ${k + 1}`);
  }
  // an independent reference: the official run's raw logits per scale
  const b = await run(reuse, ctx, pos, next);
  let worst = 0;
  for (let si = 0; si < 7; si++) worst = Math.max(worst, report(`s${si}`, b.outs[si].logits_BlV.data as Float32Array, float32(`infer.s${si}.logits_raw`)));
  assert.ok(worst < 1e-4, `logits vs official ${worst}`);
  await rt.dispose();
});

test('prefix reuse: a batch with a repeated prompt equals the rows run one by one, bitwise', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 2 });
  const full = await HartTransformer.fromWeights(cfg, store, rt, { reusePrefix: false });
  const reuse = await HartTransformer.fromWeights(cfg, store, rt);
  const c = float32('ctx.context'); // [2, 8, 32]
  const posT = tensor('ctx.context_position_ids');
  const rowsOf = [0, 1, 0]; // prompt A, prompt B, prompt A again
  const W = 8 * 32;
  const context: HostTensor = { dtype: 'float32', shape: [3, 8, 32], data: new Float32Array(3 * W) };
  rowsOf.forEach((r, b) => (context.data as Float32Array).set(c.subarray(r * W, (r + 1) * W), b * W));
  const pos = rowsOf.map((r) => Array.from(posT.data.subarray(r * 8, r * 8 + 8)));
  // next-scale inputs differ per image (as sampling makes them): rows 0, 1 from the fixture, row 2 shifted
  const next = (si: number) => {
    const f = hostF32(`infer.s${si - 1}.next_input`); // [2, Cv, pn, pn]
    const per = f.data.length / 2;
    const data = new Float32Array(3 * per);
    data.set(f.data as Float32Array);
    for (let k = 0; k < per; k++) data[2 * per + k] = (f.data as Float32Array)[k] * 0.5 + 0.25;
    return { dtype: 'float32' as const, shape: [3, ...f.shape.slice(1)], data };
  };
  const a = await run(full, context, pos, next);
  const b = await run(reuse, context, pos, next);
  assert.deepEqual(b.gen.prefixSource, [0, 1, 0], 'step 0 ran once per distinct prompt');
  assertSameRuns(a, b, 'B = 3 with a repeated prompt');
  await rt.dispose();
});

/** Deterministic pseudo-random weights for a config (as variants.test.ts). */
function randomStore(cfg: HARTForT2IConfig, V: number, Cvae: number, seed: number): WeightStore {
  let s = seed >>> 0;
  const r = () => { s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0; return ((s >>> 0) / 2 ** 32) * 2 - 1; };
  const m = new Map<string, StoredTensor>();
  for (const [name, shape] of expectedWeights(cfg, V, Cvae)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? shape[shape.length - 1] : 1;
    const gen = /norm|ln_wo_grad/.test(name) ? () => 1 + 0.25 * r() : name.endsWith('bias') ? () => 0.2 * r() : () => (1.7 * r()) / Math.sqrt(fanIn);
    m.set(name, { dtype: 'float32', shape, data: Float32Array.from({ length: n }, gen) });
  }
  return new MapWeightStore(m);
}

test('prefix reuse: AdaLN blocks that pool the context (max, masked average) give the same steps bitwise', async () => {
  const rt = nodeRuntime({ threads: 2 });
  const V = 24, Cvae = 4, T = 5, D = 12;
  for (const mode of ['max', 'avg']) {
    const cfg = parseHartConfig({
      context_token: T, context_dim: D, depth: 2, embed_dim: 16, num_heads: 2, mlp_type: 'llama', attn_type: 'llama',
      patch_nums: [1, 2, 3], use_timestep_embed: true, use_context_norm: true, disable_aln: false, sep_aln_pooling_mode: mode,
    });
    const store = randomStore(cfg, V, Cvae, 7);
    const opts = { vocabSize: V, Cvae };
    const full = await HartTransformer.fromWeights(cfg, store, rt, { ...opts, reusePrefix: false });
    const reuse = await HartTransformer.fromWeights(cfg, store, rt, opts);
    const ctx = Float32Array.from({ length: 2 * T * D }, (_, k) => Math.sin(k * 0.37));
    const context: HostTensor = { dtype: 'float32', shape: [2, T, D], data: ctx };
    const pos = [[0, 1, 2, 2, 2], [0, 1, 2, 3, 3]];
    const mask: HostTensor = { dtype: 'float32', shape: [2, T], data: Float32Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 0]) };
    const next = (si: number): HostTensor => {
      const pn = cfg.patch_nums[si];
      return { dtype: 'float32', shape: [2, Cvae, pn, pn], data: Float32Array.from({ length: 2 * Cvae * pn * pn }, (_, k) => Math.cos(k + si)) };
    };
    assertSameRuns(await run(full, context, pos, next, mask), await run(reuse, context, pos, next, mask), `pooling ${mode}`);
  }
  await rt.dispose();
});

test('prefix reuse: the same images end to end (fixture pipeline, two generations)', async () => {
  const rt = nodeRuntime({ threads: 2 });
  const parts = await loadHart(diskFiles(fixtureDir()), rt);
  const { cfg, store } = fixtureModel();
  const ctxT = tensor('ctx.context');
  const posT = tensor('ctx.context_position_ids');
  const positionIds = [0, 1].map((b) => Array.from(posT.data.subarray(b * 8, b * 8 + 8)));
  const context = { dtype: 'float32' as const, shape: ctxT.shape, data: Float32Array.from(ctxT.data) };
  const images = async (transformer: HartTransformer) => {
    const out = await runGeneration({ ...parts, transformer }, { context, positionIds }, resolveOptions(2, { seed: 3, cfg: 4.5, moreSmooth: true }));
    return Buffer.concat(out.map((im) => bytes(im.data)));
  };
  const want = await images(await HartTransformer.fromWeights(cfg, store, rt, { reusePrefix: false }));
  const reuse = await HartTransformer.fromWeights(cfg, store, rt);
  assert.ok((await images(reuse)).equals(want), 'first generation');
  assert.ok((await images(reuse)).equals(want), 'second generation (unconditional prefix from the model)');
  await rt.dispose();
});

test('prefix reuse: the unconditional prefix persisted in the disk cache is read by a later load (same steps bitwise), and a damaged file is recomputed', async () => {
  const { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'hart-prefix-cache-'));
  try {
    const { cfg, store } = fixtureModel();
    const posT = tensor('ctx.context_position_ids');
    const pos = [Array.from(posT.data.subarray(0, 8)), Array.from(posT.data.subarray(8, 16))];
    const next = (si: number) => hostF32(`infer.s${si - 1}.next_input`);
    const ctx = hostF32('ctx.context');
    const fresh = async () => {
      const rt = nodeRuntime({ threads: 2, modelCache: { dir, minBytes: 0 } });
      return { rt, t: await HartTransformer.fromWeights(cfg, store, rt) };
    };
    const first = await fresh();
    const a = await run(first.t, ctx, pos, next);
    await first.rt.dispose();
    const blobs = readdirSync(dir).map((e) => join(dir, e, 'blob.bin')).filter((p) => existsSync(p));
    assert.equal(blobs.length, 1, 'one persisted prefix');
    const original = readFileSync(blobs[0]);
    // a later process reads it: same steps bitwise
    const second = await fresh();
    assertSameRuns(a, await run(second.t, ctx, pos, next), 'prefix from the disk cache');
    await second.rt.dispose();
    // it is really read: a changed value in the file shows in the unconditional rows' step-0 hidden states
    const poisoned = Buffer.from(original);
    poisoned.writeFloatLE(poisoned.readFloatLE(poisoned.length - 4) + 1, poisoned.length - 4);
    writeFileSync(blobs[0], poisoned);
    const third = await fresh();
    const c = await run(third.t, ctx, pos, next);
    await third.rt.dispose();
    const h = c.outs[0].hidden_BlC.data as Float32Array, hw = a.outs[0].hidden_BlC.data as Float32Array;
    assert.notEqual(h[h.length - 1], hw[hw.length - 1]);
    // a truncated file is ignored: the prefix is computed again
    writeFileSync(blobs[0], original.subarray(0, original.length - 8));
    const fourth = await fresh();
    assertSameRuns(a, await run(fourth.t, ctx, pos, next), 'truncated file recomputed');
    await fourth.rt.dispose();
    assert.ok(readFileSync(blobs[0]).equals(original), 'the damaged file was replaced by a whole one');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
