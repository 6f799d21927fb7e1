// Prompt adherence on procedural scenes (reference/scenes.md, "Checking an image"), GenEval-style:
// parse the caption into the objects it asks for, find the objects in the image, compare.
//   1. pixel colour: for each palette colour c, α = clip((x−w)·(c−w) / |c−w|², 0, 1) and
//      residual = |x − (w + α(c−w))| (w = white); among colours with α ≥ 0.5 the smallest residual
//      wins if it is < 45, otherwise the pixel is background;
//   2. objects: 4-connected components per colour, holes filled, area ≥ 25 px;
//   3. shape: solidity (area ÷ convex-hull area, hull over pixel corners) < 0.75 → star; else
//      bounding-box fill > 0.9 → square, > 0.66 → circle, otherwise triangle;
//   4. verdict: the multiset of (colour, shape) equals the caption's; for position, the centres
//      (of the objects' bounding boxes, as the generator places them) differ by ≥ 4 px in the
//      stated direction.
// Images are 64×64 (scenes.md's pixel thresholds); an image of k·64 × k·64 is box-averaged to 64
// first. Per-category accuracy and the overall mean of the four categories, as scenes.md reports.
import type { ImageCHW } from '../io/png.ts';
import {
  CATEGORIES, COLOUR_NAMES, COLOURS, parseCaption, type Colour, type SceneCaption, type SceneCategory, type Shape,
} from '../train/data/scene-vocab.ts';
import { relationHolds } from '../train/data/scenes.ts';

export { parseCaption } from '../train/data/scene-vocab.ts';

export const CHECK_SIZE = 64;
export const MIN_ALPHA = 0.5;
export const MAX_RESIDUAL = 45;
export const MIN_AREA = 25;
export const STAR_SOLIDITY = 0.75;
export const SQUARE_FILL = 0.9;
export const CIRCLE_FILL = 0.66;
export const POSITION_MIN_PX = 4;

/** Interleaved RGB bytes [H, W, 3] (what decodePng returns). */
export interface RgbImage { width: number; height: number; rgb: Uint8Array }

export interface FoundObject {
  colour: Colour;
  shape: Shape;
  /** Pixels, holes filled. */
  area: number;
  solidity: number;
  fill: number;
  /** Bounding box [x0, y0, x1, y1) in pixels. */
  bbox: [number, number, number, number];
  centre: [number, number];
}

export interface SceneVerdict {
  caption: string;
  category: SceneCategory;
  expected: SceneCaption;
  found: FoundObject[];
  pass: boolean;
  /** Why it failed (absent when it passed). */
  reason?: string;
}

/** The image as float RGB [64·64·3] (HWC, 0–255), box-averaging k·64-sized images. */
function toRgb64(image: RgbImage | ImageCHW): Float64Array {
  const { width: W, height: H } = image;
  if (W !== H || W % CHECK_SIZE !== 0) throw new Error(`scenes checker: images must be 64×64 (or k·64 square), got ${W}×${H}`);
  const k = W / CHECK_SIZE;
  const out = new Float64Array(CHECK_SIZE * CHECK_SIZE * 3);
  const chw = 'data' in image;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = ((Math.floor(y / k) * CHECK_SIZE) + Math.floor(x / k)) * 3;
      for (let c = 0; c < 3; c++) {
        // CHW floats in [0,1] are scaled to 0–255 (not truncated like PNG bytes: the checker is continuous).
        const v = chw ? (image as ImageCHW).data[c * H * W + y * W + x] * 255 : (image as RgbImage).rgb[(y * W + x) * 3 + c];
        out[o + c] += v / (k * k);
      }
    }
  }
  return out;
}

const PALETTE = COLOUR_NAMES.map((n) => COLOURS[n]);

/** Step 1: palette index per pixel, −1 for background. */
export function classifyPixels(rgb: Float64Array | Uint8Array): Int8Array {
  const n = rgb.length / 3;
  const labels = new Int8Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const x0 = rgb[3 * i] - 255, x1 = rgb[3 * i + 1] - 255, x2 = rgb[3 * i + 2] - 255;
    let best = -1, bestRes = MAX_RESIDUAL;
    for (let k = 0; k < PALETTE.length; k++) {
      const d0 = PALETTE[k][0] - 255, d1 = PALETTE[k][1] - 255, d2 = PALETTE[k][2] - 255;
      const a = Math.min(1, Math.max(0, (x0 * d0 + x1 * d1 + x2 * d2) / (d0 * d0 + d1 * d1 + d2 * d2)));
      if (a < MIN_ALPHA) continue;
      const res = Math.hypot(x0 - a * d0, x1 - a * d1, x2 - a * d2);
      if (res < bestRes) { bestRes = res; best = k; }
    }
    labels[i] = best;
  }
  return labels;
}

