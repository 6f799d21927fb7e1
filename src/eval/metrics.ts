// Image-quality and distribution metrics of `hart eval` (issue 8), pure functions on float images
// in [0, 1], [3, H, W] (ImageCHW), browser-safe:
//   - PSNR (data range 1) and SSIM (Wang et al. 2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01,
//     K2 = 0.03, 'valid' filtering like the authors' ssim_index.m; the mean over RGB channels);
//   - KID (Bińkowski et al. 2018): the unbiased MMD² with the polynomial kernel
//     k(x, y) = (x·y / d + 1)³, averaged over random subsets as in the reference implementation;
//   - retrieval ranks: query i against a gallery of groups (e.g. an emoji and its skin-tone
//     variants), the distance to a group being its nearest member's;
//   - Lab colour features: CIE L*a*b* (sRGB, D65) of an area-downsampled image.
import type { ImageCHW } from '../io/png.ts';

/** Mean squared error over every value of two same-sized images. */
export function mse(a: ImageCHW, b: ImageCHW): number {
  sameSize(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    s += d * d;
  }
  return s / a.data.length;
}

/** PSNR in dB for images in [0, 1]: 10·log10(1 / MSE); Infinity for identical images. */
export function psnr(a: ImageCHW, b: ImageCHW): number {
  const m = mse(a, b);
  return m === 0 ? Infinity : -10 * Math.log10(m);
}

