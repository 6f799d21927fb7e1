// Bit-exact emulation of the float32 SLEEF functions behind PyTorch's CPU torch.exp/cos/sin on
// float32 tensors (ATen Vectorized<float> on AVX2: Sleef_expf8_u10, Sleef_sinf8_u10,
// Sleef_cosf8_u10; SLEEF 3.5 sleefsimdsp.c xexpf / xsinf_u1 / xcosf_u1 with FMA), so that the
// tables of rope.ts and schedules.ts equal the official float32 tables bit for bit (checked against
// the hart-parity-tiny fixture). Every float32 operation is emulated in float64 with Math.fround;
// a fused multiply-add rounds once (fma32).
// sin/cos take one of two paths per 8-lane vector: if every lane has |x| < 125 the Cody–Waite
// reduction, otherwise (for all 8 lanes) the Payne–Hanek one (rempif), which can differ in the last
// bit. sinfVec/cosfVec apply that rule to a contiguous buffer in 8-lane groups from its start, as
// ATen's vml map does; the scalar sinf/cosf assume a homogeneous vector. |x| ≥ 2^25 falls back to a
// correctly rounded Math.sin/cos (never reached by HART's tables).

const fl = Math.fround;
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 fma: a·b + c rounded once to float32 (a, b, c float32). */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24 + 24 bits
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb); // p + c = s + e exactly
  const r = fl(s);
  if (e === 0 || r === s || r === 0 || !Number.isFinite(r)) return r;
  F32[0] = r;
  U32[0] += (r > 0) === s > r ? 1 : -1; // neighbour of r on the side of s
  const o = F32[0];
  if (s - r !== o - s) return r; // s is not a float32 midpoint: no double-rounding issue
  return (e > 0) === o > r ? o : r;
}

