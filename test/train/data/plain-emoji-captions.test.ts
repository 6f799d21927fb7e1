// Plain emoji captions (transformer data, `transformer.plain_emoji_captions`): the forms, the labels
// that keep their styled caption (the scenes' shape words, so no plain caption is a scenes caption or
// names a held-out pair), words the shipped caption tokenizer knows, and a batch's pixels unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EMOJI_CAPTION_SOURCE, emojiRecords, type EmojiDataset } from '../../../src/train/data/emoji.node.ts';
import { plainEmojiCaption } from '../../../src/train/data/emoji-join.ts';
import { parseCaption } from '../../../src/train/data/scene-vocab.ts';
import { BatchSource } from '../../../src/train/data/stream.ts';
import { checkOptionalTransformerField } from '../recipe-field.ts';
import { captionWords } from '../../../src/train/data/caption-tokenizer.ts';

test('the forms: the label alone or with its article; never a scenes shape', () => {
  assert.equal(plainEmojiCaption('red apple', 0.2), 'red apple');
  assert.equal(plainEmojiCaption('red apple', 0.7), 'a red apple');
  assert.equal(plainEmojiCaption('octopus', 0.9), 'an octopus');
  assert.equal(plainEmojiCaption('waving hand: medium skin tone', 0.9), 'a waving hand: medium skin tone');
  for (const label of ['blue circle', 'star', 'black large square', 'red triangle pointed up', 'glowing star', 'shooting stars']) {
    assert.equal(plainEmojiCaption(label, 0.9), null, label);
  }
  assert.equal(plainEmojiCaption('starfish', 0.1), 'starfish'); // a word that merely begins like one
});

test('plain captions of every training emoji: no scenes caption, known words (articles aside)', () => {
  const vocab = JSON.parse(readFileSync('models/default/text_encoder/tokenizer.json', 'utf8')).model.vocab as Record<string, number>;
  const records = emojiRecords().filter((r) => !r.heldOut);
  let kept = 0;
  for (const r of records) {
    for (const form of [0.1, 0.9]) {
      const c = plainEmojiCaption(r.label, form);
      if (c === null) continue;
      kept++;
      assert.equal(parseCaption(c), null, c);
      for (const w of captionWords([c])[0]) assert.ok(w in vocab || w === 'an', `"${w}" of "${c}" is not in the caption tokenizer's vocabulary`);
    }
  }
  assert.ok(kept > 0.95 * 2 * records.length, `${kept} plain captions of ${2 * records.length}`);
});

test('BatchSource plainEmojiCaptions: same pixels and scenes, plain emoji captions, a pure function of the step', () => {
  const records = emojiRecords().filter((r, i) => i % 8 === 0);
  const S = 64;
  const emoji: EmojiDataset = { size: S, records, pixels: new Uint8Array(records.length * S * S * 3).fill(7), licences: [], captionSource: EMOJI_CAPTION_SOURCE };
  const opts = { seed: 9, batchSize: 32, weights: { emoji: 3, scenes: 1 }, emoji };
  const styled = new BatchSource(opts).batch(4);
  const p1 = new BatchSource({ ...opts, plainEmojiCaptions: 1 }).batch(4);
  const p2 = new BatchSource({ ...opts, plainEmojiCaptions: 1 }).batch(4);
  assert.deepEqual(p1.images, styled.images);
  assert.deepEqual(p1.captions, p2.captions);
  let plain = 0;
  p1.captions.forEach((c, b) => {
    if (p1.sources[b] === 'scene') return assert.equal(c, styled.captions[b]);
    const r = records[p1.items[b]];
    assert.ok([r.label, `a ${r.label}`, `an ${r.label}`, r.caption].includes(c), c);
    if (c !== r.caption) plain++;
    else assert.equal(plainEmojiCaption(r.label, 0), null, `${r.label} kept its styled caption`);
  });
  assert.ok(plain >= 16, `${plain} plain captions`);
  const half = new BatchSource({ ...opts, plainEmojiCaptions: 0.5 }).batch(4);
  const n = half.captions.filter((c, i) => c !== styled.captions[i]).length;
  assert.ok(n > 0 && n < plain, `${n} plain at 0.5`);
  assert.throws(() => new BatchSource({ ...opts, plainEmojiCaptions: -0.1 }), /plainEmojiCaptions must be a probability/);
});

test('recipe: transformer.plain_emoji_captions parses, is bounded, and a 0 leaves the fingerprint as before', () => {
  checkOptionalTransformerField('plain_emoji_captions', 0.3, 2);
});
