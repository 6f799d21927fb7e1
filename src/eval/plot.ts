// Training curves as a picture, without a plotting library: a small RGB rasteriser (lines, boxes,
// a 5×7 bitmap font) and `plotLog`, which draws the records of a run's log.jsonl
// ({stage, step, loss, metrics{...}}) as small multiples — one panel per (stage, series): the loss
// and every metric — raw values faint, an exponential moving average on top, log-y when a series
// is positive and spans more than a factor of 20. Browser-safe; plot-log.node.ts writes the PNG.

/** An RGB canvas, [H, W, 3] bytes. */
export class Raster {
  readonly rgb: Uint8Array;
  constructor(readonly width: number, readonly height: number, bg: [number, number, number] = [255, 255, 255]) {
    this.rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.rgb.set(bg, i * 3);
  }

  /** Blends colour c at (x, y) with opacity a. */
  plot(x: number, y: number, c: readonly number[], a = 1): void {
    x = Math.round(x); y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const p = (y * this.width + x) * 3;
    for (let k = 0; k < 3; k++) this.rgb[p + k] = Math.round(this.rgb[p + k] * (1 - a) + c[k] * a);
  }

  /** A line from (x0, y0) to (x1, y1), `w` px thick (DDA, one sample per pixel step). */
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[], a = 1, w = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n, y = y0 + ((y1 - y0) * i) / n;
      for (let dy = 0; dy < w; dy++) for (let dx = 0; dx < w; dx++) this.plot(x + dx - (w >> 1), y + dy - (w >> 1), c, a);
    }
  }

  rect(x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
    this.line(x0, y0, x1, y0, c); this.line(x1, y0, x1, y1, c); this.line(x1, y1, x0, y1, c); this.line(x0, y1, x0, y0, c);
  }

  /** Text in the 5×7 font at (x, y) (top-left), `scale` px per font pixel; returns the width drawn. */
  text(s: string, x: number, y: number, c: readonly number[] = [0, 0, 0], scale = 1): number {
    let cx = x;
    for (const ch of s) {
      const g = FONT[ch] ?? FONT[ch.toLowerCase()] ?? FONT['?'];
      for (let col = 0; col < 5; col++) {
        for (let row = 0; row < 7; row++) {
          if ((g[col] >> row) & 1) for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) this.plot(cx + col * scale + sx, y + row * scale + sy, c);
        }
      }
      cx += 6 * scale;
    }
    return cx - x;
  }
}

/** Width in px of `s` in the 5×7 font. */
export const textWidth = (s: string, scale = 1): number => [...s].length * 6 * scale;

