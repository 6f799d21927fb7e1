// Procedural scenes (reference/scenes.md): 64×64 white canvas, 1–4 flat-coloured shapes from 8
// colours × 4 shapes, captioned in 4 categories (single, counting, two objects, position), so that
// prompt adherence can be checked by a program (src/eval/scenes-check.ts).
//
// Scene i of (seed, split) is a pure function: its content and layout read uniforms, in order,
// from the Philox stream (seed, PURPOSE.scene<Split>, i), so any scene can be made alone.
//   - category = CATEGORIES[i % 4] (exact balance over any 4 consecutive scenes);
//   - attributes: colour and shape uniform, rejected until the split's rule holds (scene-vocab.ts:
//     'train' and 'test' never use a held-out colour–shape pair or relation triple; 'heldout'
//     always does); counting n ∈ {2,3,4} uniform; relation uniform;
//   - layout: each object gets a square placement box of side s ∈ [14, 22] (uniform integer) at an
//     integer position ≥ 3 px from the border, boxes ≥ 3 px apart; a position scene also needs
//     the relation's centre difference ≥ 8 px. On failure the whole layout is redrawn.
// Shapes fill their box (the star: its width; it is centred vertically), so each shape's bounding
// box is 14–22 px on its longer side: circle (fill π/4), square (1), isosceles triangle apex up
// (1/2), five-pointed star one point up with inner/outer radius 0.35 (fill ≈ 0.30, solidity ≈ 0.43;
// scenes.md says ≈ 0.4 / ≈ 0.5, but a fatter star at 14 px blurred with σ = 1 reaches the checker's
// 0.75 solidity and is read as a triangle or circle; 0.35 keeps every size and colour a star).
// Rendering: coverage a from 4×4 supersampling per pixel, pixel = round(c·a + 255·(1 − a)).
import { Philox, stream } from '../../random/philox.ts';
import { PURPOSE } from '../../random/purposes.ts';
import {
  CATEGORIES, COLOUR_NAMES, COLOURS, HELD_OUT_PAIRS, HELD_OUT_TRIPLES, RELATIONS, SHAPES, converse, formatCaption,
  isHeldOutPair, isHeldOutTriple, type ColourShape, type Relation, type SceneCaption,
} from './scene-vocab.ts';

export const SCENE_SIZE = 64;
export const MIN_BOX = 14;
export const MAX_BOX = 22;
export const GAP = 3;
export const RELATION_MIN_PX = 8;
export const STAR_INNER_RATIO = 0.35;

export type SceneSplit = 'train' | 'test' | 'heldout';
export const SCENE_SPLIT_PURPOSE: Record<SceneSplit, number> = {
  train: PURPOSE.sceneTrain, test: PURPOSE.sceneTest, heldout: PURPOSE.sceneHeldOut,
};

/** One drawn object: its colour, shape and square placement box (top-left x, y and side s). */
export interface SceneObject extends ColourShape {
  x: number; y: number; s: number;
  /** Drawn in this sRGB colour instead of the palette's (recoloured decoder data, recolour.ts). */
  rgb?: readonly [number, number, number];
}

export interface Scene extends SceneCaption {
  split: SceneSplit;
  index: number;
  caption: string;
  /** Same order as `objects` of the caption (for position: A then B). */
  boxes: SceneObject[];
}

/** Sequential uniforms from one Philox stream (refilled 64 words at a time). */
class Draws {
  private buf: Float32Array = new Float32Array(0);
  private pos = 0;
  private offset = 0;
  constructor(private readonly rng: Philox, private readonly streamId: number) {}
  next(): number {
    if (this.pos === this.buf.length) {
      this.buf = this.rng.uniform(this.streamId, this.offset, 64);
      this.offset += 64;
      this.pos = 0;
    }
    return this.buf[this.pos++];
  }
  int(n: number): number { return Math.min(n - 1, Math.floor(this.next() * n)); }
}

/** The drawn shape's bounding box (x0, y0, x1, y1), continuous pixel coordinates. */
export function shapeBounds(o: SceneObject): [number, number, number, number] {
  if (o.shape !== 'star') return [o.x, o.y, o.x + o.s, o.y + o.s];
  const R = o.s / (2 * Math.sin((72 * Math.PI) / 180));
  const h = R * (1 + Math.cos((36 * Math.PI) / 180));
  const y0 = o.y + (o.s - h) / 2;
  return [o.x, y0, o.x + o.s, y0 + h];
}