function sameSize(a: ImageCHW, b: ImageCHW): void {
  if (a.width !== b.width || a.height !== b.height || a.data.length !== b.data.length) {
    throw new Error(`images differ in size: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  }
}

/** The normalised 1-D Gaussian window (size taps, σ). */
export function gaussianWindow(size = 11, sigma = 1.5): Float64Array {
  const w = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) s += (w[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  for (let i = 0; i < size; i++) w[i] /= s;
  return w;
}

/** Separable 'valid' filtering of a [H, W] plane by window w (both directions). */
function filterValid(x: Float64Array, H: number, W: number, w: Float64Array): Float64Array {
  const k = w.length, oh = H - k + 1, ow = W - k + 1;
  const tmp = new Float64Array(H * ow);
  for (let y = 0; y < H; y++) {
    for (let xo = 0; xo < ow; xo++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += w[j] * x[y * W + xo + j];
      tmp[y * ow + xo] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let yo = 0; yo < oh; yo++) {
    for (let xo = 0; xo < ow; xo++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += w[j] * tmp[(yo + j) * ow + xo];
      out[yo * ow + xo] = s;
    }
  }
  return out;
}

export interface SsimOptions { window?: number; sigma?: number; k1?: number; k2?: number; dataRange?: number }

/** Mean SSIM of two images in [0, 1] (mean over the valid window positions, then over channels). */
export function ssim(a: ImageCHW, b: ImageCHW, o: SsimOptions = {}): number {
  sameSize(a, b);
  const H = a.height, W = a.width, C = a.data.length / (H * W);
  const w = gaussianWindow(o.window ?? 11, o.sigma ?? 1.5);
  if (w.length > H || w.length > W) throw new Error(`SSIM window ${w.length} is larger than the ${W}×${H} image`);
  const L = o.dataRange ?? 1;
  const C1 = ((o.k1 ?? 0.01) * L) ** 2, C2 = ((o.k2 ?? 0.03) * L) ** 2;
  let total = 0;
  for (let c = 0; c < C; c++) {
    const x = Float64Array.from(a.data.subarray(c * H * W, (c + 1) * H * W));
    const y = Float64Array.from(b.data.subarray(c * H * W, (c + 1) * H * W));
    const xx = x.map((v) => v * v), yy = y.map((v) => v * v), xy = x.map((v, i) => v * y[i]);
    const [mx, my, sxx, syy, sxy] = [x, y, xx, yy, xy].map((p) => filterValid(p, H, W, w));
    let s = 0;
    for (let i = 0; i < mx.length; i++) {
      const vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cxy = sxy[i] - mx[i] * my[i];
      s += ((2 * mx[i] * my[i] + C1) * (2 * cxy + C2)) / ((mx[i] * mx[i] + my[i] * my[i] + C1) * (vx + vy + C2));
    }
    total += s / mx.length;
  }
  return total / C;
}

// ---- distribution distance ----

/** Feature rows: n vectors of dimension d, row-major. */
export interface Features { n: number; d: number; data: Float64Array | Float32Array }

export function features(rows: ArrayLike<number>[]): Features {
  const n = rows.length, d = n ? rows[0].length : 0;
  const data = new Float64Array(n * d);
  rows.forEach((r, i) => {
    if (r.length !== d) throw new Error(`feature row ${i} has ${r.length} values, expected ${d}`);
    data.set(Array.from(r), i * d);
  });
  return { n, d, data };
}

function dot(a: Features, i: number, b: Features, j: number): number {
  let s = 0;
  for (let k = 0; k < a.d; k++) s += a.data[i * a.d + k] * b.data[j * b.d + k];
  return s;
}

export interface KernelOptions { degree?: number; gamma?: number; coef0?: number }

/** k(x, y) = (γ·x·y + c0)^degree; defaults: degree 3, γ = 1/d, c0 = 1 (KID's kernel). */
function polyKernel(o: KernelOptions, d: number): (s: number) => number {
  const deg = o.degree ?? 3, g = o.gamma ?? 1 / d, c = o.coef0 ?? 1;
  return (s) => (g * s + c) ** deg;
}

/**
 * Unbiased MMD² between two samples (rows `ix` of x, `iy` of y), polynomial kernel:
 * mean_{i≠j} k(xi, xj) + mean_{i≠j} k(yi, yj) − 2·mean_{i,j} k(xi, yj).
 */
export function mmd2Unbiased(x: Features, y: Features, o: KernelOptions = {}, ix?: number[], iy?: number[]): number {
  if (x.d !== y.d) throw new Error(`feature dimensions differ: ${x.d} vs ${y.d}`);
  const a = ix ?? [...Array(x.n).keys()], b = iy ?? [...Array(y.n).keys()];
  const m = a.length, n = b.length;
  if (m < 2 || n < 2) throw new Error('MMD² needs at least 2 samples in each set');
  const k = polyKernel(o, x.d);
  let kxx = 0, kyy = 0, kxy = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j) kxx += k(dot(x, a[i], x, a[j]));
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) kyy += k(dot(y, b[i], y, b[j]));
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) kxy += k(dot(x, a[i], y, b[j]));
  return kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - (2 * kxy) / (m * n);
}

export interface KidOptions extends KernelOptions {
  /** Number of random subsets (default 10; with one subset of the full sets it is exactly mmd2Unbiased). */
  subsets?: number;
  /** Subset size (default min(n_x, n_y, 1000)). */
  subsetSize?: number;
  /** Uniforms in [0, 1) for drawing subsets (a seeded source; default: a fixed LCG). */
  random?: () => number;
}

/** KID: mean and standard deviation of the unbiased MMD² over random subsets (without replacement). */
export function kid(x: Features, y: Features, o: KidOptions = {}): { mean: number; std: number } {
  const size = Math.min(o.subsetSize ?? 1000, x.n, y.n);
  const S = o.subsets ?? 10;
  if (size >= x.n && size >= y.n) {
    // every subset is the whole of both sets
    return { mean: mmd2Unbiased(x, y, o), std: 0 };
  }
  let seed = 12345;
  const rnd = o.random ?? (() => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32));
  const pick = (n: number) => {
    const idx = [...Array(n).keys()];
    for (let i = n - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(rnd() * (i + 1)));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx.slice(0, size);
  };
  const vals = Array.from({ length: S }, () => mmd2Unbiased(x, y, o, pick(x.n), pick(y.n)));
  const mean = vals.reduce((s, v) => s + v, 0) / S;
  const std = Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / S);
  return { mean, std };
}

// ---- retrieval ----

/**
 * Rank (1 = nearest) of each query's true group in a gallery of groups, by squared Euclidean
 * distance; a group's distance is that of its nearest member. Only groups strictly nearer rank
 * ahead: emoji whose images are identical (the flags of France and Clipperton Island, of Norway
 * and Svalbard & Jan Mayen, …) cannot be told apart by any image, so a tie counts as found.
 */
export function retrievalRanks(queries: Features, gallery: Features, galleryGroup: ArrayLike<number>, trueGroup: ArrayLike<number>): number[] {
  if (queries.d !== gallery.d) throw new Error(`feature dimensions differ: ${queries.d} vs ${gallery.d}`);
  if (galleryGroup.length !== gallery.n) throw new Error('one group per gallery row');
  if (trueGroup.length !== queries.n) throw new Error('one true group per query');
  const G = Array.from(galleryGroup).reduce((a, b) => Math.max(a, b), -1) + 1;
  const ranks: number[] = [];
  for (let q = 0; q < queries.n; q++) {
    const best = new Float64Array(G).fill(Infinity);
    for (let r = 0; r < gallery.n; r++) {
      let s = 0;
      for (let k = 0; k < queries.d; k++) {
        const dlt = queries.data[q * queries.d + k] - gallery.data[r * gallery.d + k];
        s += dlt * dlt;
      }
      const g = galleryGroup[r];
      if (s < best[g]) best[g] = s;
    }
    const t = trueGroup[q];
    if (!(t >= 0 && t < G) || best[t] === Infinity) throw new Error(`query ${q}: its group ${t} is not in the gallery`);
    let rank = 1;
    for (let g = 0; g < G; g++) if (g !== t && best[g] < best[t]) rank++;
    ranks.push(rank);
  }
  return ranks;
}

/** Fraction of ranks ≤ k. */
export function topK(ranks: readonly number[], k: number): number {
  return ranks.length ? ranks.filter((r) => r <= k).length / ranks.length : NaN;
}

// ---- Lab colour features ----

const srgbToLinear = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const labF = (t: number) => (t > (6 / 29) ** 3 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);

/** CIE L*a*b* (D65 white) of an sRGB colour in [0, 1]. */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const R = srgbToLinear(r), G = srgbToLinear(g), B = srgbToLinear(b);
  const X = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const Y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const Z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
  const fx = labF(X), fy = labF(Y), fz = labF(Z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/**
 * The colour-layout feature of an image: area-average to side×side cells (the image side must be
 * a multiple of it), then Lab per cell: [side·side·3] (L, a, b per cell, row-major). Euclidean
 * distance in it is a sum of per-cell ΔE*ab² — a perceptual, training-free "same picture" measure.
 */
export function labFeature(img: ImageCHW, side = 8): Float64Array {
  const { width: W, height: H } = img;
  if (W % side || H % side) throw new Error(`labFeature: ${W}×${H} is not a multiple of ${side}`);
  const bx = W / side, by = H / side, out = new Float64Array(side * side * 3);
  for (let cy = 0; cy < side; cy++) {
    for (let cx = 0; cx < side; cx++) {
      const rgb = [0, 0, 0];
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let y = cy * by; y < (cy + 1) * by; y++) for (let x = cx * bx; x < (cx + 1) * bx; x++) s += img.data[c * W * H + y * W + x];
        rgb[c] = Math.min(1, Math.max(0, s / (bx * by)));
      }
      out.set(srgbToLab(rgb[0], rgb[1], rgb[2]), (cy * side + cx) * 3);
    }
  }
  return out;
}

/**
 * The RGB colour layout of an image: area-average to side×side cells, [side·side·3] values in
 * [0, 1] (R, G, B per cell, row-major); Euclidean distance = RMS colour error of the cells.
 */
export function rgbFeature(img: ImageCHW, side = 8): Float64Array {
  const d = areaDownsample(img, side).data, n = side * side, out = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = d[c * n + i];
  return out;
}

/** Area (box) average of a k·side square image down to side×side. */
export function areaDownsample(img: ImageCHW, side: number): ImageCHW {
  const { width: W, height: H } = img;
  if (W === side && H === side) return img;
  if (W !== H || W % side) throw new Error(`areaDownsample: ${W}×${H} is not a multiple of ${side}×${side}`);
  const k = W / side, out = new Float32Array(3 * side * side);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[c * side * side + Math.floor(y / k) * side + Math.floor(x / k)] += img.data[c * W * H + y * W + x];
  }
  for (let i = 0; i < out.length; i++) out[i] /= k * k;
  return { width: side, height: side, data: out };
}

/** Nearest-neighbour enlargement by an integer factor k (each pixel becomes a k×k block). */
export function nearestUpsample(img: ImageCHW, k: number): ImageCHW {
  if (k === 1) return img;
  const { width: W, height: H } = img, W2 = W * k, H2 = H * k;
  const out = new Float32Array(3 * W2 * H2);
  for (let c = 0; c < 3; c++) for (let y = 0; y < H2; y++) for (let x = 0; x < W2; x++) out[c * W2 * H2 + y * W2 + x] = img.data[c * W * H + Math.floor(y / k) * W + Math.floor(x / k)];
  return { width: W2, height: H2, data: out };
}

/** Summary of a list of numbers (NaN-free): mean and the count. */
export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : NaN;
}
