// One training step of the benchmark block as a single ONNX graph: forward, backward (our autodiff,
// seeded with an output gradient 'gy' as y.backward(gy) in torch; also the input gradient 'dx', as
// a block inside a stack needs it) and the in-graph AdamW update of src/train/adamw-graph.ts
// (torch.optim.AdamW defaults); the host loop feeds the updated parameters and moments back in.
import type { OnnxModel } from '../src/graph/index.ts';
import { emitOnnx, grad } from '../src/graph/index.ts';
import type { StoredTensor } from '../src/nn/index.ts';
import type { CompiledModel, Runtime } from '../src/runtime/runtime.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { AdamW, adamwGraph, type AdamWGraph } from '../src/train/index.ts';
import type { BlockConfig, Lowering } from './llama-block.ts';
import { buildBlock } from './llama-block.ts';

export function trainStepModel(cfg: BlockConfig, weights: Map<string, StoredTensor>, lowering: Lowering): { model: OnnxModel; spec: AdamWGraph } {
  const { graph, x, y, params } = buildBlock(cfg, weights, lowering);
  const gy = graph.input('gy', 'float32', [...y.shape]);
  const [dx, ...grads] = grad(y, [x, ...params], gy);
  const spec = adamwGraph(params, grads);
  return { model: emitOnnx({ outputs: { dx, ...spec.outputs }, paramsAsInputs: true }), spec };
}

/** A compiled training step and its state (parameters, moments, step count). */
export class TrainLoop {
  private state: Record<string, HostTensor> = {};
  private t = 0;
  private readonly opt = new AdamW([]); // only its per-step scalars

  private constructor(readonly session: CompiledModel, readonly model: OnnxModel, readonly spec: AdamWGraph) {}

  static async create(rt: Runtime, cfg: BlockConfig, weights: Map<string, StoredTensor>, lowering: Lowering): Promise<TrainLoop> {
    const { model, spec } = trainStepModel(cfg, weights, lowering);
    const loop = new TrainLoop(await rt.load(model), model, spec);
    for (const s of spec.slots) {
      const w = weights.get(s.param)!;
      const f32 = (data: Float32Array): HostTensor => ({ dtype: 'float32', shape: w.shape, data });
      loop.state[s.param] = f32(Float32Array.from(w.data as Float32Array));
      loop.state[s.m] = f32(new Float32Array(w.data.length));
      loop.state[s.v] = f32(new Float32Array(w.data.length));
    }
    return loop;
  }

  /** One step on (x, gy); returns dx. */
  async step(x: HostTensor, gy: HostTensor): Promise<HostTensor> {
    this.t++;
    const sc = this.opt.scalars(this.t), names = this.spec.scalarInputs;
    const scalar = (v: number): HostTensor => ({ dtype: 'float32', shape: [], data: new Float32Array([v]) });
    const out = await this.session.run({
      x, gy, ...this.state,
      [names.decayFactor]: scalar(sc.decayFactor), [names.stepSize]: scalar(sc.stepSize), [names.bc2Sqrt]: scalar(sc.bc2Sqrt),
    });
    for (const s of this.spec.slots) {
      this.state[s.param] = out[s.nextParam];
      this.state[s.m] = out[s.nextM];
      this.state[s.v] = out[s.nextV];
    }
    return out.dx;
  }

  param(name: string): HostTensor { return this.state[name]; }
}
