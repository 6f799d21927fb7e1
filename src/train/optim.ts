// Optimization on the host: AdamW exactly as torch.optim.AdamW updates (decoupled weight decay,
// bias correction, per-parameter decay masks), gradient clipping by global norm
// (torch.nn.utils.clip_grad_norm_), an exponential moving average of weights, and the linear-warmup
// + cosine learning-rate schedule. Parameters are Float32Array or Float64Array, updated in place.
// The same update compiled into the ONNX training graph lives in adamw-graph.ts.

export type FloatArray = Float32Array | Float64Array;

export interface AdamWOptions {
  /** Learning rate (torch default 1e-3); `step(grads, lr)` can override it per step (schedules). */
  lr?: number;
  /** (β1, β2), torch default (0.9, 0.999). */
  betas?: [number, number];
  /** torch default 1e-8. */
  eps?: number;
  /** Decoupled weight decay λ (torch default 1e-2). */
  weightDecay?: number;
  /**
   * Which parameters decay (default: all, as torch does for one param group). `decayMatricesOnly`
   * is the usual transformer choice (no decay on biases, norm gains and other vectors).
   */
  decay?: (name: string, shape: readonly number[]) => boolean;
}

/** Decays parameters of rank ≥ 2 (weight matrices, conv kernels, embeddings); not biases or norm gains. */
export function decayMatricesOnly(_name: string, shape: readonly number[]): boolean {
  return shape.length >= 2;
}

export interface ParamSpec { name: string; shape: readonly number[]; data: FloatArray }

/** Per-step scalars of the update, shared by the TypeScript and in-graph implementations. */
export interface AdamWScalars {
  /** 1 − lr·λ for decayed parameters (1 for the others). */
  decayFactor: number;
  /** lr / (1 − β1^t). */
  stepSize: number;
  /** √(1 − β2^t). */
  bc2Sqrt: number;
}

/**
 * torch.optim.AdamW (amsgrad=False, maximize=False). For step t = 1, 2, …:
 *   θ ← θ·(1 − lr·λ)                      (decoupled weight decay, masked per parameter)
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
 * Moments m, v have the parameter's dtype, as in torch.
 */
export class AdamW {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly params: ParamSpec[];
  readonly decays: boolean[];
  readonly m: FloatArray[];
  readonly v: FloatArray[];
  /** Number of steps taken (torch's state['step']). */
  t = 0;

  constructor(params: ParamSpec[], opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 1e-2;
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new Error(`AdamW: parameter ${p.name} given twice`);
      names.add(p.name);
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (p.data.length !== n) throw new Error(`AdamW: ${p.name} has ${p.data.length} values for shape [${p.shape}]`);
    }
    this.params = params;
    this.decays = params.map((p) => (opts.decay ? opts.decay(p.name, p.shape) : true));
    const zeros = (a: FloatArray) => (a instanceof Float64Array ? new Float64Array(a.length) : new Float32Array(a.length));
    this.m = params.map((p) => zeros(p.data));
    this.v = params.map((p) => zeros(p.data));
  }

  /** The scalars of step t (1-based) at learning rate lr. */
  scalars(t: number, lr = this.lr): AdamWScalars {
    const [b1, b2] = this.betas;
    return { decayFactor: 1 - lr * this.weightDecay, stepSize: lr / (1 - b1 ** t), bc2Sqrt: Math.sqrt(1 - b2 ** t) };
  }

  /**
   * One update with gradients in the order of `params` (or keyed by name). Arithmetic is in
   * float64, each stored value rounded to the parameter's dtype.
   */
  step(grads: FloatArray[] | Record<string, FloatArray>, lr = this.lr): void {
    const gs = Array.isArray(grads) ? grads : this.params.map((p) => {
      const g = grads[p.name];
      if (!g) throw new Error(`AdamW.step: no gradient for ${p.name}`);
      return g;
    });
    if (gs.length !== this.params.length) throw new Error(`AdamW.step: ${gs.length} gradients for ${this.params.length} parameters`);
    this.t += 1;
    const [b1, b2] = this.betas;
    const { decayFactor, stepSize, bc2Sqrt } = this.scalars(this.t, lr);
    this.params.forEach((p, i) => {
      const g = gs[i], m = this.m[i], v = this.v[i], th = p.data;
      if (g.length !== th.length) throw new Error(`AdamW.step: gradient of ${p.name} has ${g.length} values, not ${th.length}`);
      const df = this.decays[i] ? decayFactor : 1;
      for (let k = 0; k < th.length; k++) {
        const gk = g[k];
        m[k] = b1 * m[k] + (1 - b1) * gk;
        v[k] = b2 * v[k] + (1 - b2) * gk * gk;
        th[k] = th[k] * df - (stepSize * m[k]) / (Math.sqrt(v[k]) / bc2Sqrt + this.eps);
      }
    });
  }
}

/**
 * torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): scales all gradients in place by
 * min(1, maxNorm / (‖g‖ + 1e-6)) where ‖g‖ is the L2 norm over all of them; returns ‖g‖.
 */
export function clipGradNorm(grads: FloatArray[], maxNorm: number): number {
  let ss = 0;
  for (const g of grads) for (let k = 0; k < g.length; k++) ss += g[k] * g[k];
  const total = Math.sqrt(ss);
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef < 1) for (const g of grads) for (let k = 0; k < g.length; k++) g[k] *= coef;
  return total;
}

/** Exponential moving average of weights: shadow ← decay·shadow + (1 − decay)·θ (timm ModelEmaV2). */
export class EMA {
  readonly shadow: FloatArray[];
  updates = 0;

  constructor(params: readonly FloatArray[], readonly decay = 0.9999) {
    this.shadow = params.map((p) => p.slice());
  }

  update(params: readonly FloatArray[]): void {
    const d = this.decay;
    params.forEach((p, i) => {
      const s = this.shadow[i];
      for (let k = 0; k < p.length; k++) s[k] = d * s[k] + (1 - d) * p[k];
    });
    this.updates += 1;
  }

  /** Writes the averaged weights into `params` (e.g. for evaluation or saving). */
  copyTo(params: FloatArray[]): void {
    params.forEach((p, i) => p.set(this.shadow[i]));
  }
}

export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor of the cosine (default 0). */
  minLr?: number;
}

/**
 * Linear warmup then cosine decay (HF get_cosine_schedule_with_warmup with a floor): the learning
 * rate for 0-based step s is lr·s/warmup during warmup, then
 * minLr + (lr − minLr)·½(1 + cos(π·p)) with p = (s − warmup)/(total − warmup) clamped to [0, 1].
 */
export function warmupCosine(o: WarmupCosineOptions): (step: number) => number {
  const minLr = o.minLr ?? 0;
  return (s) => {
    if (s < o.warmupSteps) return (o.lr * s) / Math.max(1, o.warmupSteps);
    const p = Math.min(1, Math.max(0, (s - o.warmupSteps) / Math.max(1, o.totalSteps - o.warmupSteps)));
    return minLr + (o.lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}
