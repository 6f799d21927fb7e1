// One training step of the benchmark block as a single ONNX graph: forward, backward (our autodiff,
// seeded with an output gradient 'gy' as y.backward(gy) in torch; also the input gradient 'dx', as
// a block inside a stack needs it) and the in-graph AdamW update; the host loop feeds the updated
// parameters and moments back in.
import type { OnnxModel } from '../src/graph/index.ts';
import { emitOnnx, grad } from '../src/graph/index.ts';
import type { StoredTensor } from '../src/nn/index.ts';
import type { CompiledModel, Runtime } from '../src/runtime/runtime.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { adamwScalars, adamwUpdate } from './adamw-graph.ts';
import type { BlockConfig, Lowering } from './llama-block.ts';
import { buildBlock } from './llama-block.ts';

export function trainStepModel(cfg: BlockConfig, weights: Map<string, StoredTensor>, lowering: Lowering): OnnxModel {
  const { graph, x, y, params } = buildBlock(cfg, weights, lowering);
  const gy = graph.input('gy', 'float32', [...y.shape]);
  const [dx, ...grads] = grad(y, [x, ...params], gy);
  return emitOnnx({ outputs: { dx, ...adamwUpdate(params, grads) }, paramsAsInputs: true });
}

/** A compiled training step and its state (parameters, moments, step count). */
export class TrainLoop {
  private state: Record<string, HostTensor> = {};
  private t = 0;

  private constructor(readonly session: CompiledModel, readonly model: OnnxModel) {}

  static async create(rt: Runtime, cfg: BlockConfig, weights: Map<string, StoredTensor>, lowering: Lowering): Promise<TrainLoop> {
    const model = trainStepModel(cfg, weights, lowering);
    const loop = new TrainLoop(await rt.load(model), model);
    for (const name of model.paramNames) {
      const w = weights.get(name)!;
      loop.state[name] = { dtype: 'float32', shape: w.shape, data: Float32Array.from(w.data as Float32Array) };
      loop.state[`m.${name}`] = { dtype: 'float32', shape: w.shape, data: new Float32Array(w.data.length) };
      loop.state[`v.${name}`] = { dtype: 'float32', shape: w.shape, data: new Float32Array(w.data.length) };
    }
    return loop;
  }

  /** One step on (x, gy); returns dx. */
  async step(x: HostTensor, gy: HostTensor): Promise<HostTensor> {
    this.t++;
    const out = await this.session.run({ x, gy, ...adamwScalars(this.t), ...this.state });
    for (const name of this.model.paramNames) {
      this.state[name] = out[`new.${name}`];
      this.state[`m.${name}`] = out[`new_m.${name}`];
      this.state[`v.${name}`] = out[`new_v.${name}`];
    }
    return out.dx;
  }

  param(name: string): HostTensor { return this.state[name]; }
}
