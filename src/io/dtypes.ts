// Tensor element types: our names, safetensors names, byte sizes, typed-array views, and exact
// float16 / bfloat16 <-> float32 conversion (round-to-nearest-even when narrowing). Browser-safe.

export const DTYPES = ['float64', 'float32', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'] as const;
export type DType = (typeof DTYPES)[number];
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Raw element storage per dtype: float16/bfloat16 hold raw bits in a Uint16Array, bool holds 0/1 bytes. */
export type TensorData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A dense, row-major (C-contiguous), little-endian tensor. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export const DTYPE_BYTES: Record<DType, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

const TO_ST: Record<DType, SafetensorsDType> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64',
  int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && (DTYPES as readonly string[]).includes(s);
}
export function toSafetensorsDType(dtype: DType): SafetensorsDType {
  const s = TO_ST[dtype];
  if (!s) throw new Error(`unknown dtype ${JSON.stringify(dtype)}`);
  return s;
}
/** Safetensors dtype name (e.g. "F32") -> our name; throws on names we do not support. */
export function fromSafetensorsDType(s: string): DType {
  const d = Object.prototype.hasOwnProperty.call(FROM_ST, s) ? FROM_ST[s] : undefined;
  if (!d) throw new Error(`unsupported safetensors dtype ${JSON.stringify(s.slice(0, 40))} (supported: ${Object.values(TO_ST).join(', ')})`);
  return d;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Typed view over little-endian bytes; copy-free when the bytes are aligned for the element size, else a copy. */
export function viewAs(dtype: DType, bytes: Uint8Array): TensorData {
  if (!LITTLE_ENDIAN) throw new Error('big-endian hosts are not supported');
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  const src = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes); // (not .slice(): Buffer.slice is a view)
  const n = src.byteLength / size;
  const { buffer, byteOffset } = src;
  switch (dtype) {
    case 'float64': return new Float64Array(buffer, byteOffset, n);
    case 'float32': return new Float32Array(buffer, byteOffset, n);
    case 'float16': case 'bfloat16': return new Uint16Array(buffer, byteOffset, n);
    case 'int64': return new BigInt64Array(buffer, byteOffset, n);
    case 'int32': return new Int32Array(buffer, byteOffset, n);
    case 'int16': return new Int16Array(buffer, byteOffset, n);
    case 'int8': return new Int8Array(buffer, byteOffset, n);
    case 'uint8': case 'bool': return new Uint8Array(buffer, byteOffset, n);
  }
}

/** An empty, zero-filled typed array of n elements for the dtype. */
export function allocate(dtype: DType, n: number): TensorData {
  return viewAs(dtype, new Uint8Array(n * DTYPE_BYTES[dtype]));
}

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Checks that data is the typed array the dtype calls for (see TensorData). */
export function checkData(dtype: DType, data: TensorData, what = 'tensor'): void {
  const ok =
    dtype === 'float64' ? data instanceof Float64Array :
    dtype === 'float32' ? data instanceof Float32Array :
    dtype === 'float16' || dtype === 'bfloat16' ? data instanceof Uint16Array :
    dtype === 'int64' ? data instanceof BigInt64Array :
    dtype === 'int32' ? data instanceof Int32Array :
    dtype === 'int16' ? data instanceof Int16Array :
    dtype === 'int8' ? data instanceof Int8Array :
    data instanceof Uint8Array;
  if (!ok) throw new Error(`${what}: dtype ${dtype} cannot be stored in a ${data.constructor.name}`);
}

// ---- scalar conversions (on float32 bit patterns) ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bits -> float32 (exact; NaN payload and sign of zero kept). */
export function float16BitsToFloat32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) u32[0] = sign | 0x7f800000 | (m << 13);
  else if (e !== 0) u32[0] = sign | ((e + 112) << 23) | (m << 13);
  else if (m === 0) u32[0] = sign;
  else return (sign ? -1 : 1) * m * 2 ** -24; // subnormal: exact in float32
  return f32[0];
}

/** float32 (x is first rounded to float32) -> float16 bits, round-to-nearest-even; overflow -> Inf, NaN stays NaN. */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112; // rebiased exponent (127 -> 15)
  if (e >= 0x1f) return sign | 0x7c00;
  if (e > 0) {
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // a carry into the exponent is correct (up to Inf)
    return sign | h;
  }
  const shift = 14 - e; // subnormal result: m = (1.mant) * 2^(exp-126)
  if (shift > 24) return sign;
  const full = mant | 0x800000;
  let h = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1))) h++;
  return sign | h;
}

/** bfloat16 bits -> float32 (exact). */
export function bfloat16BitsToFloat32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** float32 (x is first rounded to float32) -> bfloat16 bits, round-to-nearest-even; NaN stays NaN (quieted). */
export function float32ToBfloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- array conversions ----

let f16Table: Float32Array | undefined;
function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16BitsToFloat32(h);
  }
  return f16Table;
}

export function float16ToFloat32Array(bits: Uint16Array): Float32Array {
  const t = float16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}
export function float32ToFloat16Array(x: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = float32ToFloat16Bits(x[i]);
  return out;
}
export function bfloat16ToFloat32Array(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const o32 = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) o32[i] = bits[i] << 16;
  return out;
}
export function float32ToBfloat16Array(x: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = float32ToBfloat16Bits(x[i]);
  return out;
}

/** Any dtype -> a new Float32Array (int64 goes through Number; bool -> 0/1). Never shares memory with data. */
export function toFloat32(dtype: DType, data: TensorData): Float32Array {
  checkData(dtype, data);
  if (dtype === 'float16') return float16ToFloat32Array(data as Uint16Array);
  if (dtype === 'bfloat16') return bfloat16ToFloat32Array(data as Uint16Array);
  if (dtype === 'float32') return (data as Float32Array).slice();
  const out = new Float32Array(data.length);
  if (dtype === 'int64') {
    const d = data as BigInt64Array;
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else out.set(data as Exclude<TensorData, BigInt64Array>);
  return out;
}
