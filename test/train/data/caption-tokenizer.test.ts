// The caption tokenizer: built from emoji + scenes captions, written as tokenizer.json +
// tokenizer_config.json, loaded through PromptTokenizer (the text encoder's own path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAD_TOKEN, UNK_TOKEN, captionWords, trainingCaptionTokenizer } from '../../../src/train/data/caption-tokenizer.ts';
import { emojiRecords } from '../../../src/train/data/emoji.node.ts';
import { scenePrompts } from '../../../src/train/data/scenes.ts';
import { PromptTokenizer } from '../../../src/models/text/prompt-tokenizer.ts';

const records = emojiRecords();
const train = records.filter((r) => !r.heldOut);
const built = trainingCaptionTokenizer(records);
// As a model folder stores it: JSON text, parsed back.
const tok = new PromptTokenizer({ tokenizerJson: JSON.parse(JSON.stringify(built.tokenizerJson)), tokenizerConfig: JSON.parse(JSON.stringify(built.tokenizerConfig)) });
const tokens = (s: string) => tok.encode(s).map((i) => tok.tokenizer.id_to_token(i));

test('words are lower-cased, split at whitespace and at each punctuation character', () => {
  assert.deepEqual(tokens('noto: Waving hand: medium-light skin tone'), ['noto', ':', 'waving', 'hand', ':', 'medium', '-', 'light', 'skin', 'tone']);
  assert.deepEqual(tokens('twemoji: flag: Åland Islands'), ['twemoji', ':', 'flag', ':', 'åland', 'islands']);
  assert.deepEqual(captionWords(['A  Red circle.']), [['a', 'red', 'circle', '.']]);
});

test('pad and unk tokens; PromptTokenizer pads with <pad> and masks it', () => {
  assert.equal(tok.padToken, PAD_TOKEN);
  assert.equal(tok.padTokenId, 0);
  assert.equal(built.vocab.get(UNK_TOKEN), 1);
  const t = tok.tokenizePrompts(['a red circle', ''], 6);
  assert.deepEqual([...t.tokens.slice(0, 6)], [...tok.encode('a red circle'), 0, 0, 0]);
  assert.deepEqual([...t.mask], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...t.positionIds.slice(0, 6)], [0, 1, 2, 2, 2, 2]);
  assert.deepEqual(tokens('a ☃ circle'), ['a', UNK_TOKEN, 'circle']); // a character never seen
});

test('every training caption and every scenes caption is whole words, no <unk>', () => {
  for (const r of train) {
    const ids = tok.encode(r.caption);
    assert.equal(ids.includes(1), false, r.caption);
    assert.equal(ids.every((i) => !tok.tokenizer.id_to_token(i)!.startsWith('##')), true, r.caption);
    assert.equal(ids.length, captionWords([r.caption])[0].length);
  }
  for (const s of [...scenePrompts(1, 200, 'train'), ...scenePrompts(1, 200, 'heldout')]) {
    assert.deepEqual(tokens(s.caption), s.caption.split(' '));
  }
  assert.equal(built.vocab.size, Object.keys((built.tokenizerJson.model as { vocab: object }).vocab).length);
});

test('words only in held-out captions are spelled in characters, not <unk>', () => {
  const trainWords = new Set(captionWords(train.map((r) => r.caption)).flat());
  const heldWords = [...new Set(captionWords(records.filter((r) => r.heldOut).map((r) => r.caption)).flat())].filter((w) => !trainWords.has(w));
  assert.ok(heldWords.length > 0);
  for (const w of heldWords) {
    const t = tokens(w);
    assert.equal(t.includes(UNK_TOKEN), false, w);
    assert.equal(t.map((x) => x!.replace(/^##/, '')).join(''), w);
  }
});

test('missingWords: the words a caption vocabulary spells in characters, then its unknown characters', () => {
  assert.deepEqual(tok.missingWords('a red circle above a blue square'), []);
  assert.deepEqual(tok.missingWords(train[0].caption), []);
  // every training word is whole; a word never seen is spelled, named once, lower-cased as read
  assert.deepEqual(tokens('a Photo'), ['a', 'p', '##h', '##o', '##t', '##o']);
  assert.deepEqual(tok.missingWords('a Photo of a dog, another photo ☃ ☃'), ['photo', 'another', '☃']);
  const t = tok.tokenizePrompts(['a photo', 'a dog'], 8);
  assert.deepEqual(t.missingWords, [['photo'], []]);
});
