// Emits a recorded graph as ONNX ModelProto bytes (opset 17): weights as initializers for
// inference or as inputs for training; deterministic bytes for the same graph.
import type { Dim } from '../dims.ts';
import { dimAtoms, monomialOf, splitSum } from '../dims.ts';
import type { DType, TypedArray } from '../dtype.ts';
import { allocTyped, ONNX_DTYPE } from '../dtype.ts';
import type { Attrs, EmitContext, Node, Tensor } from '../tensor.ts';
import { opDef } from '../tensor.ts';
import { ProtoWriter } from './proto.ts';
import { foldCast, transposeFeedsOnlyMatMuls, type FoldedWeight } from './fold-weights.ts';

export interface EmitOptions {
  /** Named outputs of the model. */
  outputs: Record<string, Tensor>;
  /** Parameters become graph inputs (training) instead of initializers (inference). */
  paramsAsInputs?: boolean;
  opset?: number;
  /**
   * Initializers of at least this many bytes go to an external data file instead of the protobuf
   * (which cannot exceed 2 GB). Default: only when the initializers total more than 1.5 GB.
   */
  externalDataThreshold?: number;
  /**
   * Casts of float16/bfloat16 weights to float32 and transposes of Linear weights feeding MatMuls
   * are done here, once (fold-weights.ts), instead of by ONNX Runtime when a session is created.
   * Default: on for inference graphs (never with paramsAsInputs, where the weights are inputs).
   */
  foldWeights?: boolean;
  /**
   * With foldWeights, what becomes of a Linear weight's transpose feeding MatMuls (fold-weights.ts):
   * 'graph' leaves it to ONNX Runtime (default), 'fused' uses the weight as stored through
   * FusedMatMul(transB).
   */
  linearWeights?: 'graph' | 'fused';
}

/** Weights stored outside the protobuf: `location` relative to the model file, chunks at offsets. */
export interface ExternalData {
  location: string;
  byteLength: number;
  chunks: { offset: number; bytes: Uint8Array }[];
}

export interface OnnxModel {
  bytes: Uint8Array;
  inputNames: string[];
  /** Parameters emitted as inputs, in order (only with paramsAsInputs). */
  paramNames: string[];
  outputNames: string[];
  externalData?: ExternalData;
  /** The distinct op types of the model's nodes. */
  opTypes?: string[];
}

export const EXTERNAL_DATA_FILE = 'weights.bin';
const AUTO_EXTERNAL_TOTAL = 1.5 * 2 ** 30;
const EXTERNAL_ALIGN = 4096;

interface OnnxNode { opType: string; inputs: string[]; outputs: string[]; attrs: Attrs; domain: string; }
interface Initializer { name: string; dtype: DType; dims: number[]; data: TypedArray }

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 };

function rawBytes(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writeTensor(w: ProtoWriter, t: Initializer, external?: { offset: number; length: number }): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, ONNX_DTYPE[t.dtype]);
  w.string(8, t.name);
  if (!external) {
    w.bytes(9, rawBytes(t.data));
    return;
  }
  const entry = (k: string, v: string) => w.message(13, (e) => { e.string(1, k); e.string(2, v); });
  entry('location', EXTERNAL_DATA_FILE);
  entry('offset', String(external.offset));
  entry('length', String(external.length));
  w.int(14, 1); // data_location = EXTERNAL
}