/**
 * Convex area of a filled region given per row its first and last pixel (rows are contiguous
 * after hole filling only up to concavities, so this is the hull of the row extents): the hull
 * of the pixels' corner points (monotone chain), measured like skimage's `convex_hull_image` as
 * the number of pixels whose centres lie in it. Corners keep a square's hull equal to the square;
 * counting centres keeps staircase edges from inflating the hull of a triangle or circle.
 */
function convexArea(rowMin: Int32Array, rowMax: Int32Array, x0: number, x1: number, y0: number): number {
  const pts: [number, number][] = [];
  for (let r = 0; r < rowMin.length; r++) {
    if (rowMin[r] > rowMax[r]) continue;
    const y = y0 + r;
    pts.push([rowMin[r], y], [rowMin[r], y + 1], [rowMax[r] + 1, y], [rowMax[r] + 1, y + 1]);
  }
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const chain = (list: [number, number][]) => {
    const h: [number, number][] = [];
    for (const p of list) {
      while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], p) <= 0) h.pop();
      h.push(p);
    }
    return h.slice(0, -1);
  };
  const hull = chain(pts).concat(chain([...pts].reverse())); // counter-clockwise (y down: clockwise on screen)
  let count = 0;
  for (let r = 0; r < rowMin.length; r++) {
    const cy = y0 + r + 0.5;
    for (let x = x0; x <= x1; x++) {
      const c = [x + 0.5, cy];
      let inside = true;
      for (let i = 0; i < hull.length && inside; i++) if (cross(hull[i], hull[(i + 1) % hull.length], c) < -1e-9) inside = false;
      if (inside) count++;
    }
  }
  return count;
}