// The classic 5×7 LCD font: 5 column bytes per glyph, bit 0 = top row.
const GLYPHS: Record<string, number[]> = {
  ' ': [0, 0, 0, 0, 0], '!': [0, 0, 0x5f, 0, 0], '%': [0x23, 0x13, 0x08, 0x64, 0x62], '(': [0, 0x1c, 0x22, 0x41, 0], ')': [0, 0x41, 0x22, 0x1c, 0],
  '+': [0x08, 0x08, 0x3e, 0x08, 0x08], ',': [0, 0x50, 0x30, 0, 0], '-': [0x08, 0x08, 0x08, 0x08, 0x08], '.': [0, 0x60, 0x60, 0, 0],
  '/': [0x20, 0x10, 0x08, 0x04, 0x02], ':': [0, 0x36, 0x36, 0, 0], '=': [0x14, 0x14, 0x14, 0x14, 0x14], '?': [0x02, 0x01, 0x51, 0x09, 0x06],
  '_': [0x40, 0x40, 0x40, 0x40, 0x40], '[': [0, 0x7f, 0x41, 0x41, 0], ']': [0, 0x41, 0x41, 0x7f, 0], '×': [0x22, 0x14, 0x08, 0x14, 0x22],
  '0': [0x3e, 0x51, 0x49, 0x45, 0x3e], '1': [0, 0x42, 0x7f, 0x40, 0], '2': [0x42, 0x61, 0x51, 0x49, 0x46], '3': [0x21, 0x41, 0x45, 0x4b, 0x31],
  '4': [0x18, 0x14, 0x12, 0x7f, 0x10], '5': [0x27, 0x45, 0x45, 0x45, 0x39], '6': [0x3c, 0x4a, 0x49, 0x49, 0x30], '7': [0x01, 0x71, 0x09, 0x05, 0x03],
  '8': [0x36, 0x49, 0x49, 0x49, 0x36], '9': [0x06, 0x49, 0x49, 0x29, 0x1e],
  a: [0x20, 0x54, 0x54, 0x54, 0x78], b: [0x7f, 0x48, 0x44, 0x44, 0x38], c: [0x38, 0x44, 0x44, 0x44, 0x20], d: [0x38, 0x44, 0x44, 0x48, 0x7f],
  e: [0x38, 0x54, 0x54, 0x54, 0x18], f: [0x08, 0x7e, 0x09, 0x01, 0x02], g: [0x08, 0x14, 0x54, 0x54, 0x3c], h: [0x7f, 0x08, 0x04, 0x04, 0x78],
  i: [0, 0x44, 0x7d, 0x40, 0], j: [0x20, 0x40, 0x44, 0x3d, 0], k: [0, 0x7f, 0x10, 0x28, 0x44], l: [0, 0x41, 0x7f, 0x40, 0],
  m: [0x7c, 0x04, 0x18, 0x04, 0x78], n: [0x7c, 0x08, 0x04, 0x04, 0x78], o: [0x38, 0x44, 0x44, 0x44, 0x38], p: [0x7c, 0x14, 0x14, 0x14, 0x08],
  q: [0x08, 0x14, 0x14, 0x18, 0x7c], r: [0x7c, 0x08, 0x04, 0x04, 0x08], s: [0x48, 0x54, 0x54, 0x54, 0x20], t: [0x04, 0x3f, 0x44, 0x40, 0x20],
  u: [0x3c, 0x40, 0x40, 0x20, 0x7c], v: [0x1c, 0x20, 0x40, 0x20, 0x1c], w: [0x3c, 0x40, 0x30, 0x40, 0x3c], x: [0x44, 0x28, 0x10, 0x28, 0x44],
  y: [0x0c, 0x50, 0x50, 0x50, 0x3c], z: [0x44, 0x64, 0x54, 0x4c, 0x44],
};
const FONT: Record<string, number[]> = GLYPHS;

// ---- charts ----

export interface Series { name: string; steps: number[]; values: number[] }

/** Exponential moving average with bias correction (as TensorBoard's smoothing). */
export function ema(values: readonly number[], beta: number): number[] {
  let m = 0, w = 0;
  return values.map((v) => {
    m = beta * m + (1 - beta) * v;
    w = beta * w + (1 - beta);
    return m / w;
  });
}

