// Partial captions (transformer data, `transformer.partial_captions`): the forms, where they do not
// apply, words the shipped caption tokenizer knows, never a full scenes caption (so they cannot
// collide with an evaluation prompt), and a batch's pixels unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Philox } from '../../../src/random/philox.ts';
import { parseCaption, partialCaption, type SceneCaption } from '../../../src/train/data/scene-vocab.ts';
import { sceneSpec } from '../../../src/train/data/scenes.ts';
import { BatchSource } from '../../../src/train/data/stream.ts';
import { checkOptionalTransformerField } from '../recipe-field.ts';

const cap = (text: string): SceneCaption => parseCaption(text)!;

test('the forms: colours dropped, or shapes replaced by "one"', () => {
  assert.equal(partialCaption(cap('a red circle'), 'colour'), 'a circle');
  assert.equal(partialCaption(cap('a red circle'), 'shape'), 'a red one');
  assert.equal(partialCaption(cap('three green stars'), 'colour'), 'three stars');
  assert.equal(partialCaption(cap('three green stars'), 'shape'), null);
  assert.equal(partialCaption(cap('a red circle and a blue star'), 'colour'), 'a circle and a star');
  assert.equal(partialCaption(cap('a red circle and a blue star'), 'shape'), 'a red one and a blue one');
  assert.equal(partialCaption(cap('a red circle left of a blue star'), 'colour'), 'a circle left of a star');
  assert.equal(partialCaption(cap('a red circle above a blue star'), 'shape'), 'a red one above a blue one');
  // the objects would become indistinguishable
  assert.equal(partialCaption(cap('a red circle and a blue circle'), 'colour'), null);
  assert.equal(partialCaption(cap('a red circle below a red star'), 'shape'), null);
});

test('partial captions of training scenes: known words, never a full scenes caption', () => {
  const vocab = JSON.parse(readFileSync('models/default/text_encoder/tokenizer.json', 'utf8')).model.vocab as Record<string, number>;
  const rng = new Philox(5);
  let made = 0;
  for (let i = 0; i < 400; i++) {
    const scene = sceneSpec(rng, 'train', i);
    for (const drop of ['colour', 'shape'] as const) {
      const p = partialCaption(scene, drop);
      if (p === null) continue;
      made++;
      assert.equal(parseCaption(p), null, p);
      for (const w of p.split(' ')) assert.ok(w in vocab, `"${w}" of "${p}" is not in the caption tokenizer's vocabulary`);
    }
  }
  assert.ok(made > 500, `${made} partial captions`);
});

test('BatchSource partialCaptions: same pixels, shortened captions, a pure function of the step', () => {
  const opts = { seed: 9, batchSize: 16, weights: { scenes: 1 } };
  const plain = new BatchSource(opts).batch(4);
  const p1 = new BatchSource({ ...opts, partialCaptions: 1 }).batch(4);
  const p2 = new BatchSource({ ...opts, partialCaptions: 1 }).batch(4);
  assert.deepEqual(p1.images, plain.images);
  assert.deepEqual(p1.captions, p2.captions);
  const shortened = p1.captions.filter((c, i) => c !== plain.captions[i]);
  assert.ok(shortened.length >= 12, `${shortened.length} of 16 shortened`);
  for (const c of shortened) assert.equal(parseCaption(c), null, c);
  const half = new BatchSource({ ...opts, partialCaptions: 0.5 }).batch(4);
  const n = half.captions.filter((c, i) => c !== plain.captions[i]).length;
  assert.ok(n > 0 && n < 16, `${n} of 16 shortened at 0.5`);
  assert.throws(() => new BatchSource({ ...opts, partialCaptions: 1.2 }), /partialCaptions must be a probability/);
});

test('recipe: transformer.partial_captions parses, is bounded, and a 0 leaves the fingerprint as before', () => {
  checkOptionalTransformerField('partial_captions', 0.25, 3, 'recipes/default-18.json');
});
