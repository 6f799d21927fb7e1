// The reference speed of the machine for the benchmarks: ONNX Runtime's float32 MatMul of two
// 1024×1024 graph inputs (the same graph `hart bench engine` times), in GFLOP/s = 2·1024³ / seconds.
import { Graph, emitOnnx } from '../src/graph/index.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import type { CompiledModel, Runtime } from '../src/runtime/runtime.ts';
import { median, timeIt } from './timing.ts';

const N = 1024;

function randomMatrix(seed: number): HostTensor {
  const data = new Float32Array(N * N);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; data[i] = s / 2147483648 - 1; }
  return { dtype: 'float32', shape: [N, N], data };
}

export class MatmulPeak {
  /** Every timed run, in seconds. */
  readonly seconds: number[] = [];
  private constructor(private model: CompiledModel, private feeds: Record<string, HostTensor>) {}

  static async create(rt: Runtime): Promise<MatmulPeak> {
    const g = new Graph();
    const a = g.input('a', 'float32', [N, N]), b = g.input('b', 'float32', [N, N]);
    const model = await rt.load(emitOnnx({ outputs: { c: a.matmul(b) } }));
    const p = new MatmulPeak(model, { a: randomMatrix(1), b: randomMatrix(2) });
    await model.run(p.feeds); // warm-up
    return p;
  }

  /** Times `runs` more MatMuls; returns their median GFLOP/s. */
  async measure(runs = 5): Promise<number> {
    const s: number[] = [];
    for (let i = 0; i < runs; i++) s.push(await timeIt(() => this.model.run(this.feeds)));
    this.seconds.push(...s);
    return gflops(median(s));
  }

  /** Median over every run so far. */
  get gflops(): number { return gflops(median(this.seconds)); }
}

function gflops(seconds: number): number {
  return (2 * N ** 3) / seconds / 1e9;
}
