// Procedural scenes (reference/scenes.md): geometry rules, caption forms, held-out combinations,
// rasterised areas against the shapes' analytic areas, and scene i being a pure function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GAP, MAX_BOX, MIN_BOX, RELATION_MIN_PX, SCENE_SIZE, STAR_INNER_RATIO, makeScene, renderScene, sceneSpec, scenePrompts, shapeBounds, shapeCentre,
  type Scene, type SceneSplit,
} from '../../../src/train/data/scenes.ts';
import {
  CATEGORIES, COLOURS, HELD_OUT_PAIRS, HELD_OUT_TRIPLES, formatCaption, isHeldOutPair, isHeldOutTriple, parseCaption, sceneVocabulary, usesHeldOut,
} from '../../../src/train/data/scene-vocab.ts';

const N = 600;
const all = (split: SceneSplit, seed = 3) => Array.from({ length: N }, (_, i) => sceneSpec(seed, split, i));

test('geometry: boxes 14–22 px, ≥ 3 px from the border and from each other, relations by ≥ 8 px', () => {
  for (const split of ['train', 'test', 'heldout'] as const) {
    for (const s of all(split)) {
      const n = s.boxes.length;
      assert.equal(s.category, CATEGORIES[s.index % 4]);
      assert.equal(n, { single: 1, counting: n >= 2 && n <= 4 ? n : -1, 'two objects': 2, position: 2 }[s.category], s.caption);
      for (const b of s.boxes) {
        const [x0, y0, x1, y1] = shapeBounds(b);
        const longer = Math.max(x1 - x0, y1 - y0);
        assert.ok(longer >= MIN_BOX && longer <= MAX_BOX, `${s.caption}: ${longer}`);
        assert.ok(x0 >= GAP && y0 >= GAP && x1 <= SCENE_SIZE - GAP && y1 <= SCENE_SIZE - GAP, `${s.caption}: border`);
      }
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const [a, b] = [shapeBounds(s.boxes[i]), shapeBounds(s.boxes[j])];
          const gap = Math.max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]);
          assert.ok(gap >= GAP, `${s.caption}: gap ${gap}`);
        }
      }
      if (s.category === 'two objects' || s.category === 'position') {
        const [a, b] = s.objects;
        assert.ok(a.colour !== b.colour || a.shape !== b.shape, s.caption);
      }
      if (s.relation) {
        const [a, b] = [shapeCentre(s.boxes[0]), shapeCentre(s.boxes[1])];
        const d = { 'left of': b[0] - a[0], 'right of': a[0] - b[0], above: b[1] - a[1], below: a[1] - b[1] }[s.relation];
        assert.ok(d >= RELATION_MIN_PX, `${s.caption}: ${d}`);
      }
    }
  }
});

test('captions: the exact forms of scenes.md, parsed back to the drawn objects', () => {
  const forms = {
    single: /^a [a-z]+ [a-z]+$/,
    counting: /^(two|three|four) [a-z]+ [a-z]+s$/,
    'two objects': /^a [a-z]+ [a-z]+ and a [a-z]+ [a-z]+$/,
    position: /^a [a-z]+ [a-z]+ (left of|right of|above|below) a [a-z]+ [a-z]+$/,
  };
  const vocab = new Set(sceneVocabulary());
  for (const s of all('train')) {
    assert.match(s.caption, forms[s.category]);
    assert.deepEqual(parseCaption(s.caption), { category: s.category, objects: s.objects, ...(s.relation ? { relation: s.relation } : {}) });
    assert.deepEqual(s.boxes.map((b) => [b.colour, b.shape]), s.objects.map((o) => [o.colour, o.shape]));
    for (const w of s.caption.split(' ')) assert.ok(vocab.has(w), w);
  }
  assert.equal(formatCaption({ category: 'counting', objects: Array(3).fill({ colour: 'green', shape: 'triangle' }) }), 'three green triangles');
  assert.equal(formatCaption({ category: 'position', relation: 'left of', objects: [{ colour: 'blue', shape: 'square' }, { colour: 'red', shape: 'circle' }] }), 'a blue square left of a red circle');
});

