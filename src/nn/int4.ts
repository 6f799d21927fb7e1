// 4-bit weight-only Linear weights in the layout of ONNX Runtime's com.microsoft MatMulNBits
// (bits 4): W [N, K] (torch.nn.Linear, [out, in]) is cut along K into blocks of `blockSize`; each
// block stores 4-bit codes q ∈ [0, 15] packed two per byte, element 2j in the low nibble and 2j+1
// in the high one, one float32 scale s and one 4-bit zero point z (packed the same way along the
// blocks of a row), and W[n, k] = (q − z)·s.
//   qweight uint8 [N, kBlocks, blockSize/2]   scales float32 [N, kBlocks]   zeros uint8 [N, ⌈kBlocks/2⌉]
// In a model folder a quantized Linear `<m>` stores `<m>.qweight`, `<m>.scales`, `<m>.zeros` in
// place of `<m>.weight` (its bias stays `<m>.bias`). Loading groups the three back into one
// StoredTensor named `<m>.weight` with the logical shape [N, K] and an `int4` field: `linear`
// emits MatMulNBits for it, and anything else that reads its `data` gets the dequantized float32
// weight. Browser-safe.
import type { Tensor } from '../graph/index.ts';
import { defineOp } from '../graph/index.ts';
import type { Tensor as IoTensor } from '../io/dtypes.ts';
import type { TensorInfo, TensorSource } from '../io/tensor-source.ts';
import type { StoredTensor } from './params.ts';

export interface Int4Blocks {
  /** Output features (rows of W). */
  N: number;
  /** Input features (columns of W). */
  K: number;
  /** Elements per block along K: a power of two ≥ 16 (MatMulNBits). */
  blockSize: number;
  /** [N, kBlocks, blockSize/2] packed codes. */
  qweight: Uint8Array;
  /** [N, kBlocks] scales. */
  scales: Float32Array;
  /** [N, ⌈kBlocks/2⌉] packed zero points. */
  zeros: Uint8Array;
}

export const INT4_PARTS = ['qweight', 'scales', 'zeros'] as const;

export function int4BlockCount(K: number, blockSize: number): number {
  return Math.ceil(K / blockSize);
}

/** The stored tensors' shapes for W [N, K]. */
export function int4Shapes(N: number, K: number, blockSize: number): { qweight: number[]; scales: number[]; zeros: number[] } {
  const kb = int4BlockCount(K, blockSize);
  return { qweight: [N, kb, blockSize / 2], scales: [N, kb], zeros: [N, Math.ceil(kb / 2)] };
}

export function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`int4 block size ${blockSize} must be a power of two ≥ 16 (MatMulNBits)`);
  }
}

/** W [N, K] as float32 from its blocks: (q − z)·s, in float32 arithmetic. */
export function dequantizeInt4(q: Int4Blocks): Float32Array {
  const { N, K, blockSize } = q;
  const kb = int4BlockCount(K, blockSize), half = blockSize / 2, zRow = Math.ceil(kb / 2);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      const zb = q.zeros[n * zRow + (b >> 1)];
      const z = b & 1 ? zb >> 4 : zb & 15;
      const s = q.scales[n * kb + b];
      const base = (n * kb + b) * half;
      const k0 = b * blockSize, k1 = Math.min(K, k0 + blockSize);
      for (let k = k0; k < k1; k++) {
        const byte = q.qweight[base + ((k - k0) >> 1)];
        const code = (k - k0) & 1 ? byte >> 4 : byte & 15;
        out[n * K + k] = Math.fround((code - z) * s);
      }
    }
  }
  return out;
}

/** A StoredTensor for W [N, K] held as int4 blocks; reading `data` dequantizes (a fallback for non-Linear uses). */
export function int4Tensor(q: Int4Blocks): StoredTensor {
  return {
    dtype: 'float32',
    shape: [q.N, q.K],
    int4: q,
    get data() { return dequantizeInt4(q); },
  };
}

/** `<m>.weight` → its stored parts `<m>.qweight`, … (null when the name is not a `.weight`). */
export function int4PartNames(weightName: string): Record<(typeof INT4_PARTS)[number], string> | null {
  if (!weightName.endsWith('.weight')) return null;
  const m = weightName.slice(0, -'.weight'.length);
  return { qweight: `${m}.qweight`, scales: `${m}.scales`, zeros: `${m}.zeros` };
}

