// Test helpers: build torch.save-style checkpoints in memory (a stored ZIP, optionally zip64, and a
// protocol-2 pickle assembled opcode by opcode), so malformed cases can be made precisely.
import { mulberry32 } from '../mulberry32.ts';

export function le(n: number, bytes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) {
    out.push(n % 256);
    n = Math.floor(n / 256);
  }
  return out;
}

/** Assembles pickle opcodes. */
export class PickleWriter {
  readonly b: number[] = [];
  op(...bytes: number[]) { this.b.push(...bytes); return this; }
  proto(v = 2) { return this.op(0x80, v); }
  global(module: string, name: string) { return this.op(0x63, ...enc(`${module}\n${name}\n`)); }
  stackGlobal(module: string, name: string) { return this.str(module).str(name).op(0x93); }
  str(s: string) { const e = enc(s); return this.op(0x58, ...le(e.length, 4), ...e); }
  int(n: number) { return this.op(0x4a, ...le(n < 0 ? n + 2 ** 32 : n, 4)); }
  mark() { return this.op(0x28); }
  tuple() { return this.op(0x74); }
  ints(xs: number[]) { this.mark(); for (const x of xs) this.int(x); return this.tuple(); }
  emptyTuple() { return this.op(0x29); }
  reduce() { return this.op(0x52); }
  orderedDict() { return this.global('collections', 'OrderedDict').emptyTuple().reduce(); }
  stop() { return this.op(0x2e); }
  bytes() { return new Uint8Array(this.b); }
}
const enc = (s: string) => [...new TextEncoder().encode(s)];

export interface FakeTensor {
  name: string;
  storage: string; // e.g. FloatStorage
  key: string;
  numel: number; // declared storage size
  offset: number;
  shape: number[];
  stride: number[];
}

/** The pickle torch.save writes for an OrderedDict of tensors. */
export function statePickle(tensors: FakeTensor[]): Uint8Array {
  const p = new PickleWriter().proto().orderedDict().mark();
  for (const t of tensors) {
    p.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', t.storage).str(t.key).str('cpu').int(t.numel).tuple().op(0x51);
    p.int(t.offset).ints(t.shape).ints(t.stride).op(0x89).orderedDict().tuple().reduce();
  }
  return p.op(0x75).stop().bytes();
}

/** A ZIP with stored entries; zip64 forces zip64 records and extra fields everywhere. */
export function makeZip(entries: [string, Uint8Array][], opts: { zip64?: boolean; method?: number } = {}): Uint8Array {
  const out: number[] = [];
  const cd: number[] = [];
  const z64 = !!opts.zip64;
  for (const [name, data] of entries) {
    const n = enc(name);
    const off = out.length;
    out.push(...le(0x04034b50, 4), 45, 0, 0, 0, ...le(opts.method ?? 0, 2), 0, 0, 0, 0, 0, 0, 0, 0);
    out.push(...le(data.length, 4), ...le(data.length, 4), ...le(n.length, 2), 0, 0, ...n);
    for (const x of data) out.push(x);
    const extra = z64 ? [1, 0, 24, 0, ...le(data.length, 8), ...le(data.length, 8), ...le(off, 8)] : [];
    const big = (v: number) => (z64 ? le(0xffffffff, 4) : le(v, 4));
    cd.push(...le(0x02014b50, 4), 45, 0, 45, 0, 0, 0, ...le(opts.method ?? 0, 2), 0, 0, 0, 0, 0, 0, 0, 0);
    cd.push(...big(data.length), ...big(data.length), ...le(n.length, 2), ...le(extra.length, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    cd.push(...big(off), ...n, ...extra);
  }
  const cdOff = out.length;
  out.push(...cd);
  if (z64) {
    const rec = out.length;
    out.push(...le(0x06064b50, 4), ...le(44, 8), 45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    out.push(...le(entries.length, 8), ...le(entries.length, 8), ...le(cd.length, 8), ...le(cdOff, 8));
    out.push(...le(0x07064b50, 4), 0, 0, 0, 0, ...le(rec, 8), 1, 0, 0, 0);
    out.push(...le(0x06054b50, 4), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0);
  } else {
    out.push(...le(0x06054b50, 4), 0, 0, 0, 0, ...le(entries.length, 2), ...le(entries.length, 2), ...le(cd.length, 4), ...le(cdOff, 4), 0, 0);
  }
  return new Uint8Array(out);
}

/** A torch.save-style archive: archive/data.pkl, archive/byteorder, archive/data/<key>. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, opts: { zip64?: boolean; byteorder?: string; prefix?: string } = {}): Uint8Array {
  const pre = opts.prefix ?? 'archive';
  const entries: [string, Uint8Array][] = [[`${pre}/data.pkl`, pickle]];
  if (opts.byteorder !== undefined) entries.push([`${pre}/byteorder`, new TextEncoder().encode(opts.byteorder)]);
  for (const [k, v] of Object.entries(storages)) entries.push([`${pre}/data/${k}`, v]);
  entries.push([`${pre}/version`, new TextEncoder().encode('3\n')]);
  return makeZip(entries, opts);
}

/** Deterministic PRNG (mulberry32) for fuzz tests. */
export const rng = mulberry32;
