// The reference speed of the machine for the benchmarks: ONNX Runtime's float32 MatMul of two
// 1024×1024 graph inputs (the same graph `hart bench engine` times), in GFLOP/s = 2·1024³ / seconds.
// Also a secondary reference, a weight GEMM as the models run them: [2048, 1536] × a constant
// [1536, 4096] (ONNX Runtime pre-packs constant weights, which the two-input MatMul cannot), which
// runs markedly faster on AVX-512 machines, so model stages can exceed the 1024³ "peak".
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

  /** The weight-GEMM reference: median GFLOP/s of `runs` products [2048, 1536] × const [1536, 4096]. */
  static async weightGemm(rt: Runtime, runs = 5): Promise<number> {
    const M = 2048, K = 1536, Nn = 4096;
    const g = new Graph();
    const x = g.input('x', 'float32', [M, K]);
    const w = randomMatrix(3).data as Float32Array; // 2^20 values, tiled
    const wData = new Float32Array(K * Nn);
    for (let i = 0; i < wData.length; i += w.length) wData.set(w.subarray(0, Math.min(w.length, wData.length - i)), i);
    const model = await rt.loadUncached(emitOnnx({ outputs: { y: x.matmul(g.param('w', [K, Nn], wData)) } }));
    const feeds = { x: { dtype: 'float32' as const, shape: [M, K], data: wData.subarray(0, M * K) } };
    await model.run(feeds);
    const s: number[] = [];
    for (let i = 0; i < runs; i++) s.push(await timeIt(() => model.run(feeds)));
    await model.release();
    return (2 * M * K * Nn) / median(s) / 1e9;
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