/** Builds Int4Blocks from the three stored tensors, checking their dtypes and shapes against each other. */
export function int4FromParts(name: string, qweight: IoTensor | StoredTensor, scales: IoTensor | StoredTensor, zeros: IoTensor | StoredTensor): Int4Blocks {
  const bad = (msg: string) => new Error(`int4 weight ${name}: ${msg}`);
  if (qweight.dtype !== 'uint8' || qweight.shape.length !== 3) throw bad(`qweight must be uint8 [N, kBlocks, blockSize/2], got ${qweight.dtype} [${qweight.shape}]`);
  const [N, kb, half] = qweight.shape;
  const blockSize = 2 * half;
  checkBlockSize(blockSize);
  if (scales.dtype !== 'float32' || scales.shape.join() !== [N, kb].join()) throw bad(`scales must be float32 [${N}, ${kb}], got ${scales.dtype} [${scales.shape}]`);
  if (zeros.dtype !== 'uint8' || zeros.shape.join() !== [N, Math.ceil(kb / 2)].join()) throw bad(`zeros must be uint8 [${N}, ${Math.ceil(kb / 2)}], got ${zeros.dtype} [${zeros.shape}]`);
  // K is not stored: the blocks cover it exactly (the converter only quantizes K divisible by the block size).
  return { N, K: kb * blockSize, blockSize, qweight: qweight.data as Uint8Array, scales: scales.data as Float32Array, zeros: zeros.data as Uint8Array };
}

/** The int4 modules among tensor names: `<m>.weight` → its parts (all three must be present). */
export function findInt4Weights(names: Iterable<string>): Map<string, Record<(typeof INT4_PARTS)[number], string>> {
  const set = new Set(names);
  const out = new Map<string, Record<(typeof INT4_PARTS)[number], string>>();
  for (const n of set) {
    if (!n.endsWith('.qweight')) continue;
    const w = `${n.slice(0, -'.qweight'.length)}.weight`;
    const parts = int4PartNames(w)!;
    const missing = INT4_PARTS.filter((k) => !set.has(parts[k]));
    if (missing.length) throw new Error(`int4 weight ${w}: ${n} is present but ${missing.map((k) => parts[k]).join(', ')} is missing`);
    if (set.has(w)) throw new Error(`int4 weight ${w}: both the float weight and its int4 parts are present`);
    out.set(w, parts);
  }
  return out;
}

/**
 * A TensorSource that presents int4 parts as their logical weight: names() lists `<m>.weight`
 * instead of the three parts, info() gives float32 [N, K], read() returns an int4Tensor.
 * Sources without int4 parts pass through unchanged.
 */
export function int4Source(src: TensorSource): TensorSource {
  const groups = findInt4Weights(src.names());
  if (groups.size === 0) return src;
  const hidden = new Set<string>();
  for (const parts of groups.values()) for (const k of INT4_PARTS) hidden.add(parts[k]);
  const names = [...src.names().filter((n) => !hidden.has(n)), ...groups.keys()].sort();
  return {
    names: () => names.slice(),
    info(name): TensorInfo {
      const g = groups.get(name);
      if (!g) return src.info(name);
      const [N, kb, half] = src.info(g.qweight).shape;
      return { dtype: 'float32', shape: [N, kb * half * 2] };
    },
    async read(name) {
      const g = groups.get(name);
      if (!g) return src.read(name);
      const q = int4FromParts(name, await src.read(g.qweight), await src.read(g.scales), await src.read(g.zeros));
      return int4Tensor(q) as IoTensor;
    },
    close: () => src.close(),
  };
}

// ---- the graph op ----

/** x [..., K] · Wᵀ for W held as int4 blocks (com.microsoft MatMulNBits, accuracy level 0: float32 compute). */
export function matMulNBits(x: Tensor, qweight: Tensor, scales: Tensor, zeros: Tensor, q: { N: number; K: number; blockSize: number }): Tensor {
  return x.graph.apply1('MatMulNBits', [x, qweight, scales.cast(x.dtype), zeros], { K: q.K, N: q.N, bits: 4, block_size: q.blockSize });
}

defineOp({
  name: 'MatMulNBits',
  infer: ([a, b, s, z], attrs) => {
    const K = attrs.K as number, N = attrs.N as number, bs = attrs.block_size as number;
    const kb = int4BlockCount(K, bs);
    if (a.shape[a.rank - 1] !== K) throw new Error(`MatMulNBits: A's last dim must be K = ${K}`);
    if (b.dtype !== 'uint8' || b.shape.join() !== [N, kb, bs / 2].join()) throw new Error(`MatMulNBits: B must be uint8 [${N}, ${kb}, ${bs / 2}]`);
    if (s.dtype !== a.dtype || s.shape.join() !== [N, kb].join()) throw new Error(`MatMulNBits: scales must be ${a.dtype} [${N}, ${kb}]`);
    if (z.dtype !== 'uint8' || z.shape.join() !== [N, Math.ceil(kb / 2)].join()) throw new Error(`MatMulNBits: zero points must be uint8 [${N}, ${Math.ceil(kb / 2)}]`);
    return [{ dtype: a.dtype, shape: [...a.shape.slice(0, -1), N] }];
  },
  emit: (ctx, node) => ctx.node('MatMulNBits', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])],
    { K: node.attrs.K, N: node.attrs.N, bits: 4, block_size: node.attrs.block_size }, 'com.microsoft'),
});