function writeAttr(w: ProtoWriter, name: string, v: unknown): void {
  w.string(1, name);
  if (typeof v === 'boolean') { w.int(3, v ? 1 : 0); w.int(20, ATTR.INT); return; }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}=${v}: wrap float attributes as {f: value}`);
    w.int(3, v); w.int(20, ATTR.INT); return;
  }
  if (typeof v === 'string') { w.string(4, v); w.int(20, ATTR.STRING); return; }
  if (Array.isArray(v)) { w.packedInts(8, v as number[]); w.int(20, ATTR.INTS); return; }
  const o = v as Record<string, unknown>;
  if ('f' in o) { w.float(2, o.f as number); w.int(20, ATTR.FLOAT); return; }
  if ('fs' in o) { w.packedFloats(7, o.fs as number[]); w.int(20, ATTR.FLOATS); return; }
  if ('dtype' in o) { w.int(3, ONNX_DTYPE[o.dtype as DType]); w.int(20, ATTR.INT); return; }
  if ('zeroOf' in o) {
    const dt = o.zeroOf as DType;
    w.message(5, (t) => writeTensor(t, { name: '', dtype: dt, dims: [1], data: allocTyped(dt, 1) }));
    w.int(20, ATTR.TENSOR);
    return;
  }
  throw new Error(`attribute ${name}: unsupported value ${JSON.stringify(v)}`);
}

function writeValueInfo(w: ProtoWriter, name: string, dtype: DType, shape: readonly Dim[] | null): void {
  w.string(1, name);
  w.message(2, (tp) => tp.message(1, (tt) => {
    tt.int(1, ONNX_DTYPE[dtype]);
    if (shape) {
      tt.message(2, (sh) => {
        for (const d of shape) sh.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }
  }));
}

/** Nodes needed to compute `targets`, in creation (= topological) order. */
function liveNodes(targets: Tensor[]): Node[] {
  const seen = new Set<Node>();
  const stack = targets.map((t) => t.node).filter((n): n is Node => !!n);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const t of n.inputs) if (t.node && !seen.has(t.node)) stack.push(t.node);
  }
  return [...seen].sort((a, b) => a.id - b.id);
}

export function emitOnnx(opts: EmitOptions): OnnxModel {
  const outputs = Object.entries(opts.outputs);
  if (outputs.length === 0) throw new Error('emitOnnx: no outputs');
  const graph = outputs[0][1].graph;
  const nodes: OnnxNode[] = [];
  const inits: Initializer[] = [];
  const names = new Map<Tensor, string>();
  const constCache = new Map<string, string>();
  let fresh = 0;
  const usedInputs = new Set<Tensor>();
  const usedParams = new Set<Tensor>();
  const dimCache = new Map<string, string>();

  // weights computed at emission (foldWeights): emitted as initializers when first named
  const folded = new Map<Tensor, FoldedWeight>();
  // one initializer per distinct 1-D constant (name prefix, dtype, values), shared by every node using it
  const constVector = (prefix: string, dtype: DType, values: readonly (number | bigint)[], data: () => TypedArray): string => {
    const key = `${prefix}:${values.join(',')}`;
    let n = constCache.get(key);
    if (!n) {
      n = `${prefix}_${constCache.size}`;
      constCache.set(key, n);
      inits.push({ name: n, dtype, dims: [values.length], data: data() });
    }
    return n;
  };
  const ctx: EmitContext = {
    name(t) {
      let n = names.get(t);
      if (n) return n;
      const f = folded.get(t);
      if (f) { n = f.name; inits.push(f); }
      else if (t.kind === 'input') { usedInputs.add(t); n = t.name!; }
      else if (t.kind === 'param') { usedParams.add(t); n = t.name!; }
      else if (t.kind === 'const') {
        n = `const_${t.id}`;
        inits.push({ name: n, dtype: t.dtype, dims: t.shape as number[], data: t.value! });
      } else n = `t${t.id}`;
      names.set(t, n);
      return n;
    },
    node(opType, inputs, outs, attrs = {}, domain = '') {
      nodes.push({ opType, inputs, outputs: outs, attrs, domain });
    },
    constInt64(values) {
      return constVector('i64', 'int64', values, () => BigInt64Array.from(values.map((v) => BigInt(v))));
    },
    constFloat32(values) {
      return constVector('f32', 'float32', values, () => Float32Array.from(values));
    },
    constScalar(value, dtype) {
      return this.constTensor(value, dtype, []);
    },
    constScalar1d(value, dtype) {
      return this.constTensor(value, dtype, [1]);
    },
    constTensor(value: number, dtype: DType, dims: number[]) {
      const key = `${dtype}:${dims.length}:${value}`;
      let n = constCache.get(key);
      if (!n) {
        n = `c_${constCache.size}`;
        constCache.set(key, n);
        const data = allocTyped(dtype, 1);
        if (data instanceof BigInt64Array) data[0] = BigInt(value);
        else if (data instanceof Uint16Array) throw new Error(`constant of ${dtype}: cast a float32 constant`);
        else data[0] = value;
        inits.push({ name: n, dtype, dims, data });
      }
      return n;
    },
    fresh(prefix) { return `${prefix}_${fresh++}`; },
    dimValue(d) {
      if (typeof d === 'number') return this.constInt64([d]);
      const cached = dimCache.get(String(d));
      if (cached) return cached;
      let out: string | undefined;
      // A graph input that carries this exact dim.
      for (const t of graph.inputs) {
        const axis = t.shape.indexOf(d);
        if (axis >= 0) {
          out = this.fresh('dim');
          this.node('Shape', [this.name(t)], [out], { start: axis, end: axis + 1 });
          break;
        }
      }
      const sum = splitSum(d);
      if (!out && sum) {
        const [a, op, b] = sum;
        const va = this.dimValue(a), vb = this.dimValue(b);
        out = this.fresh('dim');
        this.node(op === '+' ? 'Add' : 'Sub', [va, vb], [out]);
      }
      if (!out && typeof d === 'string') {
        const { coef, syms } = monomialOf(d);
        if (syms.length > 1 || coef !== 1) {
          let acc = this.constInt64([coef]);
          for (const s of syms) {
            const next = this.fresh('dim');
            this.node('Mul', [acc, this.dimValue(s)], [next]);
            acc = next;
          }
          out = acc;
        }
      }
      if (!out) throw new Error(`no graph input carries the symbolic dim "${d}" (atoms: ${dimAtoms(d)})`);
      dimCache.set(String(d), out);
      return out;
    },
  } as EmitContext & { constTensor(v: number, d: DType, dims: number[]): string };

  const live = liveNodes(outputs.map(([, t]) => t));
  const fold = opts.foldWeights ?? !opts.paramsAsInputs;
  if (fold && opts.paramsAsInputs) throw new Error('emitOnnx: foldWeights needs the weights as initializers (not paramsAsInputs)');
  const consumers = new Map<Tensor, Node[]>();
  if (fold) {
    for (const n of live) {
      for (const t of n.inputs) {
        const c = consumers.get(t);
        if (c) c.push(n); else consumers.set(t, [n]);
      }
    }
  }
  const outputTensors = new Set(outputs.map(([, t]) => t));
  const weightValue = (t: Tensor) => (t.kind === 'param' ? { name: t.name!, dtype: t.dtype, data: t.value! } : folded.get(t) ?? null);
  const isWeight = (t: Tensor) => t.kind === 'param' || folded.has(t);
  /** Transposed weights whose MatMuls take the weight itself with transB. */
  const transposed = new Map<Tensor, Tensor>();
  const fuseLinear = fold && opts.linearWeights === 'fused';
  for (const n of live) {
    if (fold && n.op === 'Cast' && !outputTensors.has(n.outputs[0])) {
      const f = foldCast(n, weightValue);
      if (f) { folded.set(n.outputs[0], f); continue; }
    }
    if (fuseLinear && n.op === 'Transpose' && transposeFeedsOnlyMatMuls(n, isWeight, consumers.get(n.outputs[0]) ?? [], outputTensors.has(n.outputs[0]))) {
      transposed.set(n.outputs[0], n.inputs[0]);
      continue;
    }
    const w = n.op === 'MatMul' ? transposed.get(n.inputs[1]) : undefined;
    if (w) {
      ctx.node('FusedMatMul', [ctx.name(n.inputs[0]), ctx.name(w)], [ctx.name(n.outputs[0])], { transB: 1 }, 'com.microsoft');
      continue;
    }
    opDef(n.op).emit(ctx, n);
  }
  for (const [name, t] of outputs) ctx.node('Identity', [ctx.name(t)], [name]);

  const inputs = graph.inputs.filter((t) => usedInputs.has(t));
  const params = graph.params.filter((t) => usedParams.has(t));
  if (!opts.paramsAsInputs) {
    for (const p of params) inits.push({ name: p.name!, dtype: p.dtype, dims: p.shape as number[], data: p.value! });
  }
  const graphInputs = opts.paramsAsInputs ? [...inputs, ...params] : inputs;
  const taken = new Set([...graphInputs.map((t) => t.name!), ...inits.map((t) => t.name)]);
  for (const [name] of outputs) {
    if (taken.has(name)) throw new Error(`emitOnnx: output name "${name}" is also an input or weight name; rename one`);
    taken.add(name);
  }

  let external: ExternalData | undefined;
  const w = new ProtoWriter();
  w.int(1, 8); // ir_version
  w.string(2, 'hart-js');
  w.message(7, (g) => {
    for (const n of nodes) {
      g.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, `${n.opType}_${n.outputs[0]}`);
        nw.string(4, n.opType);
        for (const [k, v] of Object.entries(n.attrs)) nw.message(5, (aw) => writeAttr(aw, k, v));
        if (n.domain) nw.string(7, n.domain);
      });
    }
    g.string(2, 'hart');
    const total = inits.reduce((a, t) => a + t.data.byteLength, 0);
    const threshold = opts.externalDataThreshold ?? (total > AUTO_EXTERNAL_TOTAL ? 1024 : Infinity);
    for (const t of inits) {
      if (t.data.byteLength >= threshold) {
        external ??= { location: EXTERNAL_DATA_FILE, byteLength: 0, chunks: [] };
        const offset = Math.ceil(external.byteLength / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
        const bytes = rawBytes(t.data);
        external.chunks.push({ offset, bytes });
        external.byteLength = offset + bytes.byteLength;
        g.message(5, (tw) => writeTensor(tw, t, { offset, length: bytes.byteLength }));
      } else {
        g.message(5, (tw) => writeTensor(tw, t));
      }
    }
    for (const t of graphInputs) g.message(11, (vw) => writeValueInfo(vw, t.name!, t.dtype, t.shape));
    for (const [name, t] of outputs) g.message(12, (vw) => writeValueInfo(vw, name, t.dtype, null));
  });
  w.message(8, (o) => { o.string(1, ''); o.int(2, opts.opset ?? 17); });
  if (nodes.some((n) => n.domain === 'com.microsoft')) w.message(8, (o) => { o.string(1, 'com.microsoft'); o.int(2, 1); });

  return {
    bytes: w.finish(),
    inputNames: inputs.map((t) => t.name!),
    paramNames: opts.paramsAsInputs ? params.map((t) => t.name!) : [],
    outputNames: outputs.map(([n]) => n),
    externalData: external,
    opTypes: [...new Set(nodes.map((n) => n.opType))].sort(),
  };
}
