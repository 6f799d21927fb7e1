// Test harness for graph-engine tests: one shared onnxruntime-node runtime, `evaluate` (emit a
// graph, run it, get float64 arrays back), tolerance assertions, and `checkGrads`, which checks
// every gradient of a graph-building function against central finite differences.
import assert from 'node:assert/strict';
import type { Dim, DType, Tensor } from '../../src/graph/index.ts';
import { Graph, emitOnnx, grad } from '../../src/graph/index.ts';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { hostTensor } from '../../src/runtime/host-tensor.ts';
import type { Arr } from './ref.ts';
import { numel, uniform } from './ref.ts';

/** One intra-op thread: the machines running tests are shared, and results stay deterministic. */
export const runtime = nodeRuntime({ threads: 1 });

/** A host tensor of `dtype` holding arr's values. */
export function feed(a: Arr | { shape: number[]; data: ArrayLike<number> }, dtype: DType = 'float64'): HostTensor {
  const n = numel(a.shape);
  switch (dtype) {
    case 'float64': return hostTensor(Float64Array.from(a.data), a.shape, dtype);
    case 'float32': return hostTensor(Float32Array.from(a.data), a.shape, dtype);
    case 'int64': return hostTensor(BigInt64Array.from(Array.from(a.data, (v) => BigInt(v))), a.shape, dtype);
    case 'int32': return hostTensor(Int32Array.from(a.data), a.shape, dtype);
    case 'bool': return hostTensor(Uint8Array.from(a.data), a.shape, dtype);
    default: throw new Error(`feed: ${dtype} (${n} values)`);
  }
}

export function toArr(h: HostTensor): Arr {
  const d = h.data;
  const data = d instanceof BigInt64Array ? Float64Array.from(d, (v) => Number(v)) : Float64Array.from(d as ArrayLike<number>);
  return { shape: [...h.shape], data };
}

/** Emits the graph that computes `outputs`, runs it on onnxruntime-node, returns the outputs as float64 arrays. */
export async function evaluate(
  outputs: Record<string, Tensor>, feeds: Record<string, HostTensor> = {},
): Promise<Record<string, Arr> & { raw: Record<string, HostTensor> }> {
  const model = emitOnnx({ outputs });
  const session = await runtime.load(model);
  const raw = await session.run(feeds);
  const res = { raw } as Record<string, Arr> & { raw: Record<string, HostTensor> };
  for (const [k, v] of Object.entries(raw)) res[k] = toArr(v);
  return res;
}

