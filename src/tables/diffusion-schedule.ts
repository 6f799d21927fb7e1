// The residual diffusion head's noise schedule (HART §4.3–4.4, MAR DiffLoss, IDDPM code in
// hart/modules/diffusion/{gaussian_diffusion.py, respace.py}): the 1000-step cosine schedule
// (betas_for_alpha_bar, clipped at 0.999), IDDPM `space_timesteps` respacing (e.g. "8" →
// timesteps {0,143,285,428,571,714,856,999}), and the float64 tables GaussianDiffusion.__init__
// derives from the betas, computed in the official operation order (numpy float64).

// Double-double helpers for a correctly rounded cosine: V8's Math.cos (fdlibm) is off by one ulp
// for 38 of the 1001 cosine-schedule arguments, which moves the respaced float64 tables; the
// official Python math.cos (glibc) is correctly rounded on all of them but one (t = 0.732).
type DD = [number, number];
function twoSum(a: number, b: number): DD {
  const s = a + b, bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}
function split(a: number): DD {
  const c = 134217729 * a, hi = c - (c - a);
  return [hi, a - hi];
}
function twoProd(a: number, b: number): DD {
  const p = a * b, [ah, al] = split(a), [bh, bl] = split(b);
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}
function ddAdd(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  return twoSum(s, e + a[1] + b[1]);
}
function ddMul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return twoSum(p, e + a[0] * b[1] + a[1] * b[0]);
}
function ddDiv(a: DD, n: number): DD {
  const q1 = a[0] / n, [p, pe] = twoProd(q1, n);
  const r = ddAdd(a, [-p, -pe]);
  return twoSum(q1, r[0] / n);
}
const PIO2: DD = [1.5707963267948966, 6.123233995736766e-17];

/** cos(x) correctly rounded (up to double-double accuracy) for x ∈ [0, π/2]. */
function cosRounded(x: number): number {
  if (!(x >= 0 && x <= 1.5707963267948966)) return Math.cos(x);
  const useSin = x > Math.PI / 4; // cos x = sin(π/2 − x): no cancellation near π/2
  const y: DD = useSin ? twoSum(PIO2[0] - x, PIO2[1]) : [x, 0];
  const y2 = ddMul(y, y);
  let term: DD = useSin ? y : [1, 0];
  let sum: DD = term;
  for (let k = 1; k < 40 && Math.abs(term[0]) > 1e-40; k++) {
    const n = useSin ? 2 * k * (2 * k + 1) : (2 * k - 1) * (2 * k);
    term = ddDiv(ddMul(term, y2), -n);
    sum = ddAdd(sum, term);
  }
  return sum[0] + sum[1];
}

/** ᾱ(t) of the IDDPM cosine schedule: cos((t + 0.008) / 1.008 · π / 2)². */
export function cosineAlphaBar(t: number): number {
  const c = cosRounded((((t + 0.008) / 1.008) * Math.PI) / 2);
  return c * c;
}

/** get_named_beta_schedule('cosine', n): β_i = min(1 − ᾱ((i+1)/n) / ᾱ(i/n), maxBeta). */
export function cosineBetas(numDiffusionTimesteps = 1000, maxBeta = 0.999): Float64Array {
  const betas = new Float64Array(numDiffusionTimesteps);
  for (let i = 0; i < numDiffusionTimesteps; i++) {
    const t1 = i / numDiffusionTimesteps;
    const t2 = (i + 1) / numDiffusionTimesteps;
    betas[i] = Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), maxBeta);
  }
  return betas;
}

/** Python's round(): to nearest, ties to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * IDDPM space_timesteps: the original timesteps kept, ascending. sectionCounts is "8", "10,15,20",
 * "ddimN", or a list of per-section step counts.
 */
export function spaceTimesteps(numTimesteps: number, sectionCounts: string | number[]): number[] {
  let counts: number[];
  if (typeof sectionCounts === 'string') {
    if (sectionCounts.startsWith('ddim')) {
      const desired = Number.parseInt(sectionCounts.slice(4), 10);
      for (let stride = 1; stride < numTimesteps; stride++) {
        if (Math.ceil(numTimesteps / stride) === desired) return Array.from({ length: desired }, (_, k) => k * stride);
      }
      throw new RangeError(`cannot create exactly ${numTimesteps} steps with an integer stride`);
    }
    counts = sectionCounts.split(',').map((s) => {
      const v = Number(s.trim());
      if (!Number.isInteger(v)) throw new RangeError(`space_timesteps: bad section count ${JSON.stringify(s)}`);
      return v;
    });
  } else counts = sectionCounts;
  const sizePer = Math.floor(numTimesteps / counts.length);
  const extra = numTimesteps % counts.length;
  let startIdx = 0;
  const steps = new Set<number>();
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (size < count) throw new RangeError(`cannot divide section of ${size} steps into ${count}`);
    const fracStride = count <= 1 ? 1 : (size - 1) / (count - 1);
    let cur = 0.0;
    for (let k = 0; k < count; k++) {
      steps.add(startIdx + roundHalfEven(cur));
      cur += fracStride;
    }
    startIdx += size;
  });
  return [...steps].sort((a, b) => a - b);
}

