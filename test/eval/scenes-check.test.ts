// The scenes checker (reference/scenes.md "Checking an image"): hand-built images with known
// answers, clean and σ=1-blurred renders of every category (≈1.0), deliberately wrong captions (0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkScene, checkScenes, classifyPixels, findObjects, parseCaption, scoreVerdicts } from '../../src/eval/scenes-check.ts';
import { makeScene, renderScene, type Scene, type SceneSplit } from '../../src/train/data/scenes.ts';
import { COLOUR_NAMES, COLOURS, SHAPES, converse, formatCaption, type SceneCaption } from '../../src/train/data/scene-vocab.ts';
import { gaussianBlur } from './blur.ts';

const W = 64;
const blank = () => new Uint8Array(W * W * 3).fill(255);
function paint(rgb: Uint8Array, x0: number, y0: number, w: number, h: number, c: readonly number[], inside = (_x: number, _y: number) => true): void {
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (inside(x, y)) rgb.set(c, (y * W + x) * 3);
}
const img = (rgb: Uint8Array) => ({ width: W, height: W, rgb });

test('parseCaption: the four forms of scenes.md, case and spacing ignored; anything else is null', () => {
  assert.deepEqual(parseCaption('a red circle'), { category: 'single', objects: [{ colour: 'red', shape: 'circle' }] });
  assert.deepEqual(parseCaption('  Three GREEN  triangles '), { category: 'counting', objects: Array(3).fill({ colour: 'green', shape: 'triangle' }) });
  assert.deepEqual(parseCaption('a yellow star and a purple square'), { category: 'two objects', objects: [{ colour: 'yellow', shape: 'star' }, { colour: 'purple', shape: 'square' }] });
  assert.deepEqual(parseCaption('a blue square left of a red circle'), { category: 'position', relation: 'left of', objects: [{ colour: 'blue', shape: 'square' }, { colour: 'red', shape: 'circle' }] });
  for (const bad of ['a red circles', 'five red circles', 'one red circle', 'a red circle and a red circle', 'a red circle above a red circle', 'a cyan circle', 'a red hexagon', 'red circle', '']) {
    assert.equal(parseCaption(bad), null, bad);
  }
});

test('pixel colour: blends with white keep their colour; off-line colours and faint blends are background', () => {
  const px = (...v: number[]) => classifyPixels(new Uint8Array(v))[0];
  const idx = (c: string) => COLOUR_NAMES.indexOf(c as never);
  const mix = (c: readonly number[], a: number) => c.map((v) => Math.round(v * a + 255 * (1 - a)));
  for (const name of COLOUR_NAMES) {
    assert.equal(px(...COLOURS[name]), idx(name), name);
    assert.equal(px(...mix(COLOURS[name], 0.6)), idx(name), `60% ${name}`);
    assert.equal(px(...mix(COLOURS[name], 0.25)), -1, `25% ${name}`);
  }
  assert.equal(px(255, 255, 255), -1);
  assert.equal(px(128, 128, 128), idx('black')); // on the white→black line, α = 127/225
  assert.equal(px(0, 255, 255), -1); // cyan: far from every line
  assert.equal(px(255, 0, 255), -1); // magenta: residual ≥ 45 from the pink and purple lines
  assert.equal(px(230, 90, 35), idx('red')); // an off-palette red-orange: within 45 of the red line
});

test('objects and shapes on hand-built images: hole filling, minimum area, solidity and fill thresholds', () => {
  const rgb = blank();
  paint(rgb, 4, 4, 20, 20, COLOURS.black); // square, fill 1
  // A red ring (disc with a hole): counts as a filled circle.
  paint(rgb, 36, 4, 20, 20, COLOURS.red, (x, y) => { const d = (x + 0.5 - 46) ** 2 + (y + 0.5 - 14) ** 2; return d <= 100 && d >= 16; });
  // Right triangle (fill ≈ 0.5, solid): triangle.
  paint(rgb, 4, 36, 20, 20, COLOURS.green, (x, y) => x - 4 <= y - 36);
  paint(rgb, 40, 40, 4, 4, COLOURS.blue); // 16 px: below the minimum area, ignored
  // A plus sign (solidity 0.68): star.
  paint(rgb, 46, 44, 6, 18, COLOURS.pink);
  paint(rgb, 40, 50, 18, 6, COLOURS.pink);
  const found = findObjects(classifyPixels(rgb)).sort((a, b) => a.colour.localeCompare(b.colour));
  assert.deepEqual(found.map((o) => [o.colour, o.shape]), [['black', 'square'], ['green', 'triangle'], ['pink', 'star'], ['red', 'circle']]);
  const ring = found.find((o) => o.colour === 'red')!;
  assert.equal(ring.solidity > 0.9 && ring.fill > 0.66, true);
  assert.deepEqual(ring.bbox, [36, 4, 56, 24]);
  assert.equal(found.find((o) => o.colour === 'black')!.area, 400);
  assert.equal(found.find((o) => o.colour === 'black')!.solidity, 1);
  const plus = found.find((o) => o.colour === 'pink')!;
  // 180 px; the hull cuts each 6×6 corner block along its diagonal, keeping the 21 pixels whose
  // centres lie on or inside it: convex area 180 + 4·21.
  assert.equal(plus.solidity, 180 / 264);
});

