// Recoloured scenes (decoder data): deterministic per scene, random colours that never show the
// scenes checker a held-out colour–shape pair, the palette render when the probability is 0, and
// the recipe field: parsed, bounded, and left out of the stage fingerprint when 0 (old checkpoints
// still resume).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Philox } from '../../../src/random/philox.ts';
import { COLOURS } from '../../../src/train/data/scene-vocab.ts';
import { renderScene, sceneSpec } from '../../../src/train/data/scenes.ts';
import { hsvToRgb, renderRecoloured, showsHeldOutPair } from '../../../src/train/data/recolour.ts';
import { BatchSource } from '../../../src/train/data/stream.ts';
import { parseRecipe, stageFingerprint } from '../../../src/train/recipe.ts';

const rng = new Philox(7);

test('hsvToRgb: the primaries and white', () => {
  assert.deepEqual(hsvToRgb(0, 1, 1), [255, 0, 0]);
  assert.deepEqual(hsvToRgb(120, 1, 1), [0, 255, 0]);
  assert.deepEqual(hsvToRgb(240, 1, 1), [0, 0, 255]);
  assert.deepEqual(hsvToRgb(77, 0, 1), [255, 255, 255]);
});

test('recolour 0 draws the palette render; recolour 1 draws other colours, the same bytes for the same scene', () => {
  const scene = sceneSpec(rng, 'train', 5);
  const plain = renderScene(scene);
  assert.deepEqual(renderRecoloured(rng, scene, 0), scene.boxes);
  const out0 = new Uint8Array(plain.length);
  renderRecoloured(rng, scene, 0, out0);
  assert.deepEqual(out0, plain);
  const a = new Uint8Array(plain.length), b = new Uint8Array(plain.length);
  const boxes = renderRecoloured(rng, scene, 1, a);
  renderRecoloured(new Philox(7), scene, 1, b);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, plain);
  assert.deepEqual(renderScene({ boxes }), a);
  assert.throws(() => renderRecoloured(rng, scene, 1.5), /probability must be in \[0, 1\]/);
});

test('recoloured training scenes never show the checker a held-out pair, and their colours spread beyond the palette', () => {
  const palette = new Set(Object.values(COLOURS).map((c) => c.join(',')));
  const out = new Uint8Array(64 * 64 * 3);
  let offPalette = 0, objects = 0;
  for (let i = 0; i < 300; i++) {
    const boxes = renderRecoloured(rng, sceneSpec(rng, 'train', i), 1, out);
    assert.equal(showsHeldOutPair(out), false, `scene ${i}`);
    for (const o of boxes) { objects++; if (o.rgb && !palette.has(o.rgb.join(','))) offPalette++; }
  }
  assert.ok(offPalette / objects > 0.95, `${offPalette} of ${objects} objects off the palette`);
});

test('the checker would see held-out pairs without the filter (the filter is doing work)', () => {
  // a yellow star drawn at a training scene's place is what the filter must reject
  const scene = sceneSpec(rng, 'train', 0);
  const star = { ...scene.boxes[0], shape: 'star' as const, colour: 'yellow' as const };
  assert.equal(showsHeldOutPair(renderScene({ boxes: [star] })), true);
});

test('BatchSource recolour: scene slots change, captions and emoji slots do not, still a pure function of the step', () => {
  const plain = new BatchSource({ seed: 3, batchSize: 8, weights: { scenes: 1 } });
  const re = new BatchSource({ seed: 3, batchSize: 8, weights: { scenes: 1 }, recolour: 1 });
  const p = plain.batch(2), r = re.batch(2), r2 = new BatchSource({ seed: 3, batchSize: 8, weights: { scenes: 1 }, recolour: 1 }).batch(2);
  assert.deepEqual(r.captions, p.captions);
  assert.notDeepEqual(r.images, p.images);
  assert.deepEqual(r.images, r2.images);
  assert.throws(() => new BatchSource({ seed: 3, batchSize: 8, weights: { scenes: 1 }, recolour: -0.1 }), /recolour must be a probability/);
});

test('recipe: decoder.recolour and tokenizer.recolour parse, are bounded, and a 0 leaves the fingerprint as before', () => {
  const base = JSON.parse(readFileSync('recipes/default-18.json', 'utf8'));
  const r0 = parseRecipe(base);
  assert.equal(r0.tokenizer.recolour, 0);
  assert.equal(JSON.stringify(stageFingerprint(r0, 'tokenizer')).includes('recolour'), false);
  const withDecoder = { ...base, decoder: { steps: 10, batch: 4, lr: 1e-4, recolour: 0.5 } };
  const r1 = parseRecipe(withDecoder);
  assert.equal(r1.decoder!.recolour, 0.5);
  assert.match(JSON.stringify(stageFingerprint(r1, 'decoder')), /"recolour":0.5/);
  assert.deepEqual(stageFingerprint(r1, 'transformer'), stageFingerprint(r0, 'transformer'));
  assert.throws(() => parseRecipe({ ...withDecoder, decoder: { ...withDecoder.decoder, recolour: 2 } }), /decoder\.recolour/);
  assert.throws(() => parseRecipe({ ...base, tokenizer: { ...base.tokenizer, recolour: -1 } }), /tokenizer\.recolour/);
});
