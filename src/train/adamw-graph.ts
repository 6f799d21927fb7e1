// AdamW compiled into the ONNX training graph: parameters, gradients and moments go in, updated
// parameters and moments come out, so a whole training step (forward, backward, optional global-norm
// clipping, update) is one session run. `GraphTrainer` keeps the state on the host between runs and
// feeds the per-step scalars from AdamW.scalars, so the update is torch.optim.AdamW's (optim.ts).
import type { DType, Tensor } from '../graph/index.ts';
import { grad } from '../graph/index.ts';
import type { OnnxModel } from '../graph/index.ts';
import { emitOnnx } from '../graph/index.ts';
import type { CompiledModel, Runtime } from '../runtime/runtime.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import { hostTensor } from '../runtime/host-tensor.ts';
import type { AdamWOptions, FloatArray } from './optim.ts';
import { AdamW } from './optim.ts';

/** Names of one parameter's state in the training graph. */
export interface AdamWSlot {
  param: string;
  m: string;
  v: string;
  /** Output names of the updated parameter and moments. */
  nextParam: string;
  nextM: string;
  nextV: string;
  decay: boolean;
}

export interface AdamWGraph {
  /** Outputs to emit (with the loss and anything else): updated parameters and moments, grad norm. */
  outputs: Record<string, Tensor>;
  slots: AdamWSlot[];
  /** Scalar inputs fed every step (see AdamWScalars). */
  scalarInputs: { decayFactor: string; stepSize: string; bc2Sqrt: string };
  /** Output name of the global gradient norm before clipping, when clipping. */
  gradNorm?: string;
}

export interface AdamWGraphOptions {
  betas?: [number, number];
  eps?: number;
  /** Per-parameter decay mask (default: all decay). */
  decay?: (name: string, shape: readonly number[]) => boolean;
  /** Clip gradients to this global L2 norm first (clip_grad_norm_). */
  maxGradNorm?: number;
}

const SCALARS = { decayFactor: 'adamw.decay_factor', stepSize: 'adamw.step_size', bc2Sqrt: 'adamw.bc2_sqrt' };

/**
 * Builds the AdamW update of `params` (graph parameters, emitted with paramsAsInputs) given their
 * gradients, in the parameters' dtype. Moments enter as inputs `adamw.m.<name>` / `adamw.v.<name>`.
 */