/** Steps 2–3: objects (components per colour, holes filled, area ≥ 25) and their shapes. */
export function findObjects(labels: Int8Array, size = CHECK_SIZE): FoundObject[] {
  const comp = new Int32Array(size * size).fill(-1);
  const objects: FoundObject[] = [];
  const queue = new Int32Array(size * size);
  let nComp = 0;
  for (let start = 0; start < size * size; start++) {
    if (labels[start] < 0 || comp[start] >= 0) continue;
    const colour = labels[start];
    const id = nComp++;
    // 4-connected flood fill of this colour.
    let head = 0, tail = 0;
    queue[tail++] = start;
    comp[start] = id;
    let x0 = size, y0 = size, x1 = -1, y1 = -1;
    const members: number[] = [];
    while (head < tail) {
      const p = queue[head++];
      members.push(p);
      const x = p % size, y = (p - x) / size;
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      for (const q of [x > 0 ? p - 1 : -1, x < size - 1 ? p + 1 : -1, y > 0 ? p - size : -1, y < size - 1 ? p + size : -1]) {
        if (q >= 0 && comp[q] < 0 && labels[q] === colour) { comp[q] = id; queue[tail++] = q; }
      }
    }
    // Holes: pixels of the bounding box not reachable (4-connected, outside the component) from its border.
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    const mask = new Uint8Array(bw * bh); // 1 = component, 2 = outside
    for (const p of members) mask[(Math.floor(p / size) - y0) * bw + (p % size) - x0] = 1;
    const q2: number[] = [];
    for (let i = 0; i < bw * bh; i++) {
      const x = i % bw, y = (i - x) / bw;
      if (mask[i] === 0 && (x === 0 || y === 0 || x === bw - 1 || y === bh - 1)) { mask[i] = 2; q2.push(i); }
    }
    while (q2.length) {
      const i = q2.pop()!;
      const x = i % bw, y = (i - x) / bw;
      for (const j of [x > 0 ? i - 1 : -1, x < bw - 1 ? i + 1 : -1, y > 0 ? i - bw : -1, y < bh - 1 ? i + bw : -1]) {
        if (j >= 0 && mask[j] === 0) { mask[j] = 2; q2.push(j); }
      }
    }
    let area = 0;
    const rowMin = new Int32Array(bh).fill(size), rowMax = new Int32Array(bh).fill(-1);
    for (let i = 0; i < bw * bh; i++) {
      if (mask[i] === 2) continue;
      area++;
      const x = x0 + (i % bw), r = Math.floor(i / bw);
      if (x < rowMin[r]) rowMin[r] = x;
      if (x > rowMax[r]) rowMax[r] = x;
    }
    if (area < MIN_AREA) continue;
    const solidity = area / convexArea(rowMin, rowMax, x0, x1, y0);
    const fill = area / (bw * bh);
    const shape: Shape = solidity < STAR_SOLIDITY ? 'star' : fill > SQUARE_FILL ? 'square' : fill > CIRCLE_FILL ? 'circle' : 'triangle';
    objects.push({
      colour: COLOUR_NAMES[colour], shape, area, solidity, fill,
      bbox: [x0, y0, x1 + 1, y1 + 1], centre: [(x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2],
    });
  }
  return objects;
}

/** An object as the checker compares it: "<colour> <shape>". */
export const objectKey = (o: { colour: Colour; shape: Shape }) => `${o.colour} ${o.shape}`;

/** Checks one image against its caption (step 4). Throws on a caption that is not a scenes caption. */
export function checkScene(image: RgbImage | ImageCHW, caption: string): SceneVerdict {
  const expected = parseCaption(caption);
  if (expected === null) throw new Error(`scenes checker: ${JSON.stringify(caption)} is not a scenes caption (see reference/scenes.md)`);
  const found = findObjects(classifyPixels(toRgb64(image)));
  const verdict = (pass: boolean, reason?: string): SceneVerdict =>
    ({ caption, category: expected.category, expected, found, pass, ...(reason === undefined ? {} : { reason }) });
  const want = expected.objects.map(objectKey).sort();
  const got = found.map(objectKey).sort();
  if (want.join(',') !== got.join(',')) return verdict(false, `expected [${want.join(', ')}], found [${got.join(', ')}]`);
  if (expected.relation !== undefined) {
    const a = found.find((o) => objectKey(o) === objectKey(expected.objects[0]))!;
    const b = found.find((o) => objectKey(o) === objectKey(expected.objects[1]))!;
    if (!relationHolds(a.centre, expected.relation, b.centre, POSITION_MIN_PX)) {
      return verdict(false, `${objectKey(a)} at (${a.centre}) is not ${expected.relation} ${objectKey(b)} at (${b.centre}) by ${POSITION_MIN_PX} px`);
    }
  }
  return verdict(true);
}

export interface ScenesScore {
  /** Accuracy per category (NaN for a category with no images). */
  accuracy: Record<SceneCategory, number>;
  counts: Record<SceneCategory, { passed: number; total: number }>;
  /** Mean of the per-category accuracies over the categories that have images. */
  overall: number;
  /**
   * The binomial standard error of `overall`, √(Σ p(1−p)/n)/categories (each image an independent
   * pass or fail): how far another draw of as many prompts would move it (±2 SE ≈ 95%).
   */
  overallSe: number;
  verdicts: SceneVerdict[];
}

/** The standard error of a proportion p measured on n independent trials. */
export function binomialSe(p: number, n: number): number {
  return Math.sqrt((p * (1 - p)) / n);
}

/** Aggregates verdicts: per-category accuracy and the overall mean of the four categories. */
export function scoreVerdicts(verdicts: SceneVerdict[]): ScenesScore {
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, { passed: 0, total: 0 }])) as ScenesScore['counts'];
  for (const v of verdicts) {
    counts[v.category].total++;
    if (v.pass) counts[v.category].passed++;
  }
  const accuracy = Object.fromEntries(CATEGORIES.map((c) => [c, counts[c].passed / counts[c].total])) as ScenesScore['accuracy'];
  const present = CATEGORIES.filter((c) => counts[c].total > 0);
  const overall = present.reduce((s, c) => s + accuracy[c], 0) / present.length;
  const overallSe = Math.sqrt(present.reduce((s, c) => s + binomialSe(accuracy[c], counts[c].total) ** 2, 0)) / present.length;
  return { accuracy, counts, overall, overallSe, verdicts };
}

/** Checks every (image, caption) pair and scores them. */
export function checkScenes(items: { image: RgbImage | ImageCHW; caption: string }[]): ScenesScore {
  return scoreVerdicts(items.map(({ image, caption }) => checkScene(image, caption)));
}