/** Centre of the drawn shape's bounding box (what the relation rule compares). */
export function shapeCentre(o: SceneObject): [number, number] {
  const [x0, y0, x1, y1] = shapeBounds(o);
  return [(x0 + x1) / 2, (y0 + y1) / 2];
}

/** Does A stand in `relation` to B by at least `minPx` (centre difference, y grows downwards)? */
export function relationHolds(a: [number, number], relation: Relation, b: [number, number], minPx: number): boolean {
  switch (relation) {
    case 'left of': return b[0] - a[0] >= minPx;
    case 'right of': return a[0] - b[0] >= minPx;
    case 'above': return b[1] - a[1] >= minPx;
    case 'below': return a[1] - b[1] >= minPx;
  }
}

function separated(a: SceneObject, b: SceneObject): boolean {
  return a.x + a.s + GAP <= b.x || b.x + b.s + GAP <= a.x || a.y + a.s + GAP <= b.y || b.y + b.s + GAP <= a.y;
}

function drawPair(d: Draws): ColourShape {
  return { colour: COLOUR_NAMES[d.int(COLOUR_NAMES.length)], shape: SHAPES[d.int(SHAPES.length)] };
}

function drawCaption(d: Draws, category: SceneCaption['category'], split: SceneSplit): SceneCaption {
  const held = split === 'heldout';
  const allowed = (o: ColourShape) => !isHeldOutPair(o);
  for (let attempt = 0; attempt < 100000; attempt++) {
    switch (category) {
      case 'single': {
        const o = held ? HELD_OUT_PAIRS[d.int(HELD_OUT_PAIRS.length)] : drawPair(d);
        if (held || allowed(o)) return { category, objects: [{ ...o }] };
        break;
      }
      case 'counting': {
        const n = 2 + d.int(3);
        const o = held ? HELD_OUT_PAIRS[d.int(HELD_OUT_PAIRS.length)] : drawPair(d);
        if (held || allowed(o)) return { category, objects: Array.from({ length: n }, () => ({ ...o })) };
        break;
      }
      case 'two objects': {
        const a = drawPair(d), b = drawPair(d);
        if (a.colour === b.colour && a.shape === b.shape) break;
        if (held ? isHeldOutPair(a) || isHeldOutPair(b) : allowed(a) && allowed(b)) return { category, objects: [a, b] };
        break;
      }
      case 'position': {
        if (held) {
          // A held-out triple or its converse, colours drawn so that neither pair is held out.
          const t = HELD_OUT_TRIPLES[d.int(HELD_OUT_TRIPLES.length)];
          const flip = d.int(2) === 1;
          const a = { colour: COLOUR_NAMES[d.int(COLOUR_NAMES.length)], shape: flip ? t.b : t.a };
          const b = { colour: COLOUR_NAMES[d.int(COLOUR_NAMES.length)], shape: flip ? t.a : t.b };
          const relation = flip ? converse(t.relation) : t.relation;
          if ((a.colour !== b.colour || a.shape !== b.shape) && allowed(a) && allowed(b)) return { category, objects: [a, b], relation };
          break;
        }
        const a = drawPair(d), b = drawPair(d);
        const relation = RELATIONS[d.int(RELATIONS.length)];
        if (a.colour === b.colour && a.shape === b.shape) break;
        if (allowed(a) && allowed(b) && !isHeldOutTriple(a.shape, relation, b.shape)) return { category, objects: [a, b], relation };
        break;
      }
    }
  }
  throw new Error(`scenes: could not draw a ${category} caption for split ${split}`);
}

function drawLayout(d: Draws, c: SceneCaption): SceneObject[] {
  for (let attempt = 0; attempt < 100000; attempt++) {
    const boxes: SceneObject[] = [];
    let ok = true;
    for (const o of c.objects) {
      const s = MIN_BOX + d.int(MAX_BOX - MIN_BOX + 1);
      const span = SCENE_SIZE - 2 * GAP - s + 1; // x ∈ [GAP, SCENE_SIZE − GAP − s]
      const box = { ...o, x: GAP + d.int(span), y: GAP + d.int(span), s };
      if (!boxes.every((b) => separated(b, box))) { ok = false; break; }
      boxes.push(box);
    }
    if (!ok) continue;
    if (c.relation !== undefined && !relationHolds(shapeCentre(boxes[0]), c.relation, shapeCentre(boxes[1]), RELATION_MIN_PX)) continue;
    return boxes;
  }
  throw new Error(`scenes: could not lay out ${formatCaption(c)}`);
}

