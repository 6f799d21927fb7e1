// float32 exp as PyTorch's CPU kernels compute it (SLEEF's expf_u10 with fused multiply-adds, the
// AVX2 path of torch.exp), so host-side float32 math can reproduce the official reference tensors
// bit for bit: the 128 timestep frequencies (15 differ from the correctly rounded exp by one ulp)
// and the noise scale exp(½·log σ²) of the sampler. Any result is within 1 ulp of the true exp.
// (On CUDA the official code uses CUDA's expf instead, which rounds differently, also within 1 ulp.)

const f32 = Math.fround;
const R_LN2 = f32(1.442695040888963407359924681001892137426645954152985934135449406931);
const L2U = f32(0.693145751953125);
const L2L = f32(1.428606765330187045e-6);
const P = [
  0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359,
  0.0416664853692054748535156, 0.166666671633720397949219, 0.5,
].map(f32);

/** float32 fused multiply-add a·b + c (a·b is exact in float64; the double rounding of the sum is ignored). */
const fma = (a: number, b: number, c: number) => f32(a * b + c);

/** Round half to even (the vector rint). */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** SLEEF xexpf (u10): exp of a float32 value, rounded as torch.exp does on CPU. */
export function torchExpf(d: number): number {
  d = f32(d);
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  const q = rint(f32(d * R_LN2));
  let s = fma(q, -L2U, d);
  s = fma(q, -L2L, s);
  let u = P[0];
  for (let k = 1; k < P.length; k++) u = fma(u, s, P[k]);
  u = f32(1 + fma(f32(s * s), u, s));
  return f32(u * 2 ** q);
}
