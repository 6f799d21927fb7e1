// A Python pickle reader (binary opcodes of protocols 2-5) that never executes anything:
// GLOBAL/STACK_GLOBAL are resolved only through the caller's allow-list, REDUCE/NEWOBJ only call
// the allow-listed functions it returns, BINPERSID goes to the caller's persistentLoad. Any other
// global or opcode is an error naming it. Every read is bounds-checked. Browser-safe.
//
// Values: None -> null, bool, int -> number (bigint beyond 2^53), float -> number, str -> string,
// bytes -> Uint8Array, tuple and list -> array, dict -> Map.

/** What an allow-listed global resolves to: a callable (for REDUCE/NEWOBJ) or a plain marker value. */
export class PickleCallable {
  constructor(readonly qualname: string, readonly call: (args: unknown[]) => unknown) {}
}

export interface UnpickleOptions {
  /** The value of `module.name`, or undefined to reject it. */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (BINPERSID); omit to reject persistent ids. */
  persistentLoad?(pid: unknown): unknown;
  /** BUILD(obj, state): return the built object; omit to allow BUILD only on dicts (state ignored). */
  build?(obj: unknown, state: unknown): unknown;
  /** Names the data in error messages. */
  what?: string;
}

const OPNAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS',
  0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** Name of an opcode byte, for messages. */
export function opcodeName(op: number): string {
  return OPNAMES[op] ?? `unknown opcode 0x${op.toString(16).padStart(2, '0')}`;
}

/** Unpickles bytes; returns the value left by STOP. Throws a descriptive Error on anything unsupported. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const what = opts.what ?? 'pickle';
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let opPos = 0;
  const fail = (msg: string): never => {
    throw new Error(`${what}: ${msg} (at byte ${opPos})`);
  };
  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) fail(`truncated: needs ${n} more bytes, ${bytes.length - pos} left`);
  };
  const take = (n: number) => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const le = (n: number) => {
    const b = take(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i];
    return v;
  };
  const str = (b: Uint8Array) => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 4096) fail('unterminated text line');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => (stack.length > (marks.length ? marks[marks.length - 1] : 0) ? stack.pop() : fail('stack underflow'));
  const top = () => (stack.length > (marks.length ? marks[marks.length - 1] : 0) ? stack[stack.length - 1] : fail('stack underflow'));
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) return fail('no MARK to pop to');
    return stack.splice(m);
  };
  const resolve = (module: unknown, name: unknown) => {
    if (typeof module !== 'string' || typeof name !== 'string') return fail('STACK_GLOBAL needs two strings');
    const v = opts.findGlobal(module, name);
    if (v === undefined) fail(`global ${`${module}.${name}`.slice(0, 120)} is not allowed (refusing to load it)`);
    return v;
  };
  const call = (f: unknown, args: unknown, op: string) => {
    if (!(f instanceof PickleCallable)) return fail(`${op} of a value that is not an allowed callable`);
    if (!Array.isArray(args)) return fail(`${op} of ${f.qualname} with arguments that are not a tuple`);
    try {
      return f.call(args);
    } catch (e) {
      return fail(`${f.qualname}: ${(e as Error).message}`);
    }
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof Map)) return fail('SETITEM(S) on a value that is not a dict');
    if (kv.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
  };
  const bigLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    opPos = pos;
    need(1);
    const op = bytes[pos++];
    switch (op) {
      case 0x80: le(1); break; // PROTO
      case 0x95: le(8); break; // FRAME (length is advisory)
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      }
      case 0x28: marks.push(stack.length); break;
      case 0x30: pop(); break;
      case 0x31: popMark(); break;
      case 0x32: stack.push(top()); break;
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4a: { const v = le(4); stack.push(v >= 2 ** 31 ? v - 2 ** 32 : v); break; }
      case 0x4b: stack.push(le(1)); break;
      case 0x4d: stack.push(le(2)); break;
      case 0x8a: stack.push(bigLong(take(le(1)))); break;
      case 0x8b: {
        const n = le(4);
        if (n > 1024) fail(`LONG4 of ${n} bytes is absurd`);
        stack.push(bigLong(take(n)));
        break;
      }
      case 0x49: { // INT (text)
        const s = line();
        if (s === '00' || s === '01') stack.push(s === '01');
        else if (/^[-+]?\d{1,15}$/.test(s)) stack.push(Number(s));
        else fail(`bad INT ${JSON.stringify(s.slice(0, 40))}`);
        break;
      }
      case 0x47: { const b = take(8); stack.push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false)); break; }
      case 0x58: stack.push(str(take(le(4)))); break;
      case 0x8c: stack.push(str(take(le(1)))); break;
      case 0x8d: stack.push(str(take(le(8)))); break;
      case 0x55: stack.push(new TextDecoder('latin1').decode(take(le(1)))); break; // py2 str
      case 0x54: stack.push(new TextDecoder('latin1').decode(take(le(4)))); break;
      case 0x43: stack.push(take(le(1)).slice()); break;
      case 0x42: stack.push(take(le(4)).slice()); break;
      case 0x8e: stack.push(take(le(8)).slice()); break;
      case 0x29: stack.push([]); break;
      case 0x74: stack.push(popMark()); break;
      case 0x85: { const a = pop(); stack.push([a]); break; }
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; }
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; }
      case 0x5d: stack.push([]); break;
      case 0x6c: stack.push(popMark()); break;
      case 0x61: { const v = pop(), l = top(); if (!Array.isArray(l)) fail('APPEND to a non-list'); (l as unknown[]).push(v); break; }
      case 0x65: { const items = popMark(), l = top(); if (!Array.isArray(l)) fail('APPENDS to a non-list'); for (const v of items) (l as unknown[]).push(v); break; }
      case 0x7d: stack.push(new Map()); break;
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; }
      case 0x71: memo.set(le(1), top()); break;
      case 0x72: memo.set(le(4), top()); break;
      case 0x94: memo.set(memo.size, top()); break;
      case 0x70: { const s = line(); if (!/^\d{1,10}$/.test(s)) fail('bad PUT index'); memo.set(Number(s), top()); break; }
      case 0x68: case 0x6a: case 0x67: {
        let i: number;
        if (op === 0x67) {
          const s = line();
          if (!/^\d{1,10}$/.test(s)) fail(`GET names memo slot ${JSON.stringify(s.slice(0, 40))}, which is not a number`);
          i = Number(s);
        } else i = op === 0x68 ? le(1) : le(4);
        if (!memo.has(i)) fail(`GET of memo slot ${i}, which nothing was stored in (corrupt pickle)`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line(), name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: { const name = pop(), module = pop(); stack.push(resolve(module, name)); break; }
      case 0x52: { const args = pop(), f = pop(); stack.push(call(f, args, 'REDUCE')); break; }
      case 0x81: { const args = pop(), cls = pop(); stack.push(call(cls, args, 'NEWOBJ')); break; }
      case 0x62: { // BUILD
        const state = pop(), obj = pop();
        if (opts.build) stack.push(opts.build(obj, state));
        else if (obj instanceof Map) stack.push(obj);
        else fail('BUILD on a value that is not a dict');
        break;
      }
      case 0x51: {
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent ids are not allowed here');
        try {
          stack.push(opts.persistentLoad!(pid));
        } catch (e) {
          fail(`persistent id: ${(e as Error).message}`);
        }
        break;
      }
      default:
        fail(`unsupported pickle opcode ${opcodeName(op)} (0x${op.toString(16).padStart(2, '0')})`);
    }
  }
}
