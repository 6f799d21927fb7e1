// The symbolic tensor graph: Graph records nodes; a Tensor is a value in it (input, parameter,
// constant or op output) with a dtype and a possibly symbolic shape. Ops check shapes when they
// are built, so a bad model fails at the line that built it, never inside ONNX Runtime.
import type { DType, TypedArray } from './dtype.ts';
import { dtypeOfArray } from './dtype.ts';
import type { Dim, Shape } from './dims.ts';
import { fmtShape, isStatic, prodDims } from './dims.ts';

export type Attrs = Record<string, unknown>;

export interface OutSpec { dtype: DType; shape: Dim[] }

/** Everything the engine knows about one op: shape inference, ONNX lowering, vector-Jacobian product. */
export interface OpDef {
  name: string;
  infer(inputs: Tensor[], attrs: Attrs): OutSpec[];
  /** Lowers the node to ONNX nodes; see onnx/emit.ts. */
  emit(ctx: EmitContext, node: Node): void;
  /** Gradients of the node's inputs given gradients of its outputs (null = no gradient flows). */
  vjp?(node: Node, grads: (Tensor | null)[]): (Tensor | null)[];
}

export interface EmitContext {
  name(t: Tensor): string;
  node(opType: string, inputs: string[], outputs: string[], attrs?: Attrs, domain?: string): void;
  constInt64(values: readonly (number | bigint)[]): string;
  constScalar(value: number, dtype: DType): string;
  constScalar1d(value: number, dtype: DType): string;
  /** A 1-D float32 initializer holding these values (shared between nodes asking for the same). */
  constFloat32(values: readonly number[]): string;
  fresh(prefix: string): string;
  /** Name of a scalar int64 holding a symbolic dim at run time (built from some graph input's shape). */
  dimValue(d: Dim): string;
}

const OPS = new Map<string, OpDef>();

export function defineOp(def: OpDef): OpDef {
  if (OPS.has(def.name)) throw new Error(`op ${def.name} defined twice`);
  OPS.set(def.name, def);
  return def;
}

export function opDef(name: string): OpDef {
  const d = OPS.get(name);
  if (!d) throw new Error(`unknown op ${name}`);
  return d;
}

export class Node {
  outputs: Tensor[] = [];
  constructor(
    readonly id: number,
    readonly op: string,
    readonly inputs: Tensor[],
    readonly attrs: Attrs,
  ) {}
}

export type TensorKind = 'input' | 'param' | 'const' | 'op';

export class Tensor {
  /** Index of this output within its producing node. */
  outIndex = 0;
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly kind: TensorKind,
    readonly dtype: DType,
    readonly shape: Dim[],
    readonly node?: Node,
    public name?: string,
    readonly value?: TypedArray,
  ) {}

  get rank(): number { return this.shape.length; }
  /** Number of elements, when the shape is static. */
  get size(): number {
    const p = prodDims(this.shape);
    if (typeof p !== 'number') throw new Error(`size of symbolic shape ${fmtShape(this.shape)}`);
    return p;
  }
  toString(): string { return `${this.name ?? `t${this.id}`}:${this.dtype}${fmtShape(this.shape)}`; }
}

/** Where an op was called from: the first stack frame outside src/graph. */
function callerFrame(): string {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  const frame = stack.find((l) => !/[\\/]src[\\/]graph[\\/]/.test(l) && !l.includes('node:internal'));
  return frame ? frame.trim().replace(/^at /, '') : 'unknown caller';
}

export class ShapeError extends Error {}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly params: Tensor[] = [];
  private nextId = 0;
  private names = new Set<string>();

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph already has a tensor named "${name}"`);
    this.names.add(name);
    return name;
  }

  /** A run-time input; string dims are symbolic sizes bound by the feed. */
  input(name: string, dtype: DType, shape: Dim[]): Tensor {
    const t = new Tensor(this, this.nextId++, 'input', dtype, [...shape], undefined, this.claim(name));
    this.inputs.push(t);
    return t;
  }

  /** A named weight: an initializer for inference, a graph input when emitted for training. */
  param(name: string, shape: number[], value: TypedArray, dtype: DType = dtypeOfArray(value)): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (value.length !== n) {
      throw new Error(`param ${name}: ${value.length} values for shape ${fmtShape(shape)} (${n})`);
    }
    const t = new Tensor(this, this.nextId++, 'param', dtype, [...shape], undefined, this.claim(name), value);
    this.params.push(t);
    return t;
  }

  constant(value: TypedArray, shape: number[], dtype: DType = dtypeOfArray(value)): Tensor {
    return new Tensor(this, this.nextId++, 'const', dtype, [...shape], undefined, undefined, value);
  }

  scalar(v: number, dtype: DType = 'float32'): Tensor {
    switch (dtype) {
      case 'float32': return this.constant(new Float32Array([v]), [], dtype);
      case 'float64': return this.constant(new Float64Array([v]), [], dtype);
      case 'int64': return this.constant(new BigInt64Array([BigInt(v)]), [], dtype);
      case 'int32': return this.constant(new Int32Array([v]), [], dtype);
      case 'bool': return this.constant(new Uint8Array([v ? 1 : 0]), [], dtype);
      default: throw new Error(`scalar of dtype ${dtype}: build a float32 scalar and cast it`);
    }
  }

  /** Records an op; shape inference runs now and errors name the op, the shapes and the caller. */
  apply(op: string, inputs: Tensor[], attrs: Attrs = {}): Tensor[] {
    const def = opDef(op);
    for (const t of inputs) {
      if (t.graph !== this) throw new Error(`${op}: input ${t} belongs to another graph`);
    }
    let specs: OutSpec[];
    try {
      specs = def.infer(inputs, attrs);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new ShapeError(`${op}(${inputs.map(String).join(', ')}): ${msg}\n  at ${callerFrame()}`);
    }
    const node = new Node(this.nodes.length, op, inputs, attrs);
    node.outputs = specs.map((s, i) => {
      const t = new Tensor(this, this.nextId++, 'op', s.dtype, s.shape, node);
      t.outIndex = i;
      return t;
    });
    this.nodes.push(node);
    return node.outputs;
  }

  apply1(op: string, inputs: Tensor[], attrs: Attrs = {}): Tensor {
    return this.apply(op, inputs, attrs)[0];
  }
}

export function staticShape(t: Tensor): number[] {
  if (!isStatic(t.shape)) throw new Error(`${t} has a symbolic shape where a static one is needed`);
  return [...(t.shape as number[])];
}

export type { Dim, Shape };
