// The diffusion MLP as one ONNX graph with a symbolic row count N: inputs x [N, Cvae] (float32),
// t [1] (int64, the original timestep every row shares: the sampler's rows are all at one step, so
// the time embedding runs once and broadcasts instead of once per row) and c [N, C] (float32);
// output "out" [N, 2·Cvae]. One session serves every sampler step and every batch size.
import { Graph, emitOnnx } from '../../graph/index.ts';
import type { OnnxModel } from '../../graph/index.ts';
import type { WeightStore } from '../../nn/index.ts';
import { Params } from '../../nn/index.ts';
import type { DiffLossConfig } from './config.ts';
import { simpleMLPAdaLN } from './simple-mlp-adaln.ts';

/** SimpleMLPAdaLN.forward for inference; weights "<prefix>.net.*" (prefix "diffloss" in the official llm/). */
export function diffusionNetOnnx(store: WeightStore, cfg: DiffLossConfig, prefix = 'diffloss'): OnnxModel {
  const g = new Graph();
  const x = g.input('x', 'float32', ['N', cfg.in_channels]);
  const t = g.input('t', 'int64', [1]);
  const c = g.input('c', 'float32', ['N', cfg.z_channels]);
  const p = new Params(g, store, prefix).scope('net');
  return emitOnnx({ outputs: { out: simpleMLPAdaLN(p, cfg, x, t, c) } });
}
