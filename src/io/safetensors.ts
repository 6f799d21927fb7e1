// safetensors reader/writer (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {..}}, then
// the raw little-endian data. Strict validation; reads from bytes in memory or, for large files,
// through a RandomAccess (header first, then each tensor on demand). Browser-safe.
import { type DType, type Tensor, type TensorData, DTYPE_BYTES, bytesOf, checkData, fromSafetensorsDType, toFloat32, toSafetensorsDType, viewAs } from './dtypes.ts';
import { type RandomAccess, type TensorInfo, type TensorSource, bytesAccess } from './tensor-source.ts';
import { describe } from './schema.ts';

/** Headers larger than this are rejected as corrupt (the official library uses the same bound). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  dtype: DType;
  shape: number[];
  /** Absolute offset of the tensor's bytes in the file. */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** Entries in name order. */
  tensors: Map<string, SafetensorsEntry>;
  /** Offset of the data region (8 + header length). */
  dataStart: number;
}

export interface SafetensorsFile extends SafetensorsHeader {
  /** Typed view of a tensor's data (copy-free when aligned). */
  get(name: string): Tensor;
  /** A tensor converted to a new Float32Array (any float or int dtype). */
  getFloat32(name: string): Float32Array;
}

/** Reads the header length from the first 8 bytes of a file of fileSize bytes. */
export function readHeaderLength(first8: Uint8Array, fileSize: number, what = 'safetensors'): number {
  if (fileSize < 8 || first8.byteLength < 8) throw new Error(`${what}: file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (hi !== 0 || n > MAX_HEADER_BYTES) throw new Error(`${what}: header length ${hi ? `${hi}*2^32+${lo}` : n} is absurd (limit ${MAX_HEADER_BYTES} bytes); not a safetensors file?`);
  if (8 + n > fileSize) throw new Error(`${what}: header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  return n;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates the JSON header; fileSize is the whole file's size (to check the data region). */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, what = 'safetensors'): SafetensorsHeader {
  const dataStart = 8 + headerBytes.byteLength;
  const dataLength = fileSize - dataStart;
  if (dataLength < 0) throw new Error(`${what}: header runs past the end of the file`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${what}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new Error(`${what}: header is not a JSON object`);

  let metadata: Record<string, string> = {};
  const raw: [string, SafetensorsEntry, number, number][] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(v)) throw new Error(`${what}: __metadata__ must be an object of strings`);
      for (const [k, s] of Object.entries(v)) if (typeof s !== 'string') throw new Error(`${what}: __metadata__.${k.slice(0, 60)} is not a string`);
      metadata = v as Record<string, string>;
      continue;
    }
    const at = `${what}: tensor ${describe(name)}`;
    if (!isPlainObject(v)) throw new Error(`${at}: entry is not an object`);
    const keys = Object.keys(v).sort().join(',');
    if (keys !== 'data_offsets,dtype,shape') throw new Error(`${at}: entry must have exactly dtype, shape, data_offsets (has ${keys.slice(0, 80) || 'nothing'})`);
    if (typeof v.dtype !== 'string') throw new Error(`${at}: dtype is not a string`);
    let dtype: DType;
    try {
      dtype = fromSafetensorsDType(v.dtype);
    } catch (e) {
      throw new Error(`${at}: ${(e as Error).message}`);
    }
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${at}: shape ${describe(shape)} is not a list of non-negative integers`);
    }
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${at}: data_offsets ${describe(off)} is not a pair of non-negative integers`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end) throw new Error(`${at}: data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataLength) throw new Error(`${at}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data region (truncated file?)`);
    let expected = DTYPE_BYTES[dtype];
    for (const d of shape as number[]) expected *= d;
    if (expected !== end - begin) {
      throw new Error(`${at}: ${end - begin} bytes but ${v.dtype}${describe(shape)} needs ${expected}`);
    }
    raw.push([name, { dtype, shape: (shape as number[]).slice(), byteOffset: dataStart + begin, byteLength: end - begin }, begin, end]);
  }
  // The tensors must tile the data region exactly: no gaps, no overlaps, nothing left over.
  const byOffset = raw.slice().sort((a, b) => a[2] - b[2] || a[3] - b[3]);
  let pos = 0;
  for (const [name, , begin, end] of byOffset) {
    if (begin !== pos) {
      throw new Error(`${what}: tensor ${describe(name)} starts at data offset ${begin}, expected ${pos} (${begin < pos ? 'overlaps the previous tensor' : 'leaves a gap'})`);
    }
    pos = end;
  }
  if (pos !== dataLength) throw new Error(`${what}: tensors cover ${pos} bytes of the ${dataLength}-byte data region`);
  raw.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { metadata, tensors: new Map(raw.map(([n, e]) => [n, e])), dataStart };
}

function entryOf(h: SafetensorsHeader, name: string, what: string): SafetensorsEntry {
  const e = h.tensors.get(name);
  if (!e) throw new Error(`${what}: no tensor named ${describe(name)}`);
  return e;
}

/** Parses a whole safetensors file held in memory. `what` names the file in error messages. */
export function parseSafetensors(bytes: Uint8Array, what = 'safetensors'): SafetensorsFile {
  const n = readHeaderLength(bytes, bytes.byteLength, what);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.byteLength, what);
  const get = (name: string): Tensor => {
    const e = entryOf(header, name, what);
    return { dtype: e.dtype, shape: e.shape.slice(), data: viewAs(e.dtype, bytes.subarray(e.byteOffset, e.byteOffset + e.byteLength)) };
  };
  return { ...header, get, getFloat32: (name) => toFloat32(entryOf(header, name, what).dtype, get(name).data) };
}

/** All tensors of an in-memory safetensors file, in name order. */
export function readSafetensors(bytes: Uint8Array, what = 'safetensors'): Map<string, Tensor> {
  const f = parseSafetensors(bytes, what);
  return new Map([...f.tensors.keys()].map((name) => [name, f.get(name)]));
}

/** A safetensors file read through random access: the header now, each tensor when asked for. */
export async function openSafetensors(access: RandomAccess, what = 'safetensors', close: () => Promise<void> = async () => {}): Promise<TensorSource & { metadata: Record<string, string> }> {
  const size = access.byteLength;
  if (size < 8) throw new Error(`${what}: file is ${size} bytes, shorter than the 8-byte header length`);
  const n = readHeaderLength(await access.read(0, 8), size, what);
  const header = parseSafetensorsHeader(await access.read(8, n), size, what);
  const names = [...header.tensors.keys()];
  return {
    metadata: header.metadata,
    names: () => names.slice(),
    info: (name): TensorInfo => {
      const e = entryOf(header, name, what);
      return { dtype: e.dtype, shape: e.shape.slice() };
    },
    read: async (name) => {
      const e = entryOf(header, name, what);
      return { dtype: e.dtype, shape: e.shape.slice(), data: viewAs(e.dtype, await access.read(e.byteOffset, e.byteLength)) };
    },
    close,
  };
}

/** TensorSource over an in-memory safetensors file. */
export function safetensorsSource(bytes: Uint8Array, what = 'safetensors'): Promise<TensorSource & { metadata: Record<string, string> }> {
  return openSafetensors(bytesAccess(bytes), what);
}

export type TensorInput = Map<string, Tensor> | Record<string, Tensor>;

/**
 * The header bytes (length prefix + JSON padded with spaces to a multiple of 8) for tensors
 * written in name order; `order` is that order. Used by writeSafetensors and streaming writers.
 */
export function encodeSafetensorsHeader(infos: Iterable<[string, TensorInfo]>, metadata?: Record<string, string>): { header: Uint8Array; order: string[]; dataLength: number } {
  const list = [...infos].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`safetensors metadata ${k} is not a string`);
    const keys = Object.keys(metadata).sort();
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let pos = 0;
  for (let i = 0; i < list.length; i++) {
    const [name, { dtype, shape }] = list[i];
    if (i > 0 && list[i - 1][0] === name) throw new Error(`safetensors: duplicate tensor name ${JSON.stringify(name)}`);
    if (name === '__metadata__') throw new Error('safetensors: a tensor may not be named __metadata__');
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`safetensors: tensor ${JSON.stringify(name)} has invalid shape ${JSON.stringify(shape)}`);
    let bytes = DTYPE_BYTES[dtype];
    for (const d of shape) bytes *= d;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${toSafetensorsDType(dtype)}","shape":${JSON.stringify(shape)},"data_offsets":[${pos},${pos + bytes}]}`);
    pos += bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, padded, true);
  dv.setUint32(4, 0, true);
  header.set(json, 8);
  return { header, order: list.map(([n]) => n), dataLength: pos };
}

/** Checks that a tensor's data matches its dtype and shape; returns its bytes. */
export function tensorBytes(name: string, t: Tensor): Uint8Array {
  const what = `safetensors: tensor ${JSON.stringify(name)}`;
  checkData(t.dtype, t.data as TensorData, what);
  let n = 1;
  for (const d of t.shape) n *= d;
  if (t.data.length !== n) throw new Error(`${what}: shape ${JSON.stringify(t.shape)} has ${n} elements but data has ${t.data.length}`);
  return bytesOf(t.data);
}

/** Serializes tensors (written in name order, deterministic) with optional string metadata. */
export function writeSafetensors(tensors: TensorInput, metadata?: Record<string, string>): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const byName = new Map(entries);
  const { header, order, dataLength } = encodeSafetensorsHeader(entries.map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }]), metadata);
  const out = new Uint8Array(header.byteLength + dataLength);
  out.set(header, 0);
  let pos = header.byteLength;
  for (const name of order) {
    const b = tensorBytes(name, byName.get(name)!);
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}