/** round half to even (vrint / cvtps_epi32) */
function rint(x: number): number {
  const f = Math.floor(x), d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

// double-float arithmetic of SLEEF's df.h (FMA variants); DF = [hi, lo]
type DF = [number, number];
const dfAdd_f_f = (x: number, y: number): DF => { const s = fl(x + y); return [s, fl(fl(x - s) + y)]; };
const dfAdd2_f_f = (x: number, y: number): DF => { const s = fl(x + y), v = fl(s - x); return [s, fl(fl(x - fl(s - v)) + fl(y - v))]; };
const dfAdd_df_f = (x: DF, y: number): DF => { const s = fl(x[0] + y); return [s, fl(fl(fl(x[0] - s) + y) + x[1])]; };
const dfAdd2_df_f = (x: DF, y: number): DF => {
  const s = fl(x[0] + y), v = fl(s - x[0]);
  return [s, fl(fl(fl(x[0] - fl(s - v)) + fl(y - v)) + x[1])];
};
const dfAdd_f_df = (x: number, y: DF): DF => { const s = fl(x + y[0]); return [s, fl(fl(fl(x - s) + y[0]) + y[1])]; };
const dfAdd2_df_df = (x: DF, y: DF): DF => {
  const s = fl(x[0] + y[0]), v = fl(s - x[0]);
  return [s, fl(fl(fl(x[0] - fl(s - v)) + fl(y[0] - v)) + fl(x[1] + y[1]))];
};
const dfNormalize = (t: DF): DF => { const s = fl(t[0] + t[1]); return [s, fl(fl(t[0] - s) + t[1])]; };
const dfMul_f_f = (x: number, y: number): DF => { const s = fl(x * y); return [s, fma32(x, y, -s)]; };
const dfMul_df_f = (x: DF, y: number): DF => { const s = fl(x[0] * y); return [s, fma32(x[1], y, fma32(x[0], y, -s))]; };
const dfMul_df_df = (x: DF, y: DF): DF => {
  const s = fl(x[0] * y[0]);
  return [s, fma32(x[0], y[1], fma32(x[1], y[0], fma32(x[0], y[0], -s)))];
};
const dfMulToF = (x: DF, y: DF): number => fma32(x[0], y[0], fma32(x[1], y[0], fl(x[0] * y[1])));
const dfSqu = (x: DF): DF => { const s = fl(x[0] * x[0]); return [s, fma32(fl(x[0] + x[0]), x[1], fma32(x[0], x[0], -s))]; };

const R_LN2f = fl(1.442695040888963407359924681001892137426645954152985934135449406931);
const L2Uf = fl(0.693145751953125);
const L2Lf = fl(1.428606765330187045e-6);
const EXP_C = [0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359,
  0.0416664853692054748535156, 0.166666671633720397949219, 0.5].map(fl);

/** Sleef xexpf (u10). */
export function expf(x: number): number {
  const d = fl(x);
  if (Number.isNaN(d)) return NaN;
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  const q = rint(fl(d * R_LN2f));
  let s = fma32(q, -L2Uf, d);
  s = fma32(q, -L2Lf, s);
  let u = EXP_C[0];
  for (let i = 1; i < EXP_C.length; i++) u = fma32(u, s, EXP_C[i]);
  u = fl(1 + fma32(fl(s * s), u, s));
  const h = q >> 1; // vldexp2: two exact power-of-two scalings
  return fl(fl(u * 2 ** h) * 2 ** (q - h));
}

const M_1_PIf = fl(0.318309886183790671537767526745028724);
const PI_A2f = fl(3.1414794921875), PI_B2f = fl(0.00011315941810607910156), PI_C2f = fl(1.9841872589410058936e-9);
const SIN_C = [2.6083159809786593541503e-6, -0.0001981069071916863322258, 0.00833307858556509017944336, -0.166666597127914428710938].map(fl);
const TRIGRANGEMAX2f = 125;
const REMPI = [0.159154892, 5.112411827e-8, 3.626141271e-15, -2.036222915e-22].map(fl); // Sleef_rempitabsp row 0
const TWO_PI: DF = [fl(3.1415927410125732422 * 2), fl(-8.7422776573475857731e-8 * 2)];
const HALF_PI_NEG: DF = [fl(3.1415927410125732422 * -0.5), fl(-8.7422776573475857731e-8 * -0.5)];
const mulsign = (a: number, b: number) => (b < 0 || Object.is(b, -0) ? -a : a);

/** sin(t) for the reduced argument t (|t| ≤ π/2) in double-float: the u1 polynomial. */
function sinPoly(t: DF): number {
  const s = dfSqu(t);
  let u = SIN_C[0];
  u = fma32(u, s[0], SIN_C[1]);
  u = fma32(u, s[0], SIN_C[2]);
  const x = dfAdd_f_df(1, dfMul_df_df(dfAdd_f_f(SIN_C[3], fl(u * s[0])), s));
  return dfMulToF(t, x);
}

function rempisubf(x: number): [number, number] {
  const y = rint(fl(x * 4));
  return [fl(x - fl(y * 0.25)), Math.trunc(fl(y - fl(rint(x) * 4)))];
}

/** Payne–Hanek reduction for |a| < 2^25: a = (q·π/2 + r), r as double-float. */
function rempif(a: number): [DF, number] {
  let x = dfMul_f_f(a, REMPI[0]);
  let di = rempisubf(x[0]);
  let q = di[1];
  x = dfNormalize([di[0], x[1]]);
  x = dfAdd2_df_df(x, dfMul_f_f(a, REMPI[1]));
  di = rempisubf(x[0]);
  q += di[1];
  x = dfNormalize([di[0], x[1]]);
  x = dfNormalize(dfAdd2_df_df(x, dfMul_df_f([REMPI[2], REMPI[3]], a)));
  x = dfMul_df_df(x, TWO_PI);
  if (Math.abs(a) < fl(0.7)) x = [a, 0];
  return [x, q];
}

function sinSmall(d: number): number {
  const u = rint(fl(d * M_1_PIf));
  const v = fma32(u, -PI_A2f, d);
  let s = dfAdd2_f_f(v, fl(u * -PI_B2f));
  s = dfAdd_df_f(s, fl(u * -PI_C2f));
  const r = sinPoly(s);
  return (u & 1) === 1 ? -r : r;
}

function cosSmall(d: number): number {
  const dq = fma32(rint(fma32(d, M_1_PIf, -0.5)), 2, 1);
  let s = dfAdd2_f_f(d, fl(dq * fl(-PI_A2f * 0.5)));
  s = dfAdd2_df_f(s, fl(dq * fl(-PI_B2f * 0.5)));
  s = dfAdd2_df_f(s, fl(dq * fl(-PI_C2f * 0.5)));
  const r = sinPoly(s);
  return (dq & 2) === 0 ? -r : r;
}

function sinLarge(d: number): number {
  if (!(Math.abs(d) < 2 ** 25)) return fl(Math.sin(d));
  const [df, i] = rempif(d);
  const q = ((i & 3) * 2 + (df[0] > 0 ? 2 : 1)) >> 2;
  const t = (i & 1) === 1 ? dfAdd2_df_df(df, [mulsign(HALF_PI_NEG[0], df[0]), mulsign(HALF_PI_NEG[1], df[0])]) : df;
  const r = sinPoly(dfNormalize(t));
  return (q & 1) === 1 ? -r : r;
}

function cosLarge(d: number): number {
  if (!(Math.abs(d) < 2 ** 25)) return fl(Math.cos(d));
  const [df, i] = rempif(d);
  const q = ((i & 3) * 2 + (df[0] > 0 ? 8 : 7)) >> 1;
  const y = df[0] > 0 ? 0 : -1;
  const t = (i & 1) === 0 ? dfAdd2_df_df(df, [mulsign(HALF_PI_NEG[0], y), mulsign(HALF_PI_NEG[1], y)]) : df;
  const r = sinPoly(dfNormalize(t));
  return (q & 2) === 0 ? -r : r;
}

const small = (d: number) => Math.abs(d) < TRIGRANGEMAX2f;

/** Sleef xsinf_u1 on a vector whose lanes all take this lane's path. */
export function sinf(x: number): number {
  const d = fl(x);
  if (Object.is(d, -0)) return d;
  return small(d) ? sinSmall(d) : sinLarge(d);
}

/** Sleef xcosf_u1 on a vector whose lanes all take this lane's path. */
export function cosf(x: number): number {
  const d = fl(x);
  return small(d) ? cosSmall(d) : cosLarge(d);
}

function vec(x: ArrayLike<number>, smallFn: (d: number) => number, largeFn: (d: number) => number, isSin: boolean): Float32Array {
  const out = new Float32Array(x.length);
  for (let s = 0; s < x.length; s += 8) {
    const e = Math.min(s + 8, x.length);
    let allSmall = true;
    for (let i = s; i < e; i++) if (!small(fl(x[i]))) allSmall = false;
    for (let i = s; i < e; i++) {
      const d = fl(x[i]);
      out[i] = isSin && Object.is(d, -0) ? d : allSmall ? smallFn(d) : largeFn(d);
    }
  }
  return out;
}

/** torch.sin on a contiguous float32 buffer (8-lane path choice from the buffer start). */
export const sinfVec = (x: ArrayLike<number>): Float32Array => vec(x, sinSmall, sinLarge, true);
/** torch.cos on a contiguous float32 buffer (8-lane path choice from the buffer start). */
export const cosfVec = (x: ArrayLike<number>): Float32Array => vec(x, cosSmall, cosLarge, false);
