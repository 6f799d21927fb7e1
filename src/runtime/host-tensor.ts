// HostTensor: a plain (dtype, shape, data) value passed into and out of compiled graphs.
import type { DType, TypedArray } from '../graph/dtype.ts';

export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export function hostTensor(data: TypedArray, shape: number[], dtype?: DType): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`hostTensor: ${data.length} values for shape [${shape}]`);
  const dt: DType = dtype ?? (data instanceof Float32Array ? 'float32' : data instanceof Float64Array ? 'float64'
    : data instanceof BigInt64Array ? 'int64' : data instanceof Int32Array ? 'int32'
    : data instanceof Uint8Array ? 'uint8' : data instanceof Int8Array ? 'int8' : 'float16');
  return { dtype: dt, shape, data };
}

export const f32 = (data: ArrayLike<number>, shape: number[]): HostTensor =>
  hostTensor(Float32Array.from(data), shape, 'float32');
export const i64 = (data: ArrayLike<number>, shape: number[]): HostTensor =>
  hostTensor(BigInt64Array.from(Array.from(data, (v) => BigInt(v))), shape, 'int64');

/** Rows `rows` (in that order, repeats allowed) of `data` taken as rows of `width` values. */
export function gatherRows<T extends Float32Array | Int32Array | Uint8Array>(data: T, width: number, rows: readonly number[]): T {
  const out = new (data.constructor as new (n: number) => T)(rows.length * width);
  rows.forEach((r, k) => out.set(data.subarray(r * width, (r + 1) * width), k * width));
  return out;
}