/** The tables GaussianDiffusion.__init__ holds (all float64, one entry per (respaced) step). */
export interface DiffusionTables {
  betas: Float64Array;
  alphas_cumprod: Float64Array;
  alphas_cumprod_prev: Float64Array;
  alphas_cumprod_next: Float64Array;
  sqrt_alphas_cumprod: Float64Array;
  sqrt_one_minus_alphas_cumprod: Float64Array;
  log_one_minus_alphas_cumprod: Float64Array;
  sqrt_recip_alphas_cumprod: Float64Array;
  sqrt_recipm1_alphas_cumprod: Float64Array;
  posterior_variance: Float64Array;
  posterior_log_variance_clipped: Float64Array;
  posterior_mean_coef1: Float64Array;
  posterior_mean_coef2: Float64Array;
  /** log(betas): the max_log of the LEARNED_RANGE variance in p_mean_variance. */
  log_betas: Float64Array;
}

const map = (a: Float64Array, f: (x: number, i: number) => number) => Float64Array.from(a, f);

/** GaussianDiffusion.__init__ for the given betas. */
export function diffusionTables(betasIn: ArrayLike<number>): DiffusionTables {
  const betas = Float64Array.from(betasIn);
  const n = betas.length;
  for (const b of betas) if (!(b > 0 && b <= 1)) throw new RangeError(`betas must lie in (0, 1], got ${b}`);
  const alphas = map(betas, (b) => 1.0 - b);
  const ac = new Float64Array(n); // np.cumprod: sequential products
  for (let i = 0; i < n; i++) ac[i] = i === 0 ? alphas[0] : ac[i - 1] * alphas[i];
  const prev = map(ac, (_, i) => (i === 0 ? 1.0 : ac[i - 1]));
  const next = map(ac, (_, i) => (i === n - 1 ? 0.0 : ac[i + 1]));
  const posterior_variance = map(betas, (b, i) => (b * (1.0 - prev[i])) / (1.0 - ac[i]));
  return {
    betas,
    alphas_cumprod: ac,
    alphas_cumprod_prev: prev,
    alphas_cumprod_next: next,
    sqrt_alphas_cumprod: map(ac, Math.sqrt),
    sqrt_one_minus_alphas_cumprod: map(ac, (a) => Math.sqrt(1.0 - a)),
    log_one_minus_alphas_cumprod: map(ac, (a) => Math.log(1.0 - a)),
    sqrt_recip_alphas_cumprod: map(ac, (a) => Math.sqrt(1.0 / a)),
    sqrt_recipm1_alphas_cumprod: map(ac, (a) => Math.sqrt(1.0 / a - 1)),
    posterior_variance,
    posterior_log_variance_clipped: n > 1 ? map(posterior_variance, (v, i) => Math.log(i === 0 ? posterior_variance[1] : v)) : new Float64Array(0),
    posterior_mean_coef1: map(betas, (b, i) => (b * Math.sqrt(prev[i])) / (1.0 - ac[i])),
    posterior_mean_coef2: map(alphas, (a, i) => ((1.0 - prev[i]) * Math.sqrt(a)) / (1.0 - ac[i])),
    log_betas: map(betas, Math.log),
  };
}

/** SpacedDiffusion: betas of the process that keeps only `useTimesteps` (ascending) of `baseBetas`. */
export function respacedBetas(baseBetas: ArrayLike<number>, useTimesteps: readonly number[]): Float64Array {
  const keep = new Set(useTimesteps);
  const out: number[] = [];
  let acc = 1;
  let last = 1.0;
  for (let i = 0; i < baseBetas.length; i++) {
    acc = i === 0 ? 1.0 - baseBetas[0] : acc * (1.0 - baseBetas[i]); // np.cumprod(1 - betas)
    if (keep.has(i)) {
      out.push(1 - acc / last);
      last = acc;
    }
  }
  return Float64Array.from(out);
}

export interface DiffusionSchedule extends DiffusionTables {
  /** respaced step index → original timestep fed to the network (_WrappedModel). */
  timestep_map: number[];
  /**
   * Betas of DiffLoss.train_diffusion (timestep_respacing=""): a SpacedDiffusion keeping all steps,
   * so the cosine betas pass once through cumprod and back (differs from cosineBetas by ≤ 1 ulp).
   */
  train_betas: Float64Array;
}

/**
 * create_diffusion(timestep_respacing=numSamplingSteps, noise_schedule="cosine") as DiffLoss builds
 * gen_diffusion: the respaced tables plus the timestep map.
 */
export function diffusionSchedule(numSamplingSteps: string | number[] = '8', diffusionSteps = 1000): DiffusionSchedule {
  const base = cosineBetas(diffusionSteps);
  const spec = numSamplingSteps === '' ? [diffusionSteps] : numSamplingSteps;
  const timestep_map = spaceTimesteps(diffusionSteps, spec);
  const train_betas = respacedBetas(base, spaceTimesteps(diffusionSteps, [diffusionSteps]));
  return { ...diffusionTables(respacedBetas(base, timestep_map)), timestep_map, train_betas };
}
