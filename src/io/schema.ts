// Untrusted input, one place: bounded JSON (nesting depth and node count checked before any
// consumer walks the value), safe descriptions of hostile values for error messages (never
// recursive without a bound, never JSON.stringify of unchecked data), own-property checks, and a
// small field schema (int / number / bool / enum / string / list, each with its bounds) that every
// config format (hart.json, transformer, tokenizer, Qwen2 config.json) is parsed through, so a
// value is checked once, at the door, with a message naming the file and the field. Browser-safe.
//
// No schema library: the formats are flat objects of numbers, and a 100-line checker with the
// exact messages we want is smaller than adapting zod/valibot output to them.

/** Limits on parsed JSON: model folders hold small configs and indexes; tokenizer.json is the largest. */
export interface JsonLimits { maxDepth: number; maxNodes: number; maxBytes: number }
export const JSON_LIMITS: JsonLimits = { maxDepth: 32, maxNodes: 1 << 20, maxBytes: 16 << 20 };
/** tokenizer.json of a 150k-token vocabulary (7 MB, ~500k values: vocab + merges). */
export const TOKENIZER_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxNodes: 1 << 23, maxBytes: 64 << 20 };

export const hasOwn = (o: object, k: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(o, k);
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Walks a parsed JSON value iteratively; throws if it nests deeper than maxDepth or has more than
 * maxNodes values, so later recursive code (and error messages) can never overflow the stack.
 */
export function checkJsonLimits(value: unknown, what: string, limits: JsonLimits = JSON_LIMITS): void {
  const stack: [unknown, number][] = [[value, 0]];
  let nodes = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (++nodes > limits.maxNodes) throw new Error(`${what}: more than ${limits.maxNodes} JSON values (refusing to read it)`);
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= limits.maxDepth) throw new Error(`${what}: JSON nested deeper than ${limits.maxDepth} levels (refusing to read it)`);
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]); else if (++nodes > limits.maxNodes) throw new Error(`${what}: more than ${limits.maxNodes} JSON values (refusing to read it)`);
  }
}

/** JSON.parse with a message naming the file, then checkJsonLimits. */
export function parseJsonText(text: string, what: string, limits: JsonLimits = JSON_LIMITS): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  checkJsonLimits(v, what, limits);
  return v;
}

/** UTF-8 bytes → text, with a message naming the file instead of a decoder error. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${what} is not valid UTF-8 text`);
  }
}

/**
 * A short, safe description of any value (JSON, pickle values: Map, bigint, bytes, class
 * instances), in the user's terms: `"abc"`, `7`, `null`, `a list of 3 items [1, 2, 3]`,
 * `a dict {"a": 1}`. Bounded in depth and length whatever the value (cycles included).
 */
export function describe(v: unknown, maxLen = 80): string {
  const s = describeAt(v, 2);
  return s.length > maxLen ? `${s.slice(0, maxLen - 1)}…` : s;
}

function describeAt(v: unknown, depth: number): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `${v}`.length > 30 ? `an integer of ${`${v}`.length} digits` : `${v}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) {
    if (depth === 0 || v.length === 0) return v.length === 0 ? '[]' : `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
    const items = v.slice(0, 4).map((x) => describeAt(x, depth - 1));
    return `[${items.join(', ')}${v.length > 4 ? `, … (${v.length} items)` : ''}]`;
  }
  if (v instanceof Map) {
    if (depth === 0 || v.size === 0) return v.size === 0 ? 'an empty dict' : `a dict of ${v.size} entries`;
    const items = [...take(v.entries(), 3)].map(([k, x]) => `${describeAt(k, 0)}: ${describeAt(x, depth - 1)}`);
    return `a dict {${items.join(', ')}${v.size > 3 ? ', …' : ''}}`;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const name = (v as { qualname?: unknown }).qualname ?? proto?.constructor?.name;
      return typeof name === 'string' ? `a ${name}` : 'an object';
    }
    const keys = Object.keys(v);
    if (depth === 0 || keys.length === 0) return keys.length === 0 ? '{}' : `an object of ${keys.length} fields`;
    const items = keys.slice(0, 3).map((k) => `${JSON.stringify(k.slice(0, 40))}: ${describeAt((v as Record<string, unknown>)[k], depth - 1)}`);
    return `{${items.join(', ')}${keys.length > 3 ? ', …' : ''}}`;
  }
  return typeof v;
}

