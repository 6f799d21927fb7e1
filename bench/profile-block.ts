// Per-operator kernel times of the bench Llama block's forward (ONNX Runtime profiling), to see
// where block_fwd_ratio loses against the MatMul peak. Usage: npx tsx bench/profile-block.ts [standard|fused] [runs]
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitOnnx } from '../src/graph/index.ts';
import { benchConfig, blockFlops, blockWeights, buildBlock } from './llama-block.ts';

const lowering = (process.argv[2] ?? 'standard') as 'standard' | 'fused';
const runs = Number(process.argv[3] ?? 20);
const cfg = benchConfig();
const b = buildBlock(cfg, blockWeights(cfg), lowering);
const dir = mkdtempSync(join(tmpdir(), 'hart-profile-'));
const s = await ort.InferenceSession.create(emitOnnx({ outputs: { y: b.y } }).bytes, {
  intraOpNumThreads: 2, graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: join(dir, 'prof'),
});
const x = new ort.Tensor('float32', Float32Array.from({ length: cfg.B * cfg.L * cfg.C }, (_, i) => Math.sin(i)), [cfg.B, cfg.L, cfg.C]);
await s.run({ x });
const t0 = performance.now();
for (let i = 0; i < runs; i++) await s.run({ x });
const wall = (performance.now() - t0) / runs;
s.endProfiling();
const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8')) as { cat: string; name: string; dur: number; args: { op_name: string } }[];
rmSync(dir, { recursive: true, force: true });
const byOp = new Map<string, number>();
let kernels = 0;
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
  kernels += e.dur;
}
const perRun = (us: number) => us / (runs + 1) / 1000;
for (const [op, us] of [...byOp].sort((a, c) => c[1] - a[1])) console.log(`${op.padEnd(28)} ${perRun(us).toFixed(2)} ms  ${(100 * us / kernels).toFixed(1)}%`);
const gflop = blockFlops(cfg) / 1e9;
console.log(`kernels ${perRun(kernels).toFixed(2)} ms/run (${(gflop / perRun(kernels) * 1000).toFixed(1)} GFLOP/s); wall ${wall.toFixed(2)} ms/run (${(gflop / wall * 1000).toFixed(1)} GFLOP/s)`);