test('held-out combinations never appear in train or test scenes; every held-out scene uses one', () => {
  assert.equal(HELD_OUT_PAIRS.length, 4);
  assert.equal(HELD_OUT_TRIPLES.length, 4);
  for (const split of ['train', 'test'] as const) {
    for (const s of all(split)) {
      assert.equal(s.boxes.some((b) => isHeldOutPair(b)), false, s.caption);
      assert.equal(s.relation !== undefined && isHeldOutTriple(s.objects[0].shape, s.relation, s.objects[1].shape), false, s.caption);
      // the converse caption of a held-out triple is held out too
      if (s.relation) assert.equal(usesHeldOut(s), false);
    }
  }
  const held = all('heldout');
  for (const s of held) assert.equal(usesHeldOut(s), true, s.caption);
  // The held-out split covers every held-out pair and triple.
  for (const p of HELD_OUT_PAIRS) assert.ok(held.some((s) => s.objects.some((o) => o.colour === p.colour && o.shape === p.shape)));
  for (const t of HELD_OUT_TRIPLES) assert.ok(held.some((s) => s.relation === t.relation && s.objects[0].shape === t.a && s.objects[1].shape === t.b));
  // Train scenes cover the other 28 colour–shape pairs.
  const seen = new Set(all('train').flatMap((s) => s.objects.map((o) => `${o.colour} ${o.shape}`)));
  assert.equal(seen.size, 28);
});

test('rendering: white outside the boxes, white→colour blends inside, anti-aliased area = analytic area', () => {
  const R = (s: number) => s / (2 * Math.sin((72 * Math.PI) / 180));
  const analytic = {
    circle: (s: number) => Math.PI * (s / 2) ** 2,
    square: (s: number) => s * s,
    triangle: (s: number) => (s * s) / 2,
    star: (s: number) => 5 * R(s) * R(s) * STAR_INNER_RATIO * Math.sin((36 * Math.PI) / 180),
  };
  for (const s of all('train').slice(0, 200)) {
    const rgb = renderScene(s);
    const inBox = new Int32Array(SCENE_SIZE * SCENE_SIZE).fill(-1);
    s.boxes.forEach((b, k) => { for (let y = b.y; y < b.y + b.s; y++) for (let x = b.x; x < b.x + b.s; x++) inBox[y * SCENE_SIZE + x] = k; });
    const coverage = new Float64Array(s.boxes.length);
    for (let p = 0; p < SCENE_SIZE * SCENE_SIZE; p++) {
      const px = [rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]];
      if (inBox[p] < 0) { assert.deepEqual(px, [255, 255, 255]); continue; }
      const c = COLOURS[s.boxes[inBox[p]].colour];
      // the pixel is round(c·a + 255(1−a)); recover a from the channel farthest from white
      const ch = [0, 1, 2].reduce((m, i) => (255 - c[i] > 255 - c[m] ? i : m), 0);
      const a = (255 - px[ch]) / (255 - c[ch]);
      for (let i = 0; i < 3; i++) assert.ok(Math.abs(px[i] - (c[i] * a + 255 * (1 - a))) <= 1, `${s.caption} pixel ${p}`);
      coverage[inBox[p]] += a;
    }
    s.boxes.forEach((b, k) => {
      const want = analytic[b.shape](b.s);
      // 4×4 supersampling: within 2 % (+ 1 px) of the true area
      assert.ok(Math.abs(coverage[k] - want) <= 0.02 * want + 1, `${b.shape} ${b.s}: ${coverage[k]} vs ${want}`);
    });
  }
});

test('scene i is a pure function of (seed, split, i); splits and seeds differ', () => {
  const alone = makeScene(9, 'train', 123);
  const inList = scenePrompts(9, 130, 'train')[123];
  assert.deepEqual(sceneSpec(9, 'train', 123), inList);
  assert.deepEqual(renderScene(inList), alone.rgb);
  const caps = (seed: number, split: SceneSplit) => Array.from({ length: 40 }, (_, i) => sceneSpec(seed, split, i).caption).join('|');
  assert.notEqual(caps(9, 'train'), caps(10, 'train'));
  assert.notEqual(caps(9, 'train'), caps(9, 'test'));
  const s: Scene = sceneSpec(9n, 'heldout', 7);
  assert.deepEqual(s, sceneSpec(9, 'heldout', 7));
});
