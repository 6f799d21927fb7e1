// The prompt prefix cache (HartTransformerOptions.promptCacheBytes): a prompt generated again skips
// its context prefix and step 0, with bitwise the results of running them; a batch mixing cached and
// new prompts runs only the new ones; the byte budget drops the least recently used prompt; the
// cache matches context, position ids and mask bit for bit (PromptPrefixCache on its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { CompiledModel } from '../../../src/runtime/runtime.ts';
import type { HostTensor } from '../../../src/runtime/host-tensor.ts';
import { HartTransformer } from '../../../src/models/transformer/index.ts';
import { PromptPrefixCache } from '../../../src/models/transformer/prompt-prefix-cache.ts';
import type { UncondPrefix } from '../../../src/models/transformer/hart-transformer.ts';
import { float32, tensor } from '../../tables/reference.ts';
import { fixtureModel, hostF32 } from './helpers.ts';

const bytes = (a: Float32Array) => Buffer.from(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);

/** Counts the context-prefix graph's calls and the step-0 row runs (step graph on an empty cache) while `f` runs. */
async function counting<T>(f: () => Promise<T>): Promise<{ result: T; prefixCalls: number; step0Rows: number }> {
  const run = CompiledModel.prototype.run;
  let prefixCalls = 0, step0Rows = 0;
  CompiledModel.prototype.run = function (this: CompiledModel, feeds: Record<string, HostTensor>, ...rest: unknown[]) {
    if ('context' in feeds && !('attention_mask' in feeds)) prefixCalls++;
    const past = feeds['past.0.key'];
    if (past && past.shape[0] === 0) step0Rows += past.shape[1];
    return (run as (...a: unknown[]) => ReturnType<typeof run>).call(this, feeds, ...rest);
  } as typeof run;
  try {
    return { result: await f(), prefixCalls, step0Rows };
  } finally {
    CompiledModel.prototype.run = run;
  }
}

/** The fixture's two prompts (A, B) and a third one (C: A's features halved), as rows of a batch. */
function prompts() {
  const c = float32('ctx.context'); // [2, 8, 32]
  const posT = tensor('ctx.context_position_ids');
  const W = 8 * 32;
  const rows: Record<string, { ctx: Float32Array; pos: number[] }> = {
    A: { ctx: c.slice(0, W), pos: Array.from(posT.data.subarray(0, 8), Number) },
    B: { ctx: c.slice(W, 2 * W), pos: Array.from(posT.data.subarray(8, 16), Number) },
    C: { ctx: c.slice(0, W).map((v) => v * 0.5), pos: Array.from(posT.data.subarray(0, 8), Number) },
  };
  return (names: string[]) => {
    const data = new Float32Array(names.length * W);
    names.forEach((n, b) => data.set(rows[n].ctx, b * W));
    return { context: { dtype: 'float32', shape: [names.length, 8, 32], data } as HostTensor, pos: names.map((n) => rows[n].pos) };
  };
}

/** Every scale's logits and hidden states, the next-scale inputs derived from the fixture's per batch row. */
async function generate(t: HartTransformer, batch: { context: HostTensor; pos: number[][] }, beforeStep0?: () => void) {
  const B = batch.pos.length;
  const gen = await t.begin(batch.context, batch.pos);
  beforeStep0?.();
  const out: Buffer[] = [];
  for (let si = 0; si < t.dims.numScales; si++) {
    let next: HostTensor | undefined;
    if (si > 0) {
      const f = hostF32(`infer.s${si - 1}.next_input`);
      const per = f.data.length / 2;
      const data = new Float32Array(B * per);
      for (let b = 0; b < B; b++) data.set((f.data as Float32Array).subarray((b % 2) * per, (b % 2 + 1) * per), b * per);
      next = { dtype: 'float32', shape: [B, ...f.shape.slice(1)], data };
    }
    const o = await t.step(gen, next);
    out.push(bytes(o.logits_BlV.data as Float32Array), bytes(o.hidden_BlC.data as Float32Array));
  }
  return Buffer.concat(out);
}

test('prompt cache: a prompt again skips its prefix and step 0, bitwise as recomputed; mixed batches run only the new prompts', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 2 });
  const full = await HartTransformer.fromWeights(cfg, store, rt, { reusePrefix: false });
  const cached = await HartTransformer.fromWeights(cfg, store, rt);
  const batch = prompts();
  const first = await counting(() => generate(cached, batch(['A', 'B'])));
  assert.equal(first.result.equals(await generate(full, batch(['A', 'B']))), true, 'first generation');
  // (the first also computes the unconditional prefix: one prefix call, one step-0 row, beside A and B's)
  assert.deepEqual([first.prefixCalls, first.step0Rows], [2, 3]);
  assert.equal(cached.promptCacheUse.prompts, 2);

  const again = await counting(() => generate(cached, batch(['B', 'A', 'B'])));
  assert.equal(again.result.equals(await generate(full, batch(['B', 'A', 'B']))), true, 'cached prompts, another order');
  assert.deepEqual([again.prefixCalls, again.step0Rows], [0, 0], 'nothing recomputed for cached prompts');

  const mixed = await counting(() => generate(cached, batch(['A', 'C', 'C'])));
  assert.equal(mixed.result.equals(await generate(full, batch(['A', 'C', 'C']))), true, 'a cached and a new prompt');
  assert.deepEqual([mixed.prefixCalls, mixed.step0Rows], [1, 1], 'only the new prompt runs, once');
  assert.equal(cached.promptCacheUse.prompts, 3);

  // the caller's buffer changing between begin() and step 0 does not change what is stored under its key
  const d = batch(['B']);
  const fresh = await HartTransformer.fromWeights(cfg, store, rt);
  await generate(fresh, d, () => (d.context.data as Float32Array).fill(7));
  const hit = await counting(() => generate(fresh, batch(['B'])));
  assert.deepEqual([hit.prefixCalls, hit.step0Rows], [0, 0]);
  assert.equal(hit.result.equals(await generate(full, batch(['B']))), true, 'stored under the features begin() saw');
  await rt.dispose();
});

