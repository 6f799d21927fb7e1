// Per-scale schedules of HART's sampler and the sinusoidal features of its TimestepEmbedders,
// reproducing the official arithmetic (hart_transformer_t2i.py::autoregressive_infer_cfg,
// var_quantize_multiple_res.py::PhiPartiallyShared, basic_hart.py / diffloss.py::TimestepEmbedder):
//   ratio_si   = si / (N−1) for si < N−1; the last scale reuses (N−2)/(N−1) (stale Python variable)
//   cfg t_si   = cfg · ratio_si; the diffusion head uses the last value (4.5·12/13 for 14 scales)
//   top-k      = 600 for si < 7, 300 after, clipped to the vocabulary
//   more_smooth: logits·(1 + ratio), Gumbel-softmax tau = max(0.27·(1 − ratio·0.95), 0.005)
//   φ index    = argmin |ticks − si/(N−1)| with ticks = np.linspace(1/12, 11/12, 4), float64
import { expf, cosfVec, sinfVec } from './sleef32.ts';

/** np.linspace(start, stop, num) in numpy's float64 order: k·((stop−start)/(num−1)) + start, last = stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const y = new Float64Array(num);
  const div = num - 1;
  const delta = stop - start;
  const step = div > 0 ? delta / div : NaN;
  for (let k = 0; k < num; k++) {
    if (div <= 0) y[k] = k * delta + start;
    else if (step === 0) y[k] = (k / div) * delta + start;
    else y[k] = k * step + start;
  }
  if (num > 1) y[num - 1] = stop;
  return y;
}

/** PhiPartiallyShared.ticks for K φ convs: linspace(1/3/K, 1−1/3/K, K) when K = 4, else linspace(1/2/K, 1−1/2/K, K). */
export function phiTicks(numPhi: number): Float64Array {
  const a = numPhi === 4 ? 1 / 3 / numPhi : 1 / 2 / numPhi;
  return linspace(a, 1 - a, numPhi);
}

/** Which φ conv (quant_resi.qresi_ls.K) scale si uses: argmin |ticks − si/(N−1)|, first on ties. */
export function phiIndexPerScale(numScales: number, numPhi = 4): number[] {
  if (numScales < 2) throw new RangeError('phiIndexPerScale: need at least 2 scales');
  const ticks = phiTicks(numPhi);
  return Array.from({ length: numScales }, (_, si) => {
    const at = si / (numScales - 1);
    let best = 0;
    for (let k = 1; k < ticks.length; k++) if (Math.abs(ticks[k] - at) < Math.abs(ticks[best] - at)) best = k;
    return best;
  });
}

/** The official `ratio` at scale si: si/(N−1), except that the last scale reuses (N−2)/(N−1). */
export function scaleRatio(si: number, numScales: number): number {
  if (!Number.isInteger(si) || si < 0 || si >= numScales) throw new RangeError(`scaleRatio: si ${si} out of [0, ${numScales})`);
  return Math.min(si, numScales - 2) / (numScales - 1);
}

/**
 * How guidance grows over the scales: 'linear' is the official ramp (cfg·ratio_si, so the 1×1
 * scale is sampled unguided); 'constant' (a HART.js option for small models, whose few scales
 * settle the layout early) guides every scale and the diffusion head with cfg itself.
 */
export type CfgSchedule = 'linear' | 'constant';
export const CFG_SCHEDULES: readonly CfgSchedule[] = ['linear', 'constant'];

/** Guidance t per scale (logits = (1+t)·cond − t·uncond): cfg·ratio_si, the last entry stale; or cfg throughout. */
export function cfgRamp(cfg: number, numScales: number, schedule: CfgSchedule = 'linear'): number[] {
  return Array.from({ length: numScales }, (_, si) => (schedule === 'constant' ? cfg : cfg * scaleRatio(si, numScales)));
}

/**
 * The cfg the diffusion head receives (diffloss.sample(cfg=t)): t of the last scale, cfg·(N−2)/(N−1)
 * on the official ramp. The head mixes its ε as the logits do, (1+t)·cond − t·uncond, except that the
 * official sampler guides only when t ≠ 1: t = 1 (constant cfg 1) is the conditional half alone, and
 * the sampler skips the other.
 */
export function diffusionCfg(cfg: number, numScales: number, schedule: CfgSchedule = 'linear'): number {
  return cfgRamp(cfg, numScales, schedule)[numScales - 1];
}

/** Top-k of scale si as hard-coded in the official sampler (600 for si < 7, else 300), clipped to vocabSize. */
export function topKPerScale(si: number, vocabSize: number): number {
  return Math.min(si < 7 ? 600 : 300, vocabSize);
}

/** more_smooth path at ratio r: Gumbel-softmax temperature and the logit multiplier (1 + r). */
export function gumbelSmoothing(ratio: number): { tau: number; logitScale: number } {
  return { tau: Math.max(0.27 * (1 - ratio * 0.95), 0.005), logitScale: 1 + ratio };
}

/**
 * TimestepEmbedder.timestep_embedding frequencies in float32, as PyTorch computes them:
 * exp(fl32(fl32(−ln(maxPeriod)) · k) / half), k = 0..half−1, with PyTorch's CPU expf (SLEEF).
 */
export function timestepFrequencies(dim = 256, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const c = Math.fround(-Math.log(maxPeriod));
  return Float32Array.from({ length: half }, (_, k) => expf(Math.fround(Math.fround(c * k) / half)));
}

/**
 * Sinusoidal features [cos(t·f), sin(t·f)] (+ a zero column when dim is odd), float32 products and
 * PyTorch's CPU cos/sin (SLEEF) over the [N, half] argument buffer: returns [t.length, dim] row-major. Used for the level embedding (t = level id) and the diffusion
 * time embedding (t = original timestep).
 */
export function timestepSinusoid(t: ArrayLike<number>, dim = 256, maxPeriod = 10000): Float32Array {
  const f = timestepFrequencies(dim, maxPeriod);
  const half = f.length;
  const args = new Float32Array(t.length * half); // [N, half], as PyTorch lays it out
  for (let n = 0; n < t.length; n++) for (let k = 0; k < half; k++) args[n * half + k] = Math.fround(Math.fround(t[n]) * f[k]);
  const c = cosfVec(args), s = sinfVec(args);
  const out = new Float32Array(t.length * dim);
  for (let n = 0; n < t.length; n++) {
    out.set(c.subarray(n * half, (n + 1) * half), n * dim);
    out.set(s.subarray(n * half, (n + 1) * half), n * dim + half);
  }
  return out;
}