/** Asserts |got − want| ≤ atol + rtol·|want| elementwise, and equal shapes when `want` has one. */
export function assertClose(got: Arr | ArrayLike<number>, want: Arr | ArrayLike<number>, tol: { atol?: number; rtol?: number }, msg = ''): void {
  const g = 'data' in got ? got.data : got, w = 'data' in want ? want.data : want;
  if ('shape' in got && 'shape' in want) assert.deepEqual(got.shape, want.shape, `${msg}: shape`);
  assert.equal(g.length, w.length, `${msg}: length`);
  const atol = tol.atol ?? 0, rtol = tol.rtol ?? 0;
  let worst = -1, excess = 0;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - w[i]) - (atol + rtol * Math.abs(w[i]));
    if (!(e <= excess)) { excess = Number.isNaN(e) ? Infinity : e; worst = i; }
  }
  if (worst >= 0) {
    assert.fail(`${msg}: element ${worst} is ${g[worst]}, expected ${w[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

export interface GradInput {
  name: string;
  /** Run-time shape of the fed value. */
  shape: number[];
  /** Declared (possibly symbolic) shape; defaults to `shape`. */
  dims?: Dim[];
  /** Values; default uniform in [-1, 1). */
  data?: ArrayLike<number>;
}

export interface GradCheckOptions {
  /** dtype the inputs are declared with (default float64). */
  dtype?: 'float64' | 'float32';
  /** Finite-difference step (default 1e-6 in float64; the reference is always float64). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /**
   * A float64 reference of the function (inputs then parameters, in creation order). When given,
   * finite differences are taken on it instead of on the graph; needed for float32-only ops.
   */
  reference?: (xs: Arr[]) => Arr;
  /** At most this many elements of each tensor are perturbed (a deterministic spread). */
  maxPerTensor?: number;
  seed?: number;
  /** Values for graph inputs `build` declares itself (indices and other non-differentiable inputs). */
  feeds?: Record<string, HostTensor>;
}

/**
 * Checks the gradients of y = build(graph, inputs) with respect to every input and every float
 * parameter `build` creates: the loss is Σ y·r for a fixed random r (so every output element
 * counts), the graph's gradients come from `grad`, and each is compared elementwise with the
 * central difference (L(x + εe) − L(x − εe)) / 2ε. Returns the largest relative error seen.
 */
export async function checkGrads(
  build: (g: Graph, xs: Tensor[]) => Tensor,
  inputs: GradInput[],
  opts: GradCheckOptions = {},
): Promise<number> {
  const dtype = opts.dtype ?? 'float64';
  const g = new Graph();
  const xs = inputs.map((s) => g.input(s.name, dtype, s.dims ?? s.shape));
  const y = build(g, xs);
  const params = g.params.filter((p) => p.dtype === 'float64' || p.dtype === 'float32');
  const wrt = [...xs, ...params];
  const values: Arr[] = [
    ...inputs.map((s, i) => ({ shape: s.shape, data: s.data ? Float64Array.from(s.data) : uniform(numel(s.shape), (opts.seed ?? 1) * 7919 + i) })),
    ...params.map((p) => ({ shape: p.shape as number[], data: Float64Array.from(p.value as ArrayLike<number>) })),
  ];
  const dtypes: DType[] = wrt.map((t) => t.dtype);
  const feedsOf = (vals: Arr[], r: Arr): Record<string, HostTensor> => {
    const f: Record<string, HostTensor> = { ...opts.feeds, grad_check_r: feed(r, y.dtype) };
    wrt.forEach((t, i) => (f[t.name!] = feed(vals[i], dtypes[i])));
    return f;
  };

  // Forward once to learn y's run-time shape, then fix the random projection r.
  const fwd = await runtime.load(emitOnnx({ outputs: { y }, paramsAsInputs: true }));
  const f0: Record<string, HostTensor> = { ...opts.feeds };
  wrt.forEach((t, i) => (f0[t.name!] = feed(values[i], dtypes[i])));
  const yGraph = toArr((await fwd.run(f0)).y);
  const yShape = yGraph.shape;
  const r: Arr = { shape: yShape, data: uniform(numel(yShape), 4242 + (opts.seed ?? 0)) };

  const rIn = g.input('grad_check_r', y.dtype, y.shape);
  const loss = y.rank === 0 ? y.mul(rIn) : y.mul(rIn).sum([...Array(y.rank).keys()]);
  const grads = grad(loss, wrt);
  const gOut: Record<string, Tensor> = { loss };
  grads.forEach((t, i) => (gOut[`grad_${i}`] = t));
  const withGrads = await runtime.load(emitOnnx({ outputs: gOut, paramsAsInputs: true }));
  const lossOnly = await runtime.load(emitOnnx({ outputs: { loss }, paramsAsInputs: true }));
  const analytic = await withGrads.run(feedsOf(values, r));

  const refLoss = opts.reference
    ? (vals: Arr[]) => { const yr = opts.reference!(vals); let s = 0; for (let i = 0; i < r.data.length; i++) s += yr.data[i] * r.data[i]; return s; }
    : null;
  if (opts.reference) {
    // The graph's forward value must match the reference too, or the gradient comparison is moot.
    const yRef = opts.reference(values);
    assertClose(yGraph, yRef, { atol: dtype === 'float64' ? 1e-12 : 1e-5, rtol: dtype === 'float64' ? 1e-12 : 1e-5 }, 'forward vs reference');
  }
  const eps = opts.eps ?? (dtype === 'float64' || refLoss ? 1e-6 : 1e-2);
  const atol = opts.atol ?? 1e-8, rtol = opts.rtol ?? 1e-6;
  let worst = 0;
  for (let i = 0; i < wrt.length; i++) {
    const got = toArr(analytic[`grad_${i}`]);
    assert.deepEqual(got.shape, values[i].shape, `gradient shape of ${wrt[i].name}`);
    const n = values[i].data.length, max = opts.maxPerTensor ?? 96;
    const picks = n <= max ? [...Array(n).keys()] : [...Array(max).keys()].map((k) => Math.floor((k * n) / max + (k % 3)) % n);
    for (const j of picks) {
      const perturbed = (delta: number) => values.map((v, k) => {
        if (k !== i) return v;
        const d = Float64Array.from(v.data);
        d[j] += delta;
        return { shape: v.shape, data: d };
      });
      let num: number;
      if (refLoss) num = (refLoss(perturbed(eps)) - refLoss(perturbed(-eps))) / (2 * eps);
      else {
        const lp = toArr((await lossOnly.run(feedsOf(perturbed(eps), r))).loss).data[0];
        const lm = toArr((await lossOnly.run(feedsOf(perturbed(-eps), r))).loss).data[0];
        num = (lp - lm) / (2 * eps);
      }
      const ana = got.data[j];
      const err = Math.abs(num - ana);
      const scale = Math.max(Math.abs(num), Math.abs(ana));
      worst = Math.max(worst, err / Math.max(scale, 1e-300));
      if (!(err <= atol + rtol * scale)) {
        assert.fail(`d loss / d ${wrt[i].name}[${j}]: graph ${ana}, finite difference ${num} (|diff| ${err.toExponential(2)})`);
      }
    }
  }
  return worst;
}