/** Scene `index` of (seed, split): caption and layout, a pure function of its arguments. */
export function sceneSpec(seed: number | bigint | Philox, split: SceneSplit, index: number): Scene {
  const rng = seed instanceof Philox ? seed : new Philox(seed);
  const d = new Draws(rng, stream(SCENE_SPLIT_PURPOSE[split], index));
  const category = CATEGORIES[index % CATEGORIES.length];
  const caption = drawCaption(d, category, split);
  const boxes = drawLayout(d, caption);
  return { ...caption, split, index, caption: formatCaption(caption), boxes };
}

// ---- rasterisation ----

const SUB = 4; // 4×4 supersampling

function starPolygon(o: SceneObject): [number, number][] {
  const R = o.s / (2 * Math.sin((72 * Math.PI) / 180));
  const [, y0] = shapeBounds(o);
  const cx = o.x + o.s / 2, cy = y0 + R;
  const pts: [number, number][] = [];
  for (let k = 0; k < 10; k++) {
    const r = k % 2 === 0 ? R : R * STAR_INNER_RATIO;
    const t = ((-90 + 36 * k) * Math.PI) / 180;
    pts.push([cx + r * Math.cos(t), cy + r * Math.sin(t)]);
  }
  return pts;
}

function insidePolygon(pts: [number, number][], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i], [xj, yj] = pts[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Point-in-shape test in continuous pixel coordinates (pixel (px, py) spans [px, px+1)). */
function insideTest(o: SceneObject): (x: number, y: number) => boolean {
  const { x, y, s } = o;
  switch (o.shape) {
    case 'square': return (px, py) => px >= x && px < x + s && py >= y && py < y + s;
    case 'circle': {
      const cx = x + s / 2, cy = y + s / 2, r2 = (s / 2) ** 2;
      return (px, py) => (px - cx) ** 2 + (py - cy) ** 2 <= r2;
    }
    case 'triangle': {
      const cx = x + s / 2;
      // apex (cx, y), base from (x, y+s) to (x+s, y+s): |px − cx| ≤ (py − y)/2 for py ∈ [y, y+s]
      return (px, py) => py >= y && py <= y + s && Math.abs(px - cx) <= (py - y) / 2;
    }
    case 'star': {
      const pts = starPolygon(o);
      return (px, py) => insidePolygon(pts, px, py);
    }
  }
}

/** Renders a scene: [64, 64, 3] interleaved RGB bytes (HWC). */
export function renderScene(scene: Pick<Scene, 'boxes'>, out: Uint8Array = new Uint8Array(SCENE_SIZE * SCENE_SIZE * 3)): Uint8Array {
  out.fill(255);
  for (const o of scene.boxes) {
    const inside = insideTest(o);
    const rgb = o.rgb ?? COLOURS[o.colour];
    for (let py = o.y; py < o.y + o.s; py++) {
      for (let px = o.x; px < o.x + o.s; px++) {
        let hits = 0;
        for (let sy = 0; sy < SUB; sy++) {
          for (let sx = 0; sx < SUB; sx++) if (inside(px + (sx + 0.5) / SUB, py + (sy + 0.5) / SUB)) hits++;
        }
        if (hits === 0) continue;
        const a = hits / (SUB * SUB);
        const p = (py * SCENE_SIZE + px) * 3;
        for (let c = 0; c < 3; c++) out[p + c] = Math.round(rgb[c] * a + 255 * (1 - a));
      }
    }
  }
  return out;
}

/** Convenience: scene `index` of (seed, split) with its rendered pixels. */
export function makeScene(seed: number | bigint | Philox, split: SceneSplit, index: number): Scene & { rgb: Uint8Array } {
  const scene = sceneSpec(seed, split, index);
  return { ...scene, rgb: renderScene(scene) };
}

/** Evaluation prompts: the captions of scenes [start, start + n) of a split (default 'heldout'). */
export function scenePrompts(seed: number | bigint, n: number, split: SceneSplit = 'heldout', start = 0): Scene[] {
  const rng = new Philox(seed);
  return Array.from({ length: n }, (_, k) => sceneSpec(rng, split, start + k));
}