function* take<T>(it: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const x of it) {
    yield x;
    if (--n <= 0) return;
  }
}

// ---- field schema -------------------------------------------------------------------------------

/** Checks one field's value; returns it (possibly normalised) or throws a message fragment. */
export interface Field<T> { check(v: unknown): T; want: string }

class FieldError extends Error {}
const bad = (want: string, v: unknown): never => { throw new FieldError(`must be ${want}, got ${describe(v)}`); };
/** For custom fields: rejects `v` with the standard "must be <want>, got <v>" message. */
export const reject = bad;
/** A bound as messages show it: large powers of two as 2^k. */
export const fmt = (x: number): string => (Math.abs(x) >= 2 ** 20 && Number.isInteger(Math.log2(Math.abs(x))) ? `2^${Math.log2(Math.abs(x))}` : String(x));

export const f = {
  int(min: number, max: number): Field<number> {
    const want = `an integer in [${fmt(min)}, ${fmt(max)}]`;
    return { want, check: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : bad(want, v)) };
  },
  /** A finite number in [min, max] (`minExclusive`: (min, max]). */
  number(min: number, max: number, minExclusive = false): Field<number> {
    const want = `a number in ${minExclusive ? '(' : '['}${fmt(min)}, ${fmt(max)}]`;
    return { want, check: (v) => (typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max ? v : bad(want, v)) };
  },
  bool(): Field<boolean> {
    return { want: 'true or false', check: (v) => (typeof v === 'boolean' ? v : bad('true or false', v)) };
  },
  oneOf<T extends string>(values: readonly T[]): Field<T> {
    const want = `one of ${values.map((s) => JSON.stringify(s)).join(', ')}`;
    return { want, check: (v) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? v as T : bad(want, v)) };
  },
  string(maxLen = 4096, pattern?: RegExp, want = 'a string'): Field<string> {
    return { want, check: (v) => (typeof v === 'string' && v.length <= maxLen && (!pattern || pattern.test(v)) ? v : bad(want, v)) };
  },
  nullable<T>(inner: Field<T>): Field<T | null> {
    return { want: `${inner.want} or null`, check: (v) => (v === null ? null : wrapWant(inner, v, `${inner.want} or null`)) };
  },
  list<T>(inner: Field<T>, minLen: number, maxLen: number): Field<T[]> {
    const want = `a list of ${minLen}–${maxLen} items, each ${inner.want}`;
    return {
      want,
      check: (v) => {
        if (!Array.isArray(v) || v.length < minLen || v.length > maxLen) return bad(want, v);
        return v.map((x) => wrapWant(inner, x, want, v));
      },
    };
  },
  /** Anything (a free-form field such as hart.json "sources"), depth already bounded by checkJsonLimits. */
  any(): Field<unknown> { return { want: 'anything', check: (v) => v }; },
};

function wrapWant<T>(inner: Field<T>, v: unknown, want: string, whole: unknown = v): T {
  try {
    return inner.check(v);
  } catch (e) {
    if (e instanceof FieldError) return bad(want, whole);
    throw e;
  }
}

export type Schema = Record<string, Field<unknown>>;

/**
 * Checks the own fields of `obj` against `schema`: every present field's value (undefined fields
 * are skipped: the caller's defaults apply), unknown fields rejected unless in `tolerate`.
 * Returns the checked values. `what` names the file; messages read `what: "key" must be …, got …`.
 */
export function parseFields(obj: unknown, schema: Schema, what: string, tolerate: ReadonlySet<string> = new Set()): Record<string, unknown> {
  if (!isPlainObject(obj)) throw new Error(`${what}: must be a JSON object, got ${describe(obj)}`);
  const unknown = Object.keys(obj).filter((k) => !hasOwn(schema, k) && !tolerate.has(k));
  if (unknown.length) {
    throw new Error(`${what}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 60))).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} ` +
      `(known: ${Object.keys(schema).join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(schema)) {
    if (!hasOwn(obj, k) || obj[k] === undefined) continue;
    try {
      out[k] = schema[k].check(obj[k]);
    } catch (e) {
      if (e instanceof FieldError) throw new Error(`${what}: "${k}" ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** Checks one value against a field, with the same message shape as parseFields. */
export function checkField<T>(v: unknown, field: Field<T>, what: string, key: string): T {
  try {
    return field.check(v);
  } catch (e) {
    if (e instanceof FieldError) throw new Error(`${what}: "${key}" ${e.message}`);
    throw e;
  }
}