test('position: centres must differ by ≥ 4 px in the stated direction', () => {
  const rgb = blank();
  paint(rgb, 10, 20, 16, 16, COLOURS.blue);
  paint(rgb, 40, 22, 16, 16, COLOURS.red);
  assert.equal(checkScene(img(rgb), 'a blue square left of a red square').pass, true);
  assert.equal(checkScene(img(rgb), 'a red square right of a blue square').pass, true);
  assert.equal(checkScene(img(rgb), 'a red square left of a blue square').pass, false);
  assert.equal(checkScene(img(rgb), 'a blue square above a red square').pass, false); // 2 px apart vertically
  assert.equal(checkScene(img(rgb), 'a blue square and a red square').pass, true);
  assert.equal(checkScene(img(rgb), 'two blue squares').pass, false);
});

function scenes(split: SceneSplit, n: number, seed = 11): (Scene & { rgb: Uint8Array })[] {
  return Array.from({ length: n }, (_, i) => makeScene(seed, split, i));
}

test('clean renders of every category score 1.0 (train and held-out splits)', () => {
  for (const split of ['train', 'heldout'] as const) {
    const s = checkScenes(scenes(split, 160).map((x) => ({ image: img(x.rgb), caption: x.caption })));
    assert.deepEqual(s.accuracy, { single: 1, counting: 1, 'two objects': 1, position: 1 }, split);
    assert.equal(s.overall, 1);
  }
});

test('renders blurred with a Gaussian σ = 1 still score ≈ 1.0', () => {
  const s = checkScenes(scenes('train', 160, 12).map((x) => ({ image: img(gaussianBlur(x.rgb, W, W, 1)), caption: x.caption })));
  for (const [c, a] of Object.entries(s.accuracy)) assert.ok(a >= 0.97, `${c}: ${a}`);
  assert.ok(s.overall >= 0.98, `overall ${s.overall}`);
});

test('a star of every size and colour stays a star after the blur (the shape most blur endangers)', () => {
  for (let size = 14; size <= 22; size++) {
    for (const colour of COLOUR_NAMES) {
      const rgb = gaussianBlur(renderScene({ boxes: [{ colour, shape: 'star', x: 20, y: 20, s: size }] }), W, W, 1);
      assert.equal(checkScene(img(rgb), `a ${colour} star`).pass, true, `${colour} star ${size}`);
    }
  }
});

test('wrong captions score 0: another colour, another shape, another count, the converse relation', () => {
  const items = scenes('train', 80, 13);
  const wrong = (c: SceneCaption): SceneCaption => {
    const objects = c.objects.map((o) => ({ ...o }));
    switch (c.category) {
      case 'single': objects[0].shape = SHAPES[(SHAPES.indexOf(objects[0].shape) + 1) % 4]; return { ...c, objects };
      case 'counting': return { ...c, objects: objects.length === 4 ? objects.slice(1) : [...objects, objects[0]] };
      case 'two objects': objects[0].colour = COLOUR_NAMES[(COLOUR_NAMES.indexOf(objects[0].colour) + 1) % 8]; return { ...c, objects };
      case 'position': return { ...c, relation: converse(c.relation!) };
    }
  };
  const s = checkScenes(items.map((x) => ({ image: img(x.rgb), caption: formatCaption(wrong(x)) })));
  assert.deepEqual(s.accuracy, { single: 0, counting: 0, 'two objects': 0, position: 0 });
  // Captions of other scenes of the same category: near 0 (a few may match by chance).
  const shuffled = checkScenes(items.map((x, i) => ({ image: img(x.rgb), caption: items[(i + 4) % items.length].caption })));
  assert.ok(shuffled.overall <= 0.1, `shuffled captions ${shuffled.overall}`);
});

test('float CHW images in [0,1] and 128×128 images (box-averaged to 64) are accepted', () => {
  const x = makeScene(5, 'train', 3);
  const data = new Float32Array(3 * W * W);
  for (let i = 0; i < W * W; i++) for (let c = 0; c < 3; c++) data[c * W * W + i] = x.rgb[i * 3 + c] / 255;
  assert.equal(checkScene({ width: W, height: W, data }, x.caption).pass, true);
  const big = new Uint8Array(128 * 128 * 3);
  for (let y = 0; y < 128; y++) for (let xx = 0; xx < 128; xx++) big.set(x.rgb.subarray(((y >> 1) * W + (xx >> 1)) * 3, ((y >> 1) * W + (xx >> 1)) * 3 + 3), (y * 128 + xx) * 3);
  assert.equal(checkScene({ width: 128, height: 128, rgb: big }, x.caption).pass, true);
  assert.throws(() => checkScene({ width: 60, height: 60, rgb: new Uint8Array(60 * 60 * 3) }, x.caption), /64×64/);
  assert.throws(() => checkScene(img(x.rgb), 'a dog'), /not a scenes caption/);
});

test('scores: per-category accuracy and the overall mean of the categories', () => {
  const v = (category: SceneCaption['category'], pass: boolean) => ({ caption: '', category, expected: { category, objects: [] }, found: [], pass });
  const s = scoreVerdicts([v('single', true), v('single', false), v('counting', true), v('two objects', false), v('position', true), v('position', true)]);
  assert.deepEqual(s.accuracy, { single: 0.5, counting: 1, 'two objects': 0, position: 1 });
  assert.equal(s.overall, 2.5 / 4);
  assert.deepEqual(s.counts.single, { passed: 1, total: 2 });
  // only the single objects vary (p = 1/2 of 2): √(0.25 / 2) / 4
  assert.ok(Math.abs(s.overallSe - Math.sqrt(0.125) / 4) < 1e-12, `${s.overallSe}`);
});
