// Independent float64 reference implementations of the graph ops, in plain TypeScript over
// row-major N-d arrays, for tests: broadcasting elementwise, reductions, batched matmul, layout
// ops, gathers/scatters, softmax and direct-loop 2-D convolution. Written for clarity, not speed.

export interface Arr { shape: number[]; data: Float64Array }

export const arr = (shape: number[], data: ArrayLike<number>): Arr => {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`arr: ${data.length} values for [${shape}]`);
  return { shape: [...shape], data: Float64Array.from(data) };
};

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Multi-index of flat position i in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let k = 0; k < shape.length; k++) f = f * shape[k] + idx[k];
  return f;
}

/** Deterministic uniform numbers in [lo, hi) (an LCG: tests need reproducible, not good, randomness). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  }
  return a;
}

export const rand = (shape: number[], seed: number, lo = -1, hi = 1): Arr => ({ shape: [...shape], data: uniform(numel(shape), seed, lo, hi) });

export function broadcastShape(...shapes: number[][]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    let d = 1;
    for (const s of shapes) {
      const e = s[i - (r - s.length)] ?? 1;
      if (e !== 1) {
        if (d !== 1 && d !== e) throw new Error(`no broadcast ${JSON.stringify(shapes)}`);
        d = e;
      }
    }
    out.push(d);
  }
  return out;
}

/** Value of `a` at an index of the broadcast shape `out`. */
function atBroadcast(a: Arr, idx: number[]): number {
  const lead = idx.length - a.shape.length;
  let f = 0;
  for (let k = 0; k < a.shape.length; k++) f = f * a.shape[k] + (a.shape[k] === 1 ? 0 : idx[k + lead]);
  return a.data[f];
}

/** Elementwise function of any number of arrays, with numpy broadcasting. */
export function map(fn: (...v: number[]) => number, ...xs: Arr[]): Arr {
  const shape = broadcastShape(...xs.map((x) => x.shape));
  const out = new Float64Array(numel(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = fn(...xs.map((x) => atBroadcast(x, idx)));
  }
  return { shape, data: out };
}

export function reduce(x: Arr, axes: number[], keepdims: boolean, kind: 'sum' | 'mean' | 'max'): Arr {
  const r = x.shape.length;
  const ax = axes.map((a) => (a < 0 ? a + r : a));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const out = new Float64Array(numel(kept)).fill(kind === 'max' ? -Infinity : 0);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, k) => (ax.includes(k) ? 0 : v));
    const o = ravel(idx, kept);
    out[o] = kind === 'max' ? Math.max(out[o], x.data[i]) : out[o] + x.data[i];
  }
  if (kind === 'mean') {
    const n = numel(ax.map((a) => x.shape[a]));
    for (let i = 0; i < out.length; i++) out[i] /= n;
  }
  return { shape: keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i)), data: out };
}

export function argmax(x: Arr, axis: number, keepdims: boolean): Arr {
  const r = x.shape.length, a = axis < 0 ? axis + r : axis;
  const kept = x.shape.map((d, i) => (i === a ? 1 : d));
  const best = new Float64Array(numel(kept)).fill(-Infinity);
  const out = new Float64Array(numel(kept));
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    const pos = idx[a];
    idx[a] = 0;
    const o = ravel(idx, kept);
    if (x.data[i] > best[o]) { best[o] = x.data[i]; out[o] = pos; }
  }
  return { shape: keepdims ? kept : x.shape.filter((_, i) => i !== a), data: out };
}

export function softmax(x: Arr, axis: number, log = false): Arr {
  const mx = reduce(x, [axis], true, 'max');
  const e = map((v, m) => Math.exp(v - m), x, mx);
  const s = reduce(e, [axis], true, 'sum');
  return log ? map((v, m, z) => v - m - Math.log(z), x, mx, s) : map((v, z) => v / z, e, s);
}

/** Batched matrix product with numpy broadcasting of the leading dims. */
export function matmul(a: Arr, b: Arr): Arr {
  const [M, K] = a.shape.slice(-2), [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error('matmul inner dims');
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = new Float64Array(numel(batch) * M * N);
  const aB = a.shape.slice(0, -2), bB = b.shape.slice(0, -2);
  for (let p = 0; p < numel(batch); p++) {
    const bi = unravel(p, batch);
    const offA = ravel(bi.slice(bi.length - aB.length).map((v, k) => (aB[k] === 1 ? 0 : v)), aB) * M * K;
    const offB = ravel(bi.slice(bi.length - bB.length).map((v, k) => (bB[k] === 1 ? 0 : v)), bB) * K * N;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a.data[offA + i * K + k] * b.data[offB + k * N + j];
      out[p * M * N + i * N + j] = s;
    }
  }
  return { shape: [...batch, M, N], data: out };
}

export function transpose(x: Arr, perm: number[]): Arr {
  const shape = perm.map((p) => x.shape[p]);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const src = new Array(perm.length);
    perm.forEach((p, k) => (src[p] = idx[k]));
    out[i] = x.data[ravel(src, x.shape)];
  }
  return { shape, data: out };
}

/** Python-style slice bounds: negative counts from the end, clamped to [0, d]. */
function bound(v: number, d: number): number {
  return Math.min(Math.max(v < 0 ? v + d : v, 0), d);
}

