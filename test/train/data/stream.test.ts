// Streaming batches: batch(step) is a pure function of (seed, step) (a resumed run equals an
// uninterrupted one), slots hold exactly the emoji / scene they name, mixing and balancing follow
// their weights, held-out emoji never appear, and the prefetcher builds step+1 in the background.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EMOJI_CAPTION_SOURCE, emojiRecords, emojiWeights, type EmojiDataset } from '../../../src/train/data/emoji.node.ts';
import { renderScene, sceneSpec } from '../../../src/train/data/scenes.ts';
import { BatchSource, Prefetcher, hwcToChwUnit, type Batch } from '../../../src/train/data/stream.ts';

// Real records (every held-out one and every 8th other), synthetic pixels: fast and checkable.
const records = emojiRecords().filter((r, i) => r.heldOut || i % 8 === 0);
const S = 64;
const pixels = new Uint8Array(records.length * S * S * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + (i >> 13)) & 255;
const emoji: EmojiDataset = { size: S, records, pixels, licences: [], captionSource: EMOJI_CAPTION_SOURCE };

const digest = (b: Batch) => createHash('sha256').update(new Uint8Array(b.images.buffer)).update(b.captions.join('\n')).digest('hex');

test('[-1, 1] mapping: 0 → −1, 255 → 1, v → (fround(v/255) − 0.5)/0.5 in float32', () => {
  const rgb = new Uint8Array([0, 128, 255]);
  const out = new Float32Array(3);
  hwcToChwUnit(rgb, out, 0, 1);
  assert.deepEqual([...out], [-1, Math.fround((Math.fround(128 / 255) - 0.5) / 0.5), 1]);
});

test('batch(step) is a pure function of (seed, step): same bytes from a fresh source, in any order, sync or async', async () => {
  const opts = { seed: 42, batchSize: 12, weights: { emoji: 1, scenes: 1 }, emoji };
  const a = new BatchSource(opts), b = new BatchSource(opts);
  const d3 = digest(a.batch(3));
  for (let s = 0; s < 3; s++) b.batch(s);
  assert.equal(digest(b.batch(3)), d3);
  assert.equal(digest(await a.batchAsync(3, 5)), d3);
  assert.notEqual(digest(a.batch(4)), d3);
  assert.notEqual(digest(new BatchSource({ ...opts, seed: 43 }).batch(3)), d3);
  // a run resumed at step 5 with a prefetcher sees the batches of an uninterrupted one
  const p = new Prefetcher(new BatchSource(opts), 5, 3);
  for (let s = 5; s < 8; s++) {
    const got = await p.next();
    assert.equal(got.step, s);
    assert.equal(digest(got), digest(a.batch(s)));
  }
});

test('each slot holds what it names: the emoji record or scene t·B + b, as [3, 64, 64] floats', () => {
  const B = 16, step = 9;
  const src = new BatchSource({ seed: 5, batchSize: B, weights: { emoji: 1, scenes: 1 }, emoji });
  const batch = src.batch(step);
  assert.equal(batch.images.length, B * 3 * S * S);
  assert.ok(batch.sources.includes('emoji') && batch.sources.includes('scene'));
  const chw = new Float32Array(3 * S * S);
  for (let b = 0; b < B; b++) {
    const item = batch.items[b];
    let rgb: Uint8Array;
    if (batch.sources[b] === 'emoji') {
      rgb = pixels.subarray(item * S * S * 3, (item + 1) * S * S * 3);
      assert.equal(batch.captions[b], records[item].caption);
    } else {
      assert.equal(item, step * B + b);
      const scene = sceneSpec(5, 'train', item);
      rgb = renderScene(scene);
      assert.equal(batch.captions[b], scene.caption);
    }
    hwcToChwUnit(rgb, chw, 0);
    assert.deepEqual(batch.images.subarray(b * 3 * S * S, (b + 1) * 3 * S * S), chw);
    // channel-major: element (c, y, x) is byte (y, x, c)
    assert.equal(batch.images[b * 3 * S * S + 2 * S * S + 5 * S + 7], chw[2 * S * S + 5 * S + 7]);
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of batch.images) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  assert.ok(lo >= -1 && hi <= 1);
});

