// Matrix-product precision of the transformer blocks' Linear layers (qkv, proj, SwiGLU gate/up/down;
// ~99% of a step's weight FLOPs), for CPUs with int8 dot products (AVX-512 VNNI, AVX-VNNI, ARM
// dot-product): the float32 weights are quantized when the graph is built and run by ONNX
// Runtime's com.microsoft kernels.
//   float32  x·Wᵀ (MatMul on pre-packed float32 weights; the reference)
//   int8     MatMulNBits bits 8: W blockwise along K (block 128) as (q − z)·s, q, z ∈ [0, 255];
//            accuracy_level 4: activations quantized to int8 per block on the fly, int8 dot products
//   int4     the same with 4-bit codes (block 32): half the weight bytes again, coarser
//   dynq8    DynamicQuantizeMatMul: activations u8 per tensor, weights s8 per output column; on
//            x86 CPUs without int8 dot products (no AVX-512 VNNI / AVX-VNNI) ONNX Runtime's u8·s8
//            kernel adds pairs of products in int16 (vpmaddubsw), which saturates above 32767, so
//            there the weights get 7-bit codes (|q| ≤ 63: 2·255·63 < 32767; ORT's reduce_range):
//            relative RMS 0.015 against 0.041 with 8-bit codes on such a CPU (precision.test.ts)
// The logits head, the AdaLN linears, embeddings and attention itself stay float32. bf16 is not an
// option: ONNX Runtime's CPU provider has no bf16 matrix product on x86 (its fast-math bf16 GEMM is
// ARM-only). Which mode keeps the image within a stated bound of float32 is measured by
// `hart bench generate --precision` on trained weights; float32 is the default.
import type { Tensor } from '../../graph/index.ts';
import { defineOp } from '../../graph/index.ts';
import { linear, type Params } from '../../nn/index.ts';
import { bfloat16ToFloat32Array, float16ToFloat32Array } from '../../io/dtypes.ts';

export type MatmulPrecision = 'float32' | 'int8' | 'int4' | 'dynq8';
export const MATMUL_PRECISIONS: readonly MatmulPrecision[] = ['float32', 'int8', 'int4', 'dynq8'];

/** Blockwise asymmetric quantization of W [N, K] in MatMulNBits' layout (bits 4 or 8). */
export function quantizeNBits(W: ArrayLike<number>, N: number, K: number, bits: 4 | 8, blockSize: number): {
  qweight: Uint8Array; scales: Float32Array; zeros: Uint8Array; kBlocks: number;
} {
  if (K % blockSize !== 0) throw new Error(`quantizeNBits: K ${K} is not a multiple of the block size ${blockSize}`);
  const kb = K / blockSize, per = (blockSize * bits) / 8, max = 2 ** bits - 1;
  const zRow = bits === 8 ? kb : Math.ceil(kb / 2);
  const qweight = new Uint8Array(N * kb * per), scales = new Float32Array(N * kb), zeros = new Uint8Array(N * zRow);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      const k0 = n * K + b * blockSize;
      let lo = 0, hi = 0; // the range includes 0, so zero is exact
      for (let k = 0; k < blockSize; k++) { const v = W[k0 + k]; if (v < lo) lo = v; if (v > hi) hi = v; }
      const s = Math.fround((hi - lo) / max) || 1;
      const z = Math.min(max, Math.max(0, Math.round(-lo / s)));
      scales[n * kb + b] = s;
      if (bits === 8) zeros[n * zRow + b] = z;
      else zeros[n * zRow + (b >> 1)] |= z << (4 * (b & 1));
      const q0 = (n * kb + b) * per;
      for (let k = 0; k < blockSize; k++) {
        const q = Math.min(max, Math.max(0, Math.round(W[k0 + k] / s) + z));
        if (bits === 8) qweight[q0 + k] = q;
        else qweight[q0 + (k >> 1)] |= q << (4 * (k & 1));
      }
    }
  }
  return { qweight, scales, zeros, kBlocks: kb };
}

/**
 * Symmetric per-output-column int8 of W [N, K], as B [K, N] with scales [N] (DynamicQuantizeMatMul);
 * codes in [−maxCode, maxCode] (127, or 63 for 7-bit codes: see DYNQ8_REDUCED_MAX_CODE).
 */
export function quantizeColumnsInt8(W: ArrayLike<number>, N: number, K: number, maxCode = 127): { B: Int8Array; scales: Float32Array } {
  if (!(Number.isInteger(maxCode) && maxCode >= 1 && maxCode <= 127)) throw new Error(`quantizeColumnsInt8: maxCode must be an integer in 1…127, got ${maxCode}`);
  const B = new Int8Array(K * N), scales = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(W[n * K + k]));
    const s = Math.fround(m / maxCode) || 1;
    scales[n] = s;
    for (let k = 0; k < K; k++) B[k * N + n] = Math.max(-maxCode, Math.min(maxCode, Math.round(W[n * K + k] / s)));
  }
  return { B, scales };
}

