// What `hart convert` writes for each part, decided from tensor names and infos alone (no data is
// read): every kept tensor's output name, dtype and shape, and which Linear weights become int4
// blocks; then the per-tensor conversion (float32 ↔ float16 with round-to-nearest-even, int4
// quantization) used while streaming. Browser-safe.
import { type DType, type Tensor, type TensorData, float32ToFloat16Array, numel, toFloat32 } from '../io/dtypes.ts';
import type { TensorInfo } from '../io/tensor-source.ts';
import { int4Shapes, type Int4Blocks } from '../nn/int4.ts';
import { quantizeInt4 } from './int4-quantize.ts';

export type StorageDType = 'float32' | 'float16';
export type Quantization = 'none' | 'int4';

export interface StorageOptions {
  /** Float tensors are stored in this dtype (bfloat16 sources stay bfloat16 under float16: exact). */
  dtype: StorageDType;
  quantize: Quantization;
  /** int4 block size along K (MatMulNBits block_size). */
  blockSize: number;
}

/** One tensor of an output file and where it comes from. */
export interface PlannedTensor {
  name: string;
  dtype: DType;
  shape: number[];
  /** The source tensor's name. */
  source: string;
  /** 'copy' (converted to `dtype`), or one part of the source weight's int4 blocks. */
  kind: 'copy' | 'qweight' | 'scales' | 'zeros';
}

export interface PartPlan {
  tensors: PlannedTensor[];
  /** Output weight names stored as int4 (`<m>.weight` → `<m>.qweight`, `.scales`, `.zeros`). */
  quantized: string[];
  /** Linear weights that matched the int4 rule but were kept in float because K is not a multiple of the block size. */
  keptFloat: string[];
}

const FLOATS: ReadonlySet<DType> = new Set(['float64', 'float32', 'float16', 'bfloat16']);

/** The stored dtype of a float tensor of dtype `src` under `target`. */
export function storedDType(src: DType, target: StorageDType): DType {
  if (!FLOATS.has(src)) return src;
  if (target === 'float32') return 'float32';
  return src === 'bfloat16' ? 'bfloat16' : 'float16';
}

/**
 * Plans one part: `entries` are (output name, source name, source info) of the tensors to keep;
 * `int4Rule` says which output names are Linear weights to quantize under `quantize: 'int4'`.
 */
export function planPart(entries: [string, string, TensorInfo][], opts: StorageOptions, int4Rule: (outName: string) => boolean = () => false): PartPlan {
  const tensors: PlannedTensor[] = [];
  const quantized: string[] = [];
  const keptFloat: string[] = [];
  for (const [name, source, info] of entries) {
    const isLinear = opts.quantize === 'int4' && FLOATS.has(info.dtype) && info.shape.length === 2 && name.endsWith('.weight') && int4Rule(name);
    if (isLinear && info.shape[1] % opts.blockSize !== 0) keptFloat.push(name);
    if (isLinear && info.shape[1] % opts.blockSize === 0) {
      const [N, K] = info.shape;
      const m = name.slice(0, -'.weight'.length);
      const s = int4Shapes(N, K, opts.blockSize);
      tensors.push({ name: `${m}.qweight`, dtype: 'uint8', shape: s.qweight, source, kind: 'qweight' });
      tensors.push({ name: `${m}.scales`, dtype: 'float32', shape: s.scales, source, kind: 'scales' });
      tensors.push({ name: `${m}.zeros`, dtype: 'uint8', shape: s.zeros, source, kind: 'zeros' });
      quantized.push(name);
    } else {
      tensors.push({ name, dtype: storedDType(info.dtype, opts.dtype), shape: info.shape.slice(), source, kind: 'copy' });
    }
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`convert: two tensors would be written as ${t.name}`);
    names.add(t.name);
  }
  return { tensors, quantized, keptFloat };
}

/** Bytes of a planned file's data region. */
export function planBytes(tensors: readonly PlannedTensor[]): number {
  const size: Record<string, number> = { uint8: 1, float16: 2, bfloat16: 2, float32: 4, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, bool: 1 };
  return tensors.reduce((s, t) => s + numel(t.shape) * size[t.dtype], 0);
}

/** Converts a source tensor to a planned `copy` output's dtype; float16 narrowing rejects values beyond its range. */
export function convertTensor(name: string, t: Tensor, to: DType): TensorData {
  if (t.dtype === to) return t.data;
  if (!FLOATS.has(t.dtype) || !FLOATS.has(to)) throw new Error(`convert: ${name} is ${t.dtype}, cannot store it as ${to}`);
  const f = toFloat32(t.dtype, t.data);
  if (to === 'float32') return f;
  if (to !== 'float16') throw new Error(`convert: ${name}: unsupported target dtype ${to}`);
  for (let i = 0; i < f.length; i++) {
    if (Math.abs(f[i]) > 65504 && Number.isFinite(f[i])) {
      throw new Error(`convert: ${name} holds ${f[i]} at index ${i}, beyond float16's range (±65504); convert with --dtype float32`);
    }
  }
  return float32ToFloat16Array(f);
}

/** Quantizes a source Linear weight [N, K]. */
export function quantizeTensor(t: Tensor, blockSize: number): Int4Blocks {
  const [N, K] = t.shape;
  return quantizeInt4(t.dtype === 'float32' ? t.data as Float32Array : toFloat32(t.dtype, t.data), N, K, blockSize);
}

// ---- which Linear weights become int4 (output names) ----

/** Transformer: the blocks' attention and FFN projections and the logits head. */
export const TRANSFORMER_INT4 = /^(blocks\.\d+\.(attn\.(qkv_proj|proj)|ffn\.(gate_proj|up_proj|down_proj))|head)\.weight$/;
/** Diffusion MLP: the residual blocks' MLP and AdaLN linears, the final AdaLN, the condition and time embeddings' wide layers. */
export const DIFFUSION_INT4 = /^diffloss\.net\.(res_blocks\.\d+\.(mlp\.[02]|adaLN_modulation\.1)|final_layer\.adaLN_modulation\.1|cond_embed|time_embed\.mlp\.2)\.weight$/;
/** Qwen2 text encoder (canonical names): every attention and MLP projection. */
export const TEXT_ENCODER_INT4 = /^layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate_proj|up_proj|down_proj))\.weight$/;
