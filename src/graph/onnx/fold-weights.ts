// Work on weights done once at emission instead of by ONNX Runtime at every session creation
// (emitOnnx's foldWeights, inference graphs only):
//   - Cast of a float16/bfloat16 weight to float32 becomes a float32 initializer (exact);
//   - MatMul(x, Transpose(W)) with a 2-D float32 weight W [out, in] (torch.nn.Linear's layout),
//     which ONNX Runtime would otherwise fold into a transposed copy at every session creation
//     (seconds per GB), can become com.microsoft.FusedMatMul(x, W, transB = 1), the weight used as
//     stored ('fused': for sessions without weight prepacking, which then map the weights file as
//     it is). Not for prepacked sessions: measured on the 0.7B at 256 px, FusedMatMul there made a
//     generation 1.3× slower than the optimizer's own transposes, and so did weights transposed
//     here once (an earlier 'transposed' form, removed).
import type { DType, TypedArray } from '../dtype.ts';
import type { Node, Tensor } from '../tensor.ts';
import { bfloat16ToFloat32Array, float16ToFloat32Array } from '../../io/dtypes.ts';

/** A weight computed on the host at emission. */
export interface FoldedWeight { name: string; dtype: DType; dims: number[]; data: TypedArray }

/** The float32 value of Cast(w) for a float16/bfloat16 weight w, or null when the cast is not foldable. */
export function foldCast(node: Node, value: (t: Tensor) => { name: string; dtype: DType; data: TypedArray } | null): FoldedWeight | null {
  const [x] = node.inputs;
  const out = node.outputs[0];
  if (out.dtype !== 'float32') return null;
  const w = value(x);
  if (!w || (w.dtype !== 'float16' && w.dtype !== 'bfloat16')) return null;
  const bits = w.data as Uint16Array;
  const data = w.dtype === 'float16' ? float16ToFloat32Array(bits) : bfloat16ToFloat32Array(bits);
  return { name: `${w.name}:float32`, dtype: 'float32', dims: out.shape as number[], data };
}

/**
 * Whether Transpose node `t` turns a 2-D float32 weight into the right operand of float32 MatMuls
 * only, so that each of them can take the weight as stored with transB (and the transpose is never emitted).
 */
export function transposeFeedsOnlyMatMuls(t: Node, isWeight: (x: Tensor) => boolean, consumers: readonly Node[], isOutput: boolean): boolean {
  const [x] = t.inputs;
  const perm = t.attrs.perm as number[];
  if (isOutput || x.rank !== 2 || x.dtype !== 'float32' || perm[0] !== 1 || perm[1] !== 0 || !isWeight(x)) return false;
  const y = t.outputs[0];
  return consumers.length > 0 && consumers.every((c) => c.op === 'MatMul' && c.inputs[1] === y && c.inputs[0] !== y);
}
