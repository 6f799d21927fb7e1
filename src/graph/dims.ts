// Symbolic dimensions: a Dim is a number or a string naming a size known only at run time.
// Products of symbols are kept canonical ("B*L", coefficient first: "2*B"), so shapes built along
// different paths compare equal; sums and differences become opaque atoms "(L+P)".
export type Dim = number | string;
export type Shape = readonly Dim[];

interface Monomial { coef: number; syms: string[] }

function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '*' && depth === 0) { parts.push(s.slice(start, i)); start = i + 1; }
  }
  parts.push(s.slice(start));
  return parts;
}

function toMono(d: Dim): Monomial {
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const p of splitTop(d)) {
    if (/^\d+$/.test(p)) coef *= Number(p);
    else syms.push(p);
  }
  return { coef, syms: syms.sort() };
}

function fromMono(m: Monomial): Dim {
  if (m.syms.length === 0) return m.coef;
  if (m.coef === 1) return m.syms.join('*');
  return [String(m.coef), ...m.syms].join('*');
}

export function mulDims(a: Dim, b: Dim): Dim {
  const x = toMono(a), y = toMono(b);
  if (x.coef === 0 || y.coef === 0) return 0;
  return fromMono({ coef: x.coef * y.coef, syms: [...x.syms, ...y.syms].sort() });
}

/** a / b, or undefined when the division is not exact (symbols or coefficients). */
export function divDims(a: Dim, b: Dim): Dim | undefined {
  const x = toMono(a), y = toMono(b);
  if (y.coef === 0 || x.coef % y.coef !== 0) return undefined;
  const syms = [...x.syms];
  for (const s of y.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return fromMono({ coef: x.coef / y.coef, syms });
}

export function prodDims(shape: Shape): Dim {
  return shape.reduce<Dim>((p, d) => mulDims(p, d), 1);
}

/**
 * Splits a sum/difference atom "(a+b)" / "(a-b)" at its top-level operator (the last one, so
 * "((L+P)+3)" gives ["(L+P)", "+", "3"]), or returns undefined for any other dim.
 */
export function splitSum(d: Dim): [Dim, '+' | '-', Dim] | undefined {
  if (typeof d !== 'string' || d[0] !== '(' || d[d.length - 1] !== ')') return undefined;
  let depth = 0, at = -1;
  for (let i = 0; i < d.length; i++) {
    const c = d[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0 && i !== d.length - 1) return undefined; // "(a)*(b)": the outer parens do not enclose all
    } else if ((c === '+' || c === '-') && depth === 1) at = i;
  }
  if (at < 0) return undefined;
  const parse = (s: string): Dim => (/^\d+$/.test(s) ? Number(s) : s);
  return [parse(d.slice(1, at)), d[at] as '+' | '-', parse(d.slice(at + 1, -1))];
}

/** d as base + constant offset: "(H+2)" -> ["H", 2], "(H-1)" -> ["H", -1], "H" -> ["H", 0]. */
function offsetOf(d: Dim): [Dim, number] {
  const s = splitSum(d);
  if (s && typeof s[2] === 'number') return [s[0], s[1] === '+' ? s[2] : -s[2]];
  return [d, 0];
}

function withOffset(base: Dim, k: number): Dim {
  if (typeof base === 'number') return base + k;
  if (k === 0) return base;
  return k > 0 ? `(${base}+${k})` : `(${base}-${-k})`;
}

/** a + b; constant offsets fold, so ("(H+2)", -2) gives "H" again. */
export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  if (typeof b === 'number') { const [base, k] = offsetOf(a); return withOffset(base, k + b); }
  if (typeof a === 'number') { const [base, k] = offsetOf(b); return withOffset(base, k + a); }
  return `(${a}+${b})`;
}

/** a − b, folding constant offsets like addDims. */
export function subDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (b === 0) return a;
  if (a === b) return 0;
  if (typeof b === 'number') { const [base, k] = offsetOf(a); return withOffset(base, k - b); }
  return `(${a}-${b})`;
}

/** Opaque result of an arithmetic expression on a symbolic dim, e.g. a conv output size. */
export function exprDim(fn: (v: number) => number, name: string, d: Dim): Dim {
  return typeof d === 'number' ? fn(d) : `${name}(${d})`;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** The atoms (plain symbol names) a dim depends on. */
export function dimAtoms(d: Dim): string[] {
  return typeof d === 'number' ? [] : toMono(d).syms;
}

export function monomialOf(d: Dim): { coef: number; syms: string[] } {
  return toMono(d);
}