export function slice(x: Arr, axes: number[], starts: number[], ends: number[]): Arr {
  const r = x.shape.length;
  const lo = new Array(r).fill(0), shape = [...x.shape];
  axes.forEach((a0, k) => {
    const a = a0 < 0 ? a0 + r : a0;
    const s = bound(starts[k], x.shape[a]), e = bound(ends[k], x.shape[a]);
    lo[a] = s;
    shape[a] = Math.max(e - s, 0);
  });
  const out = new Float64Array(numel(shape));
  for (let i = 0; i < out.length; i++) out[i] = x.data[ravel(unravel(i, shape).map((v, k) => v + lo[k]), x.shape)];
  return { shape, data: out };
}

export function concat(xs: Arr[], axis: number): Arr {
  const r = xs[0].shape.length, a = axis < 0 ? axis + r : axis;
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
  const out = new Float64Array(numel(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let j = 0, pos = idx[a];
    while (pos >= xs[j].shape[a]) pos -= xs[j++].shape[a];
    idx[a] = pos;
    out[i] = xs[j].data[ravel(idx, xs[j].shape)];
  }
  return { shape, data: out };
}

/** ONNX pads layout: [begin_0..begin_{r-1}, end_0..end_{r-1}], constant value. */
export function pad(x: Arr, pads: number[], value = 0): Arr {
  const r = x.shape.length;
  const shape = x.shape.map((d, i) => d + pads[i] + pads[i + r]);
  const out = new Float64Array(numel(shape)).fill(value);
  for (let i = 0; i < x.data.length; i++) out[ravel(unravel(i, x.shape).map((v, k) => v + pads[k]), shape)] = x.data[i];
  return { shape, data: out };
}

/** numpy.take(x, idx, axis) (negative indices count from the end). */
export function gather(x: Arr, idx: Arr, axis: number): Arr {
  const r = x.shape.length, a = axis < 0 ? axis + r : axis;
  const shape = [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)];
  const out = new Float64Array(numel(shape));
  for (let i = 0; i < out.length; i++) {
    const o = unravel(i, shape);
    const q = o.slice(a, a + idx.shape.length);
    let v = idx.data[ravel(q, idx.shape)];
    if (v < 0) v += x.shape[a];
    out[i] = x.data[ravel([...o.slice(0, a), v, ...o.slice(a + idx.shape.length)], x.shape)];
  }
  return { shape, data: out };
}

/** x[idx[..., 0], ..., idx[..., k-1]] for each leading position of idx (ONNX GatherND, batch_dims 0). */
export function gatherND(x: Arr, idx: Arr): Arr {
  const k = idx.shape[idx.shape.length - 1];
  const lead = idx.shape.slice(0, -1), rest = x.shape.slice(k), m = numel(rest);
  const out = new Float64Array(numel(lead) * m);
  for (let p = 0; p < numel(lead); p++) {
    const base = Array.from(idx.data.subarray(p * k, (p + 1) * k));
    const off = ravel([...base, ...new Array(rest.length).fill(0)], x.shape);
    for (let j = 0; j < m; j++) out[p * m + j] = x.data[off + j];
  }
  return { shape: [...lead, ...rest], data: out };
}

/** data with updates added at the positions of idx (duplicates accumulate). */
export function scatterNDAdd(data: Arr, idx: Arr, upd: Arr): Arr {
  const k = idx.shape[idx.shape.length - 1];
  const lead = idx.shape.slice(0, -1), m = numel(data.shape.slice(k));
  const out = Float64Array.from(data.data);
  for (let p = 0; p < numel(lead); p++) {
    const base = Array.from(idx.data.subarray(p * k, (p + 1) * k));
    const off = ravel([...base, ...new Array(data.shape.length - k).fill(0)], data.shape);
    for (let j = 0; j < m; j++) out[off + j] += upd.data[p * m + j];
  }
  return { shape: [...data.shape], data: out };
}

export interface ConvRefOpts { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number }

/** Direct-loop 2-D convolution (cross-correlation), x [N,C,H,W], w [O,C/g,kh,kw], pads [t,l,b,r]. */
export function conv2d(x: Arr, w: Arr, b: Arr | null, o: ConvRefOpts = {}): Arr {
  const [s0, s1] = o.strides ?? [1, 1], [pt, pl, pb, pr] = o.pads ?? [0, 0, 0, 0];
  const [d0, d1] = o.dilations ?? [1, 1], G = o.group ?? 1;
  const [N, C, H, W] = x.shape, [O, Cg, kh, kw] = w.shape;
  const Ho = Math.floor((H + pt + pb - d0 * (kh - 1) - 1) / s0) + 1;
  const Wo = Math.floor((W + pl + pr - d1 * (kw - 1) - 1) / s1) + 1;
  const Og = O / G;
  if (Cg * G !== C) throw new Error('conv2d ref: channels');
  const out = new Float64Array(N * O * Ho * Wo);
  for (let n = 0; n < N; n++) for (let oc = 0; oc < O; oc++) {
    const grp = Math.floor(oc / Og);
    for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
      let s = b ? b.data[oc] : 0;
      for (let c = 0; c < Cg; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        const ih = oh * s0 - pt + i * d0, iw = ow * s1 - pl + j * d1;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
        s += x.data[((n * C + grp * Cg + c) * H + ih) * W + iw] * w.data[((oc * Cg + c) * kh + i) * kw + j];
      }
      out[((n * O + oc) * Ho + oh) * Wo + ow] = s;
    }
  }
  return { shape: [N, O, Ho, Wo], data: out };
}

/** erf in float64 (Taylor series below 3, continued fraction for erfc above), ~1e-14 absolute. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = a, sum = a;
    for (let n = 1; n < 100; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...)))) (Lentz-free backward evaluation)
  let f = 0;
  for (let k = 60; k >= 1; k--) f = (k / 2) / (a + f);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  return Math.sign(x) * (1 - erfc);
}