/** Short tick label: 3 significant digits, exponent form outside [1e-3, 1e5). */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/** "Nice" ticks covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const BLUE = [31, 119, 180];
const GREY = [200, 200, 200];
const INK = [40, 40, 40];

/** Draws one series into the panel at (x, y, w, h): frame, ticks, title, raw and smoothed lines. */
export function drawPanel(r: Raster, s: Series, title: string, x: number, y: number, w: number, h: number): void {
  const pts = s.steps.map((st, i) => [st, s.values[i]] as const).filter(([, v]) => Number.isFinite(v));
  r.text(title, x, y, INK);
  const left = x + 42, top = y + 12, right = x + w - 6, bottom = y + h - 14;
  r.rect(left, top, right, bottom, INK);
  if (pts.length === 0) { r.text('no data', left + 8, top + 8, INK); return; }
  const vs = pts.map(([, v]) => v);
  // a loop, not Math.min(...vs): a spread of a long run's log (~125k steps) overflows the call stack
  let lo = Infinity, hi = -Infinity;
  for (const v of vs) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const logY = lo > 0 && hi / lo > 20;
  const f = (v: number) => (logY ? Math.log10(v) : v);
  let flo = f(lo), fhi = f(hi);
  if (fhi === flo) { flo -= 0.5; fhi += 0.5; }
  const pad = (fhi - flo) * 0.05; flo -= pad; fhi += pad;
  const s0 = pts[0][0], s1 = Math.max(pts[pts.length - 1][0], s0 + 1);
  const X = (st: number) => left + ((st - s0) / (s1 - s0)) * (right - left);
  const Y = (v: number) => bottom - ((f(v) - flo) / (fhi - flo)) * (bottom - top);
  // y ticks
  const yt = logY
    ? Array.from({ length: Math.floor(fhi) - Math.ceil(flo) + 1 }, (_, k) => 10 ** (Math.ceil(flo) + k))
    : niceTicks(flo, fhi, 4);
  for (const v of yt) {
    const py = Y(v);
    if (py < top || py > bottom) continue;
    r.line(left + 1, py, right - 1, py, GREY, 0.6);
    const lab = tickLabel(v);
    r.text(lab, left - 3 - textWidth(lab), py - 3, INK);
  }
  if (logY) r.text('log', right - 20, top + 3, [120, 120, 120]);
  for (const st of niceTicks(s0, s1, 4)) {
    const px = X(st);
    if (px < left || px > right) continue;
    r.line(px, bottom, px, bottom + 2, INK);
    const lab = tickLabel(st);
    r.text(lab, px - textWidth(lab) / 2, bottom + 4, INK);
  }
  // smoothing window ≈ n/20 steps (none for short logs and for the learning rate)
  const sm = s.name === 'lr' ? vs : ema(vs, Math.min(0.98, Math.max(0, 1 - 20 / pts.length)));
  for (let i = 1; i < pts.length; i++) r.line(X(pts[i - 1][0]), Y(vs[i - 1]), X(pts[i][0]), Y(vs[i]), BLUE, 0.25);
  for (let i = 1; i < pts.length; i++) {
    const a = sm[i - 1], b = sm[i];
    if (logY && (a <= 0 || b <= 0)) continue;
    r.line(X(pts[i - 1][0]), Y(a), X(pts[i][0]), Y(b), BLUE, 1, 2);
  }
  if (pts.length === 1) r.line(X(pts[0][0]) - 2, Y(vs[0]), X(pts[0][0]) + 2, Y(vs[0]), BLUE, 1, 2);
  const last = `last ${tickLabel(sm[sm.length - 1])}`;
  r.text(last, right - 4 - textWidth(last), bottom - 10, INK);
}

export interface LogRecord { stage: string; step: number; loss?: number; lr?: number; metrics?: Record<string, number> }

/** Series per stage, in order of first appearance: loss, then each metric (lr last, if logged). */
export function seriesOfLog(records: readonly LogRecord[]): { stage: string; series: Series[] }[] {
  const stages = new Map<string, Map<string, Series>>();
  const add = (stage: string, name: string, step: number, v: unknown) => {
    if (typeof v !== 'number') return;
    let m = stages.get(stage);
    if (!m) stages.set(stage, (m = new Map()));
    let s = m.get(name);
    if (!s) m.set(name, (s = { name, steps: [], values: [] }));
    s.steps.push(step); s.values.push(v);
  };
  for (const r of records) {
    add(r.stage, 'loss', r.step, r.loss);
    for (const [k, v] of Object.entries(r.metrics ?? {})) add(r.stage, k, r.step, v);
  }
  for (const r of records) add(r.stage, 'lr', r.step, r.lr);
  return [...stages].map(([stage, m]) => ({ stage, series: [...m.values()] }));
}

/** The whole log as small multiples: one row of panels per stage (wrapping at `columns`). */
export function plotLog(records: readonly LogRecord[], o: { columns?: number; panelWidth?: number; panelHeight?: number; title?: string } = {}): Raster {
  const groups = seriesOfLog(records);
  const cols = o.columns ?? 4, pw = o.panelWidth ?? 280, ph = o.panelHeight ?? 170;
  const rows = groups.reduce((s, g) => s + Math.max(1, Math.ceil(g.series.length / cols)), 0);
  const head = o.title ? 22 : 6;
  const r = new Raster(cols * pw + 10, head + Math.max(1, rows) * (ph + 8) + 4);
  if (o.title) r.text(o.title, 8, 6, INK, 2);
  let row = 0;
  for (const g of groups) {
    g.series.forEach((s, i) => {
      const rr = row + Math.floor(i / cols), c = i % cols;
      drawPanel(r, s, `${g.stage}: ${s.name}`, 6 + c * pw, head + rr * (ph + 8), pw - 8, ph);
    });
    row += Math.max(1, Math.ceil(g.series.length / cols));
  }
  if (groups.length === 0) r.text('empty log', 10, head + 10, INK);
  return r;
}
