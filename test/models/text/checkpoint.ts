// Test helper: writes canonical-name Qwen2 weights as an in-memory safetensors checkpoint with a
// given key prefix, dtype and extra (non-language-model) tensors, and returns it as a TensorSource
// together with the exact values stored (after bfloat16 rounding, if any).
import { bfloat16ToFloat32Array, float32ToBfloat16Array, type Tensor } from '../../../src/io/dtypes.ts';
import { safetensorsSource, writeSafetensors } from '../../../src/io/safetensors.ts';
import type { TensorSource } from '../../../src/io/tensor-source.ts';
import { qwen2ParamShapes, type Qwen2Config } from '../../../src/models/text/config.ts';

export interface CheckpointOptions {
  prefix?: string;
  dtype?: 'float32' | 'bfloat16';
  /** Extra tensors by full name (e.g. visual.*, lm_head.weight), float32 zeros of these shapes. */
  extra?: Record<string, number[]>;
}

export async function checkpointSource(cfg: Qwen2Config, weights: Map<string, Float32Array>, opts: CheckpointOptions = {}): Promise<{ source: TensorSource; values: Map<string, Float32Array> }> {
  const prefix = opts.prefix ?? 'model.';
  const shapes = qwen2ParamShapes(cfg);
  const tensors = new Map<string, Tensor>();
  const values = new Map<string, Float32Array>();
  for (const [k, v] of weights) {
    const want = shapes.get(k);
    const shape = want && want.reduce((a, b) => a * b, 1) === v.length ? want : [v.length]; // else: a deliberately wrong size
    if (opts.dtype === 'bfloat16') {
      const bits = float32ToBfloat16Array(v);
      tensors.set(prefix + k, { dtype: 'bfloat16', shape, data: bits });
      values.set(k, bfloat16ToFloat32Array(bits));
    } else {
      tensors.set(prefix + k, { dtype: 'float32', shape, data: v });
      values.set(k, v);
    }
  }
  for (const [name, shape] of Object.entries(opts.extra ?? {})) {
    tensors.set(name, { dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  }
  return { source: await safetensorsSource(writeSafetensors(tensors)), values };
}
