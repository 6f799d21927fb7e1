// Prompts generated again (PipelineOptions.promptCacheBytes): their text encodings and the
// transformer's conditional step 0 are reused, with bitwise the images of a pipeline that keeps
// nothing; a batch mixing known and new prompts encodes only the new ones; with every prompt known,
// a pipeline that releases its text encoder never loads it. PromptEncodingCache on its own below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { HartPipeline, type PromptEncoder } from '../../src/pipeline/hart-pipeline.ts';
import { resolveModel } from '../../src/pipeline/default-model.node.ts';
import { joinEncoded, PromptEncodingCache, splitEncoded, type EncodedPrompt } from '../../src/pipeline/prompt-cache.ts';

const bytes = (a: Float32Array) => Buffer.from(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);

async function pipeline(promptCacheBytes: number | undefined, keepTextEncoder = true) {
  const runtime = nodeRuntime({ threads: 2 });
  const model = await resolveModel();
  const log = { loads: 0, encoded: [] as string[][] };
  const textEncoder = async (): Promise<PromptEncoder> => {
    log.loads++;
    const enc = await model.textEncoder(runtime);
    return {
      encodePrompts: (p, o) => { log.encoded.push([...p]); return enc.encodePrompts(p, o); },
      release: () => enc.release?.() ?? Promise.resolve(),
    };
  };
  const pipe = await HartPipeline.fromPretrained(model.files, { runtime, textEncoder, keepTextEncoder, promptCacheBytes });
  return { pipe, log, runtime };
}

test('prompt cache: prompts again reuse their encodings and step 0, with the images of a pipeline that keeps nothing', async () => {
  const cached = await pipeline(undefined);
  const plain = await pipeline(0);
  const calls: [string[], number[]][] = [
    [['a red circle', 'twemoji: rocket'], [3, 4]],
    [['twemoji: rocket', 'a blue square', 'a red circle', 'a blue square'], [5, 6, 7, 8]],
    [['a red circle'], [3]],
  ];
  for (const [prompts, seeds] of calls) {
    const a = await cached.pipe.generate(prompts, { seeds });
    const b = await plain.pipe.generate(prompts, { seeds });
    assert.deepEqual(a.truncated, b.truncated);
    assert.deepEqual(a.missingWords, b.missingWords);
    a.images.forEach((im, k) => assert.ok(bytes(im.data).equals(bytes(b.images[k].data)), `${prompts[k]} (seed ${seeds[k]}) differs`));
  }
  assert.deepEqual(cached.log.encoded, [['a red circle', 'twemoji: rocket'], ['a blue square']], 'only new prompts are encoded, once each');
  assert.equal(plain.log.encoded.length, 3);
  assert.equal(cached.pipe.model.transformer.promptCacheUse.prompts, 3);
  assert.equal(plain.pipe.model.transformer.promptCacheUse.prompts, 0);
  // a changed result array does not reach the cache
  const r = await cached.pipe.generate('twemoji: rocket', { seed: 1 });
  r.missingWords[0].push('changed');
  assert.deepEqual((await cached.pipe.generate('twemoji: rocket', { seed: 1 })).missingWords, [[]]);
  await cached.runtime.dispose();
  await plain.runtime.dispose();
});

test('prompt cache: a pipeline that releases its text encoder does not load it for known prompts', async () => {
  const { pipe, log, runtime } = await pipeline(undefined, false);
  await pipe.generate(['a green triangle'], { seed: 1 });
  await pipe.generate(['a green triangle', 'a green triangle'], { seeds: [2, 3] });
  assert.equal(log.loads, 1);
  await pipe.generate(['a pink star'], { seed: 1 });
  assert.equal(log.loads, 2);
  await runtime.dispose();
});

