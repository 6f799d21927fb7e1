// Writes a state dict the way torch.save does (PyTorch ≥ 1.6 zip format), so `torch.load` and
// `load_state_dict(strict=True)` read it: a stored (uncompressed) ZIP holding
//   <archive>/data.pkl   protocol-2 pickle of OrderedDict{name: _rebuild_tensor_v2(storage, 0,
//                        shape, contiguous strides, False, OrderedDict())}, each storage a
//                        persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)
//   <archive>/byteorder  "little"
//   <archive>/data/<key> the raw little-endian elements of storage <key> (one per tensor)
//   <archive>/version    "3"
// File data starts on 64-byte boundaries (padding in an "FB" extra field, as torch aligns it).
// CRC-32s are real, so readers that check them accept the file. Browser-safe: returns the bytes
// as chunks to write in order; ZIP64 is not written, so the file must stay under 4 GiB.
import { DTYPE_BYTES, type Tensor } from './dtypes.ts';

const STORAGE: Partial<Record<Tensor['dtype'], string>> = {
  float32: 'FloatStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage', float64: 'DoubleStorage',
  int64: 'LongStorage', int32: 'IntStorage', int16: 'ShortStorage', int8: 'CharStorage', uint8: 'ByteStorage', bool: 'BoolStorage',
};

let CRC_TABLE: Uint32Array | undefined;
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

class Bytes {
  private parts: number[] = [];
  u8(...v: number[]) { this.parts.push(...v); return this; }
  u16(v: number) { return this.u8(v & 0xff, (v >>> 8) & 0xff); }
  u32(v: number) { return this.u8(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  str(s: string) { return this.u8(...new TextEncoder().encode(s)); }
  get length() { return this.parts.length; }
  bytes() { return Uint8Array.from(this.parts); }
}

/** The pickle torch.save writes for an OrderedDict of contiguous tensors (storage keys "0", "1", …). */
export function statePickle(entries: { name: string; dtype: Tensor['dtype']; shape: readonly number[] }[]): Uint8Array {
  const p = new Bytes();
  const unicode = (s: string) => {
    const e = new TextEncoder().encode(s);
    p.u8(0x58).u32(e.length).u8(...e); // BINUNICODE
  };
  const int = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`torch.save: integer ${n} out of range`);
    if (n < 2 ** 31) p.u8(0x4a).u32(n); // BININT
    else { // LONG1 with 8 little-endian bytes
      p.u8(0x8a, 8);
      let v = BigInt(n);
      for (let i = 0; i < 8; i++) { p.u8(Number(v & 0xffn)); v >>= 8n; }
    }
  };
  const global = (mod: string, name: string) => p.u8(0x63).str(`${mod}\n${name}\n`);
  const tuple = (xs: readonly number[]) => {
    if (xs.length === 0) { p.u8(0x29); return; } // EMPTY_TUPLE
    p.u8(0x28);
    for (const x of xs) int(x);
    p.u8(0x74);
  };
  p.u8(0x80, 2);
  global('collections', 'OrderedDict');
  p.u8(0x29, 0x52); // () REDUCE
  p.u8(0x28); // MARK for SETITEMS
  entries.forEach((e, i) => {
    const storage = STORAGE[e.dtype];
    if (!storage) throw new Error(`torch.save: dtype ${e.dtype} of ${e.name} has no torch storage`);
    unicode(e.name);
    global('torch._utils', '_rebuild_tensor_v2');
    p.u8(0x28); // MARK args
    p.u8(0x28); // persistent id tuple
    unicode('storage');
    global('torch', storage);
    unicode(String(i));
    unicode('cpu');
    int(e.shape.reduce((a, b) => a * b, 1));
    p.u8(0x74, 0x51); // TUPLE, BINPERSID
    int(0);
    tuple(e.shape);
    const strides = e.shape.map((_, k) => e.shape.slice(k + 1).reduce((a, b) => a * b, 1));
    tuple(strides);
    p.u8(0x89); // False (requires_grad)
    global('collections', 'OrderedDict');
    p.u8(0x29, 0x52); // backward hooks: OrderedDict()
    p.u8(0x74, 0x52); // TUPLE, REDUCE
  });
  p.u8(0x75, 0x2e); // SETITEMS, STOP
  return p.bytes();
}

function tensorBytesLE(t: Tensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]);
}

/**
 * torch.save(state_dict, "<archive>.bin") as bytes (chunks in file order). `archive` is the folder
 * name inside the ZIP (torch uses the file's stem, e.g. "ema_model").
 */
export function torchSave(tensors: Map<string, Tensor>, archive = 'archive'): Uint8Array[] {
  const entries = [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const files: [string, Uint8Array][] = [[`${archive}/data.pkl`, statePickle(entries)], [`${archive}/byteorder`, new TextEncoder().encode('little')]];
  [...tensors.values()].forEach((t, i) => files.push([`${archive}/data/${i}`, tensorBytesLE(t)]));
  files.push([`${archive}/version`, new TextEncoder().encode('3\n')]);

  const chunks: Uint8Array[] = [];
  const central = new Bytes();
  let offset = 0;
  for (const [name, data] of files) {
    const nameBytes = new TextEncoder().encode(name);
    const crc = crc32(data);
    // pad so that the data begins on a 64-byte boundary: header 30 + name + extra (4 + pad)
    const base = offset + 30 + nameBytes.length + 4;
    const pad = (64 - (base % 64)) % 64;
    const local = new Bytes().u32(0x04034b50).u16(20).u16(0).u16(0).u16(0).u16(0).u32(crc).u32(data.length).u32(data.length)
      .u16(nameBytes.length).u16(4 + pad).u8(...nameBytes).u16(0x4246).u16(pad).u8(...new Array(pad).fill(0)).bytes();
    central.u32(0x02014b50).u16(20).u16(20).u16(0).u16(0).u16(0).u16(0).u32(crc).u32(data.length).u32(data.length)
      .u16(nameBytes.length).u16(0).u16(0).u16(0).u16(0).u32(0).u32(offset).u8(...nameBytes);
    chunks.push(local, data);
    offset += local.length + data.length;
    if (offset >= 2 ** 32) throw new Error('torch.save: files over 4 GiB need ZIP64, which this writer does not produce');
  }
  const cd = central.bytes();
  const end = new Bytes().u32(0x06054b50).u16(0).u16(0).u16(files.length).u16(files.length).u32(cd.length).u32(offset).u16(0).bytes();
  chunks.push(cd, end);
  return chunks;
}
