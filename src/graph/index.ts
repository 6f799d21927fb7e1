// The graph engine's public surface: symbolic tensors, ops (registered on import), autodiff, ONNX emission.
import './ops/elementwise.ts';
import './ops/matmul.ts';
import './ops/reduce.ts';
import './ops/sort.ts';
import './ops/shape.ts';
import './ops/conv.ts';
import './ops/image.ts';
import './methods.ts';

export { Graph, Tensor, Node, ShapeError, defineOp, staticShape } from './tensor.ts';
export type { OpDef, EmitContext, Attrs } from './tensor.ts';
export type { Dim, Shape } from './dims.ts';
export type { DType, TypedArray } from './dtype.ts';
export { allocTyped, DTYPE_BYTES, isFloat } from './dtype.ts';
export { concat } from './methods.ts';
export { grad } from './autodiff.ts';
export { emitOnnx } from './onnx/emit.ts';
export { groupNormalizeParts } from './ops/image.ts';
export type { EmitOptions, OnnxModel } from './onnx/emit.ts';
