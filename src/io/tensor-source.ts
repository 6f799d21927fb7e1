// TensorSource: one interface over every weight container (in-memory safetensors, a safetensors
// file read on demand, sharded checkpoints, PyTorch .bin zips), plus the random-access byte
// source they read through, so a multi-GB file is never held as one buffer. Browser-safe.
import { type DType, type Tensor, toFloat32 } from './dtypes.ts';

export interface TensorInfo {
  dtype: DType;
  shape: number[];
}

export interface TensorSource {
  /** Tensor names, sorted. */
  names(): string[];
  /** dtype and shape without reading the data; throws for an unknown name. */
  info(name: string): TensorInfo;
  /** The tensor's data, C-contiguous; throws for an unknown name. */
  read(name: string): Promise<Tensor>;
  /** Free file handles (no-op for in-memory sources). */
  close(): Promise<void>;
}

/** Random access to a byte container (a file, a Blob, an ArrayBuffer). */
export interface RandomAccess {
  readonly byteLength: number;
  /** Exactly `length` bytes at `offset`; rejects on a short read. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** RandomAccess over bytes already in memory (reads are copy-free subarrays). */
export function bytesAccess(bytes: Uint8Array): RandomAccess {
  return {
    byteLength: bytes.byteLength,
    async read(offset, length) {
      checkRange(offset, length, bytes.byteLength);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** RandomAccess over a browser Blob/File (Blob.slice reads only the requested range). */
export function blobAccess(blob: Blob): RandomAccess {
  return {
    byteLength: blob.size,
    async read(offset, length) {
      checkRange(offset, length, blob.size);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

export function checkRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new Error(`read of ${length} bytes at offset ${offset} is outside the ${size}-byte source`);
  }
}

/** Reads a tensor from a source and converts it to float32 (see toFloat32). */
export async function readFloat32(source: TensorSource, name: string): Promise<Float32Array> {
  const t = await source.read(name);
  return toFloat32(t.dtype, t.data);
}

/** Reads every tensor of a source into a Map (name-sorted). */
export async function readAll(source: TensorSource): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  for (const name of source.names()) out.set(name, await source.read(name));
  return out;
}
