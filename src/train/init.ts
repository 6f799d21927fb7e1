// Initial weights for training from scratch, chosen by weight name (the conventions of VAR, MAR and
// Llama that HART inherits): matrices N(0, std²) with std = √(1/(3·fan_in)) (VAR's init_std),
// residual-branch outputs (attn.proj, ffn.down_proj, o_proj, mlp.down_proj) further divided by
// √(2·depth), the logit head ×0.02, AdaLN modulations and the diffusion head's output zero (MAR),
// norm gains 1, biases 0; convolutions He-uniform like torch's default (bound 1/√fan_in).
// Deterministic: weight `name` draws from the Philox stream keyed by (seed, hash(name)).
import { stream } from '../random/philox.ts';
import { GeneratedWeightStore, nameHash } from '../nn/random-weights.ts';

const INIT_PURPOSE = 0x7e57;

export interface InitOptions {
  /** Depth of the residual stacks (transformer blocks), for the √(2·depth) output scaling. */
  depth?: number;
}

/** std (normal) or bound (uniform) for weight `name` of `shape`; 0 = zeros, NaN = ones. */
export function initRule(name: string, shape: readonly number[], o: InitOptions = {}): { kind: 'normal' | 'uniform' | 'zeros' | 'ones'; scale: number } {
  const last = name.split('.').pop()!;
  if (shape.length === 1) {
    if (last === 'bias' || last.endsWith('_bias')) return { kind: 'zeros', scale: 0 };
    return { kind: 'ones', scale: 1 }; // norm gains
  }
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  if (shape.length === 4) {
    // the codebook-side convs and the VQGAN: torch's default Conv2d init
    return { kind: 'uniform', scale: 1 / Math.sqrt(fanIn) };
  }
  if (/(^|\.)quantize\.embedding\.weight$/.test(name)) return { kind: 'uniform', scale: 1 / shape[0] };
  if (/adaLN_modulation|ada_lin/.test(name) || /final_layer\.linear/.test(name)) return { kind: 'zeros', scale: 0 };
  let std = Math.sqrt(1 / (3 * fanIn));
  if (/embed_tokens\.weight$/.test(name)) std = 0.02;
  if (/^head\.weight$/.test(name)) std *= 0.02;
  if (/(attn\.proj|ffn\.down_proj|o_proj|mlp\.down_proj)\.weight$/.test(name)) std /= Math.sqrt(2 * (o.depth ?? 1));
  return { kind: 'normal', scale: std };
}

/** A WeightStore that creates every weight it is asked for by initRule (training from scratch). */
export class InitWeightStore extends GeneratedWeightStore {
  constructor(seed: number, readonly options: InitOptions = {}) {
    super(seed);
  }

  protected generate(name: string, shape: readonly number[], n: number): Float32Array {
    const r = initRule(name, shape, this.options);
    if (r.kind === 'zeros') return new Float32Array(n);
    if (r.kind === 'ones') return new Float32Array(n).fill(1);
    if (r.kind === 'normal') return Float32Array.from(this.rng.normal(stream(INIT_PURPOSE, nameHash(name)), 0, n), (v) => v * r.scale);
    return Float32Array.from(this.rng.uniform(stream(INIT_PURPOSE, nameHash(name)), 0, n), (u) => (2 * u - 1) * r.scale);
  }
}