export function adamwGraph(params: Tensor[], grads: Tensor[], opts: AdamWGraphOptions = {}): AdamWGraph {
  if (params.length === 0 || params.length !== grads.length) throw new Error('adamwGraph: one gradient per parameter');
  const g = params[0].graph;
  const [b1, b2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8;
  const sdt: DType = params[0].dtype;
  const sc = {
    decayFactor: g.input(SCALARS.decayFactor, sdt, []),
    stepSize: g.input(SCALARS.stepSize, sdt, []),
    bc2Sqrt: g.input(SCALARS.bc2Sqrt, sdt, []),
  };
  const outputs: Record<string, Tensor> = {};
  let gs = grads;
  let gradNorm: string | undefined;
  if (opts.maxGradNorm !== undefined) {
    // Accumulated in float32 (float64 when every gradient is), whatever the parameters' dtypes.
    const ndt: DType = grads.every((t) => t.dtype === 'float64') ? 'float64' : 'float32';
    const ss = grads.map((t) => t.cast(ndt).mul(t.cast(ndt)).sum([...Array(t.rank).keys()]));
    const norm = ss.reduce((a, b) => a.add(b)).sqrt();
    const coef = norm.add(1e-6).reciprocal().mul(opts.maxGradNorm).minimum(1);
    gs = grads.map((t) => t.mul(coef.cast(t.dtype)));
    gradNorm = 'adamw.grad_norm';
    outputs[gradNorm] = norm;
  }
  const slots = params.map((p, i) => {
    if (p.kind !== 'param' || !p.name) throw new Error(`adamwGraph: ${p} is not a graph parameter`);
    const name = p.name;
    const shape = p.shape as number[];
    const gi = gs[i];
    const m = g.input(`adamw.m.${name}`, p.dtype, shape), v = g.input(`adamw.v.${name}`, p.dtype, shape);
    const s = (t: Tensor) => t.cast(p.dtype);
    const m2 = m.mul(b1).add(gi.mul(1 - b1));
    const v2 = v.mul(b2).add(gi.mul(gi).mul(1 - b2));
    const decay = opts.decay ? opts.decay(name, shape) : true;
    const kept = decay ? p.mul(s(sc.decayFactor)) : p;
    const p2 = kept.sub(m2.mul(s(sc.stepSize)).div(v2.sqrt().div(s(sc.bc2Sqrt)).add(eps)));
    const slot: AdamWSlot = {
      param: name, m: m.name!, v: v.name!, nextParam: `next.${name}`, nextM: `next.adamw.m.${name}`, nextV: `next.adamw.v.${name}`, decay,
    };
    outputs[slot.nextParam] = p2;
    outputs[slot.nextM] = m2;
    outputs[slot.nextV] = v2;
    return slot;
  });
  return { outputs, slots, scalarInputs: SCALARS, gradNorm };
}

export interface GraphTrainerOptions extends AdamWOptions {
  maxGradNorm?: number;
}

/**
 * One compiled training step: loss (and `extra` outputs) plus the AdamW update of `params`.
 * `step(feeds, lr)` runs it and swaps in the new parameters and moments.
 */
export class GraphTrainer {
  readonly model: OnnxModel;
  readonly spec: AdamWGraph;
  private readonly opt: AdamW;
  private state = new Map<string, HostTensor>();
  private frozen = new Map<string, HostTensor>();
  private session?: CompiledModel;

  constructor(loss: Tensor, params: Tensor[], opts: GraphTrainerOptions = {}, extra: Record<string, Tensor> = {}) {
    const grads = grad(loss, params);
    this.spec = adamwGraph(params, grads, { betas: opts.betas, eps: opts.eps, decay: opts.decay, maxGradNorm: opts.maxGradNorm });
    this.model = emitOnnx({ outputs: { loss, ...extra, ...this.spec.outputs }, paramsAsInputs: true });
    // The host-side AdamW only supplies hyper-parameters and the step scalars.
    this.opt = new AdamW(params.map((p) => ({ name: p.name!, shape: p.shape as number[], data: p.value as FloatArray })), opts);
    // Parameters the graph uses but does not train are fed as they are.
    const graph = loss.graph;
    for (const name of this.model.paramNames) {
      const p = graph.params.find((q) => q.name === name)!;
      if (!params.includes(p)) this.frozen.set(name, hostTensor(p.value!, p.shape as number[], p.dtype));
    }
    for (const p of params) {
      const shape = p.shape as number[];
      const v = p.value as FloatArray;
      const zeros = () => (v instanceof Float64Array ? new Float64Array(v.length) : new Float32Array(v.length));
      this.state.set(p.name!, hostTensor(v.slice(), shape, p.dtype));
      this.state.set(`adamw.m.${p.name}`, hostTensor(zeros(), shape, p.dtype));
      this.state.set(`adamw.v.${p.name}`, hostTensor(zeros(), shape, p.dtype));
    }
  }

  /** Steps taken. */
  get t(): number { return this.opt.t; }

  async load(runtime: Runtime): Promise<void> {
    this.session = await runtime.load(this.model);
  }

  /** Current value of a parameter (or moment, by its input name). */
  get(name: string): FloatArray {
    const t = this.state.get(name);
    if (!t) throw new Error(`GraphTrainer: no state ${name}`);
    return t.data as FloatArray;
  }

  /** Frees the compiled step (its ONNX Runtime session and memory arena). */
  async release(runtime: Runtime): Promise<void> {
    if (this.session) await runtime.evict(this.session);
    this.session = undefined;
  }

  /** Names of the trained parameters, in graph order. */
  get paramNames(): string[] { return this.spec.slots.map((s) => s.param); }

  /** Every state tensor (parameters by name, moments as adamw.m.<name> / adamw.v.<name>): what a checkpoint holds. */
  stateTensors(): Map<string, HostTensor> { return new Map(this.state); }

  /**
   * Restores what stateTensors() returned and the step count; every name must be known and every
   * shape equal, and every state tensor present.
   */
  restore(tensors: ReadonlyMap<string, { shape: readonly number[]; data: FloatArray }>, t: number): void {
    for (const [k, cur] of this.state) {
      const v = tensors.get(k);
      if (!v) throw new Error(`checkpoint: missing ${k}`);
      if (v.shape.join() !== cur.shape.join()) throw new Error(`checkpoint: ${k} has shape [${v.shape}], the model has [${cur.shape}]`);
      if (!(v.data instanceof (cur.data as FloatArray).constructor)) throw new Error(`checkpoint: ${k} has the wrong dtype`);
    }
    for (const k of tensors.keys()) if (!this.state.has(k)) throw new Error(`checkpoint: unknown tensor ${k}`);
    for (const [k, cur] of this.state) this.state.set(k, hostTensor((tensors.get(k)!.data as FloatArray).slice(), [...cur.shape], cur.dtype));
    if (!Number.isInteger(t) || t < 0) throw new Error(`checkpoint: bad step count ${t}`);
    this.opt.t = t;
  }

  /** Runs one step on `feeds` (the batch); returns the loss and the extra outputs (and grad norm). */
  async step(feeds: Record<string, HostTensor>, lr = this.opt.lr): Promise<Record<string, HostTensor>> {
    if (!this.session) throw new Error('GraphTrainer: call load(runtime) first');
    const t = this.opt.t + 1;
    const s = this.opt.scalars(t, lr);
    const dt = this.spec.slots.length ? this.state.get(this.spec.slots[0].param)!.dtype : 'float32';
    const scalar = (x: number) => hostTensor(dt === 'float64' ? new Float64Array([x]) : new Float32Array([x]), [], dt);
    const inputs: Record<string, HostTensor> = { ...feeds };
    for (const [k, v] of this.frozen) inputs[k] = v;
    for (const [k, v] of this.state) inputs[k] = v;
    const names = this.session.inputNames;
    const sc = this.spec.scalarInputs;
    if (names.includes(sc.decayFactor)) inputs[sc.decayFactor] = scalar(s.decayFactor); // absent when nothing decays
    inputs[sc.stepSize] = scalar(s.stepSize);
    inputs[sc.bc2Sqrt] = scalar(s.bc2Sqrt);
    const out = await this.session.run(inputs);
    this.opt.t = t;
    for (const slot of this.spec.slots) {
      this.state.set(slot.param, out[slot.nextParam]);
      this.state.set(slot.m, out[slot.nextM]);
      this.state.set(slot.v, out[slot.nextV]);
      delete out[slot.nextParam];
      delete out[slot.nextM];
      delete out[slot.nextV];
    }
    return out;
  }
}
