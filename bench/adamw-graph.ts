// AdamW recorded in the graph (for the training benchmark), so one ONNX Runtime call does forward,
// backward and the update: torch.optim.AdamW's step, with the step-dependent scalars fed in.
//   m' = β1·m + (1−β1)·g          v' = β2·v + (1−β2)·g²
//   p' = p·(1 − lr·wd) − (lr/bc1) · m' / (√(v'/bc2) + ε),   bc_i = 1 − β_iᵗ
// Inputs 'adamw.step_size' = lr/bc1, 'adamw.decay' = 1 − lr·wd, 'adamw.inv_bc2' = 1/bc2 (float32
// scalars, adamwScalars computes them) and per parameter 'm.<name>', 'v.<name>'; outputs
// 'new.<name>', 'new_m.<name>', 'new_v.<name>'.
import type { Tensor } from '../src/graph/index.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';

export interface AdamWConfig { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }

export const ADAMW_DEFAULTS: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 };

/** The update of every parameter, as graph outputs keyed by their ONNX names. */
export function adamwUpdate(params: Tensor[], grads: Tensor[], cfg: AdamWConfig = ADAMW_DEFAULTS): Record<string, Tensor> {
  const graph = params[0].graph;
  const stepSize = graph.input('adamw.step_size', 'float32', []);
  const decay = graph.input('adamw.decay', 'float32', []);
  const invBc2 = graph.input('adamw.inv_bc2', 'float32', []);
  const out: Record<string, Tensor> = {};
  params.forEach((p, i) => {
    const g = grads[i];
    const m = graph.input(`m.${p.name}`, 'float32', p.shape);
    const v = graph.input(`v.${p.name}`, 'float32', p.shape);
    const m1 = m.mul(cfg.beta1).add(g.mul(1 - cfg.beta1));
    const v1 = v.mul(cfg.beta2).add(g.mul(g).mul(1 - cfg.beta2));
    const denom = v1.mul(invBc2).sqrt().add(cfg.eps);
    out[`new.${p.name}`] = p.mul(decay).sub(m1.div(denom).mul(stepSize));
    out[`new_m.${p.name}`] = m1;
    out[`new_v.${p.name}`] = v1;
  });
  return out;
}

/** The scalar feeds of step t (1-based). */
export function adamwScalars(t: number, cfg: AdamWConfig = ADAMW_DEFAULTS): Record<string, HostTensor> {
  const s = (v: number): HostTensor => ({ dtype: 'float32', shape: [], data: new Float32Array([v]) });
  return {
    'adamw.step_size': s(cfg.lr / (1 - cfg.beta1 ** t)),
    'adamw.decay': s(1 - cfg.lr * cfg.weightDecay),
    'adamw.inv_bc2': s(1 / (1 - cfg.beta2 ** t)),
  };
}