test('prompt cache: the byte budget keeps the most recently used prompts; 0 keeps none', async () => {
  const { cfg, store } = fixtureModel();
  const rt = nodeRuntime({ threads: 2 });
  const batch = prompts();
  const probe = await HartTransformer.fromWeights(cfg, store, rt);
  await generate(probe, batch(['A']));
  const one = probe.promptCacheUse.bytes;
  assert.ok(one > 0);

  const small = await HartTransformer.fromWeights(cfg, store, rt, { promptCacheBytes: Math.floor(one * 1.5) });
  await generate(small, batch(['A']));
  await generate(small, batch(['B'])); // A dropped
  assert.equal(small.promptCacheUse.prompts, 1);
  assert.deepEqual((await counting(() => generate(small, batch(['B'])))).step0Rows, 0, 'B, the most recent, is kept');
  assert.deepEqual((await counting(() => generate(small, batch(['A'])))).step0Rows, 1, 'A was dropped');
  assert.ok(small.promptCacheUse.bytes <= Math.floor(one * 1.5));

  const none = await HartTransformer.fromWeights(cfg, store, rt, { promptCacheBytes: 0 });
  await generate(none, batch(['A']));
  assert.deepEqual((await counting(() => generate(none, batch(['A'])))).step0Rows, 1);
  assert.equal(none.promptCacheUse.prompts, 0);
  await rt.dispose();
});

test('PromptPrefixCache: exact-bit keys (context, position ids, mask), least recently used dropped first', () => {
  const value = (n: number): UncondPrefix => ({
    cond_TC: new Float32Array(n), x_TC: new Float32Array(n),
    step0: { U: 1, key: [new Float32Array(n)], value: [new Float32Array(n)], logits: new Float32Array(n), hidden: new Float32Array(n) },
  });
  const ctx = Float32Array.from({ length: 2048 }, (_, i) => i / 7); // the fingerprint reads every 4th value
  const key = (c: Float32Array, pos = [0, 1, 2, 3], mask?: Float32Array) => ({ context: c, positionIds: pos, mask });
  const entry = 6 * 4 * 16 + 2048 * 4 + 8 * 4; // value + context + positions
  const cache = new PromptPrefixCache(2 * entry + 4 * 4); // two entries, one with a mask
  const v1 = value(16);
  cache.set(key(ctx), v1);
  assert.equal(cache.get(key(Float32Array.from(ctx))), v1, 'an equal copy of the features hits');
  const zeroSign = Float32Array.from(ctx);
  zeroSign[0] = -0; // ctx[0] is +0
  assert.equal(cache.get(key(zeroSign)), undefined, '−0 is not +0 bit for bit');
  const last = Float32Array.from(ctx);
  last[2047] = Math.fround(last[2047] + 1e-3);
  assert.equal(cache.get(key(last)), undefined, 'a change the fingerprint skips still misses');
  assert.equal(cache.get(key(ctx, [0, 1, 2, 2])), undefined, 'other position ids miss');
  assert.equal(cache.get(key(ctx, undefined, new Float32Array(4).fill(1))), undefined, 'a mask where none was stored misses');
  const m = Float32Array.of(1, 1, 0, 0);
  const v2 = value(16);
  cache.set(key(ctx, undefined, m), v2);
  assert.equal(cache.get(key(ctx, undefined, Float32Array.from(m))), v2);
  assert.equal(cache.get(key(ctx)), v1, 'both kept, within the budget; v1 now the most recent');
  assert.equal(cache.count, 2);
  assert.equal(cache.size, 2 * entry + 4 * 4);
  const other = ctx.map((v) => v + 1);
  const v3 = value(16);
  cache.set(key(other), v3); // over budget: drops v2 (least recently used), keeps v1
  assert.equal(cache.get(key(ctx, undefined, m)), undefined);
  assert.equal(cache.get(key(ctx)), v1);
  assert.equal(cache.get(key(other)), v3);
  cache.set(key(ctx), value(16)); // the same key again replaces, not duplicates
  assert.equal(cache.count, 2);
  cache.set(key(Float32Array.from({ length: 2048 }, () => 3)), value(4096)); // larger than the whole budget: not stored
  assert.equal(cache.count, 2);
  assert.throws(() => new PromptPrefixCache(-1), /≥ 0/);
  assert.throws(() => new PromptPrefixCache(1, 0), /prompt count/);
  const few = new PromptPrefixCache(2 ** 30, 2); // a count cap below the byte budget
  const vs = [0, 1, 2].map((k) => { const v = value(16); few.set(key(ctx.map((x) => x + k)), v); return v; });
  assert.equal(few.count, 2);
  assert.equal(few.get(key(ctx)), undefined, 'the oldest went');
  assert.equal(few.get(key(ctx.map((x) => x + 2))), vs[2]);
  assert.equal(new PromptPrefixCache(0).get(key(ctx)), undefined);
});
