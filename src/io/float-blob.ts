// Float32 arrays with a JSON header as one byte blob, for results persisted beside the model cache
// (runtime.writeDerived) and read back by later processes. Layout: the caller's magic string, a
// uint32 (little-endian) header length, the header JSON, padding to 4 bytes, then the arrays'
// float32 values in order. decodeFloatBlob returns undefined for anything else: another magic or
// header, or a size that is not exactly the expected arrays' (a stale or truncated file is recomputed).

export function encodeFloatBlob(magic: string, header: object, arrays: readonly Float32Array[]): Uint8Array {
  const m = new TextEncoder().encode(magic);
  const h = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((m.length + 4 + h.length) / 4) * 4;
  const floats = arrays.reduce((a, x) => a + x.length, 0);
  const out = new Uint8Array(start + 4 * floats);
  out.set(m);
  new DataView(out.buffer).setUint32(m.length, h.length, true);
  out.set(h, m.length + 4);
  const f = new Float32Array(out.buffer, start, floats);
  let o = 0;
  for (const x of arrays) { f.set(x, o); o += x.length; }
  return out;
}

/** The arrays of `sizes` (element counts, in order) when `bytes` holds exactly them under `magic` and `header`; copies, 4-byte aligned. */
export function decodeFloatBlob(bytes: Uint8Array, magic: string, header: object, sizes: readonly number[]): Float32Array[] | undefined {
  const m = new TextEncoder().encode(magic);
  if (bytes.length < m.length + 4 || !m.every((b, i) => bytes[i] === b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = view.getUint32(m.length, true);
  if (m.length + 4 + hl > bytes.length) return undefined;
  let stored: unknown;
  try {
    stored = JSON.parse(new TextDecoder().decode(bytes.subarray(m.length + 4, m.length + 4 + hl)));
  } catch {
    return undefined;
  }
  if (JSON.stringify(stored) !== JSON.stringify(header)) return undefined;
  const start = Math.ceil((m.length + 4 + hl) / 4) * 4;
  const floats = sizes.reduce((a, n) => a + n, 0);
  if (bytes.length !== start + 4 * floats) return undefined;
  const f = new Float32Array(floats);
  new Uint8Array(f.buffer).set(bytes.subarray(start));
  let o = 0;
  return sizes.map((n) => f.subarray(o, (o += n)));
}