test('mixing weights, balanced emoji sampling, no held-out emoji', () => {
  const B = 64, steps = 40;
  const src = new BatchSource({ seed: 1, batchSize: B, weights: { emoji: 1, scenes: 3 }, emoji });
  const bal = new BatchSource({ seed: 1, batchSize: B, weights: { emoji: 1 }, emoji });
  const uni = new BatchSource({ seed: 1, batchSize: B, weights: { emoji: 1 }, emoji, emojiSampling: 'uniform' });
  let nEmoji = 0;
  const variantShare = (s: BatchSource) => {
    let v = 0;
    for (let t = 0; t < steps; t++) for (const i of s.plan(t).items) { assert.equal(records[i].heldOut, false); if (records[i].variant) v++; }
    return v / (B * steps);
  };
  for (let t = 0; t < steps; t++) nEmoji += src.plan(t).sources.filter((x) => x === 'emoji').length;
  const n = B * steps;
  assert.ok(Math.abs(nEmoji / n - 0.25) < 4 * Math.sqrt(0.25 * 0.75 / n), `emoji share ${nEmoji / n}`);
  // Expected share of skin-tone variants under each weighting, from the weights themselves.
  const train = records.map((r, i) => [r, i] as const).filter(([r]) => !r.heldOut);
  const expected = (w: Float64Array) => train.reduce((s, [r, i]) => s + (r.variant ? w[i] : 0), 0) / train.reduce((s, [, i]) => s + w[i], 0);
  const eb = expected(emojiWeights(records, 'balanced')), eu = expected(emojiWeights(records, 'uniform'));
  const sd = (p: number) => 4 * Math.sqrt(p * (1 - p) / n);
  const vb = variantShare(bal), vu = variantShare(uni);
  assert.ok(Math.abs(vb - eb) < sd(eb), `balanced variant share ${vb} vs ${eb}`);
  assert.ok(Math.abs(vu - eu) < sd(eu), `uniform variant share ${vu} vs ${eu}`);
  assert.ok(eb < eu);
  assert.throws(() => new BatchSource({ seed: 1, batchSize: 4, weights: { emoji: 1 } }), /no emoji dataset/);
  assert.throws(() => new BatchSource({ seed: 1, batchSize: 4, weights: {} }), /positive sum/);
  assert.deepEqual(new BatchSource({ seed: 1, batchSize: 8, weights: { scenes: 1 } }).plan(0).sources, Array(8).fill('scene'));
});

test('prefetcher: batch step+1 is built while the caller awaits step (event loop free)', async () => {
  const src = new BatchSource({ seed: 2, batchSize: 8, weights: { emoji: 1, scenes: 1 }, emoji });
  const p = new Prefetcher(src, 0, 2);
  await p.next();
  assert.equal(p.prefetched, false); // started, not finished: it yields between chunks
  await new Promise((r) => setTimeout(r, 200)); // a "training step" that leaves the JS thread idle
  assert.equal(p.prefetched, true);
  assert.equal(digest(await p.next()), digest(src.batch(1)));
});

test('worker prefetcher: the same batches from another thread, resumable at any step', async () => {
  const { WorkerPrefetcher } = await import('../../../src/train/data/prefetch-worker.node.ts');
  const opts = { seed: 42, batchSize: 6, weights: { emoji: 1, scenes: 1 }, emoji };
  const src = new BatchSource(opts);
  const w = new WorkerPrefetcher(opts, 7);
  try {
    for (let s = 7; s < 10; s++) {
      const got = await w.next();
      assert.equal(got.step, s);
      assert.deepEqual(got.captions, src.batch(s).captions);
      assert.equal(digest(got), digest(src.batch(s)));
    }
  } finally {
    await w.close();
  }
  assert.throws(() => new WorkerPrefetcher({ ...opts, batchSize: 0 }), /batchSize/);
});