test('text encoder: concurrent first calls share one load; a releasing pipeline releases it once, after the last; a failed load is retried', async () => {
  const runtime = nodeRuntime({ threads: 2 });
  const model = await resolveModel();
  for (const keepTextEncoder of [true, false]) {
    const log = { loads: 0, releases: 0, active: 0, releasedWhileActive: false, fail: 1 };
    const textEncoder = async (): Promise<PromptEncoder> => {
      log.loads++;
      await new Promise((r) => setTimeout(r, 20)); // both calls arrive while it loads
      if (log.fail-- > 0) throw new Error('disk on fire');
      const enc = await model.textEncoder(runtime);
      return {
        encodePrompts: async (p, o) => {
          log.active++;
          try { await new Promise((r) => setTimeout(r, 10)); return await enc.encodePrompts(p, o); } finally { log.active--; }
        },
        release: async () => { log.releases++; if (log.active > 0) log.releasedWhileActive = true; await enc.release?.(); },
      };
    };
    const pipe = await HartPipeline.fromPretrained(model.files, { runtime, textEncoder, keepTextEncoder, promptCacheBytes: 0 });
    const failed = await Promise.allSettled([pipe.generate('a red circle', { seed: 1 }), pipe.generate('a blue star', { seed: 2 })]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    assert.match(String((failed[0] as PromiseRejectedResult).reason), /disk on fire/);
    assert.equal(log.loads, 1, 'one load for both calls');
    const [a, b] = await Promise.all([pipe.generate('a red circle', { seed: 1 }), pipe.generate('a blue star', { seed: 2 })]);
    assert.equal(a.images.length + b.images.length, 2);
    assert.equal(log.loads, 2, 'the failed load is retried once, for both calls');
    assert.equal(log.releasedWhileActive, false);
    assert.equal(log.releases, keepTextEncoder ? 0 : 1);
    await pipe.dispose();
    assert.equal(log.releases, 1);
  }
  await runtime.dispose();
});

test('PromptEncodingCache: rows split and joined back, least recently used dropped within the budget', () => {
  const T = 3, D = 2;
  const enc = {
    context: { dtype: 'float32' as const, shape: [2, T, D], data: Float32Array.from({ length: 2 * T * D }, (_, i) => i) },
    mask: { dtype: 'bool' as const, shape: [2, T], data: Uint8Array.of(1, 1, 0, 1, 0, 0) },
    positionIds: { dtype: 'int64' as const, shape: [2, T], data: BigInt64Array.of(0n, 1n, 1n, 0n, 0n, 0n) },
    truncated: [false, true],
    missingWords: [['zorb'], []],
  };
  const rows = splitEncoded(enc);
  assert.deepEqual(rows[1].positionIds, [0, 0, 0]);
  const j = joinEncoded([rows[1], rows[0], rows[1]]);
  assert.deepEqual(j.context.shape, [3, T, D]);
  assert.deepEqual([...j.context.data], [6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(j.mask.dtype, 'bool');
  assert.deepEqual([...j.mask.data], [1, 0, 0, 1, 1, 0, 1, 0, 0]);
  assert.deepEqual(j.truncated, [true, false, true]);
  assert.deepEqual(j.missingWords, [[], ['zorb'], []]);

  const key = (p: string) => PromptEncodingCache.key(p, T, true);
  assert.notEqual(PromptEncodingCache.key('a', 3, true), PromptEncodingCache.key('a', 3, false));
  const one = (e: EncodedPrompt, k: string) => e.context.byteLength + e.mask.byteLength + 8 * T + 2 * k.length + e.missingWords.reduce((n, w) => n + 2 * w.length, 0);
  const cache = new PromptEncodingCache(one(rows[0], key('a')) + one(rows[1], key('b')));
  cache.set(key('a'), rows[0]);
  cache.set(key('b'), rows[1]);
  assert.equal(cache.get(key('a')), rows[0]); // a is now the most recent
  cache.set(key('c'), rows[1]); // over budget: b goes
  assert.equal(cache.get(key('b')), undefined);
  assert.equal(cache.get(key('a')), rows[0]);
  assert.equal(cache.get(key('c')), rows[1]);
  assert.equal(cache.count, 2);
  const none = new PromptEncodingCache(0);
  none.set(key('a'), rows[0]);
  assert.equal(none.count, 0);
  assert.throws(() => new PromptEncodingCache(Number.NaN), /≥ 0/);
  const few = new PromptEncodingCache(2 ** 30, 1); // a count cap below the byte budget
  few.set(key('a'), rows[0]);
  few.set(key('b'), rows[1]);
  assert.deepEqual([few.count, few.get(key('a')), few.get(key('b'))], [1, undefined, rows[1]]);
});