/** dynq8's largest weight code where the u8·s8 kernel saturates (RuntimeOptions.u8s8Saturates): 7-bit codes. */
export const DYNQ8_REDUCED_MAX_CODE = 63;

const NBITS: Record<'int8' | 'int4', { bits: 4 | 8; block: number }> = { int8: { bits: 8, block: 128 }, int4: { bits: 4, block: 32 } };

/**
 * y = x·Wᵀ (+ b) for the Linear scoped at p, at the given precision (float32: nn.linear itself);
 * dynq8MaxCode: dynq8's largest weight code (127, or DYNQ8_REDUCED_MAX_CODE where the kernel saturates).
 */
export function precisionLinear(p: Params, x: Tensor, outFeatures: number, bias: boolean, precision: MatmulPrecision = 'float32', dynq8MaxCode = 127): Tensor {
  const K = x.shape[x.rank - 1];
  if (typeof K !== 'number') throw new Error(`${x}: the feature (last) dim must be static`);
  if (precision === 'float32') return linear(p, x, outFeatures, bias);
  const stored = p.store.get(p.full('weight'), [outFeatures, K]);
  // already-quantized folders (int4 MatMulNBits) keep nn.linear's path; half-precision weights are widened first
  if (!stored || stored.int4 || stored.data.length !== outFeatures * K) return linear(p, x, outFeatures, bias);
  const W = stored.dtype === 'float32' ? stored.data as Float32Array
    : stored.dtype === 'float16' ? float16ToFloat32Array(stored.data as Uint16Array)
    : stored.dtype === 'bfloat16' ? bfloat16ToFloat32Array(stored.data as Uint16Array) : undefined;
  if (!W) return linear(p, x, outFeatures, bias);
  const g = p.graph, name = p.full('weight');
  let y: Tensor;
  if (precision === 'dynq8') {
    const q = quantizeColumnsInt8(W, outFeatures, K, dynq8MaxCode);
    y = g.apply1('HartDynamicQuantizeMatMul', [x, g.param(`${name}.q8`, [K, outFeatures], q.B, 'int8'), g.param(`${name}.q8_scale`, [outFeatures], q.scales)], {});
  } else {
    const { bits } = NBITS[precision];
    // the preferred block, or the largest power of two ≥ 16 dividing K (MatMulNBits' blocks tile K)
    let block = NBITS[precision].block;
    while (block > 16 && K % block !== 0) block /= 2;
    if (K % block !== 0) return linear(p, x, outFeatures, bias);
    const q = quantizeNBits(W, outFeatures, K, bits, block);
    const zShape = bits === 8 ? [outFeatures, q.kBlocks] : [outFeatures, Math.ceil(q.kBlocks / 2)];
    y = g.apply1('HartMatMulNBits', [
      x, g.param(`${name}.q${bits}`, [outFeatures, q.kBlocks, (block * bits) / 8], q.qweight, 'uint8'),
      g.param(`${name}.q${bits}_scale`, [outFeatures, q.kBlocks], q.scales), g.param(`${name}.q${bits}_zero`, zShape, q.zeros, 'uint8'),
    ], { K, N: outFeatures, bits, block_size: block, accuracy_level: 4 });
  }
  return bias ? y.add(p.get('bias', [outFeatures])) : y;
}

/** The Llama SwiGLU down(silu(gate(x))·up(x)) at the given precision (nn.swiglu's weights and names). */
export function precisionSwiglu(p: Params, x: Tensor, hidden: number, precision: MatmulPrecision, dynq8MaxCode = 127): Tensor {
  const c = x.shape[x.rank - 1] as number;
  const gate = precisionLinear(p.scope('gate_proj'), x, hidden, false, precision, dynq8MaxCode);
  const up = precisionLinear(p.scope('up_proj'), x, hidden, false, precision, dynq8MaxCode);
  return precisionLinear(p.scope('down_proj'), gate.silu().mul(up), c, false, precision, dynq8MaxCode);
}

defineOp({
  name: 'HartMatMulNBits',
  infer: ([a], attrs) => {
    if (a.shape[a.rank - 1] !== attrs.K) throw new Error(`HartMatMulNBits: A's last dim must be K = ${attrs.K}`);
    return [{ dtype: a.dtype, shape: [...a.shape.slice(0, -1), attrs.N as number] }];
  },
  emit: (ctx, node) => ctx.node('MatMulNBits', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])], {
    K: node.attrs.K, N: node.attrs.N, bits: node.attrs.bits, block_size: node.attrs.block_size, accuracy_level: node.attrs.accuracy_level,
  }, 'com.microsoft'),
});

defineOp({
  name: 'HartDynamicQuantizeMatMul',
  infer: ([a, b]) => [{ dtype: a.dtype, shape: [...a.shape.slice(0, -1), b.shape[1]] }],
  emit: (ctx, node) => ctx.node('DynamicQuantizeMatMul', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])], {}, 'com.microsoft'),
});
