// `hart bench engine`: how close the engine runs a transformer block to the machine's matmul
// speed, and how it compares with PyTorch on the same CPU. Node-only (bench/ is not src/).
//   matmul_gflops          ONNX Runtime float32 MatMul 1024×1024×1024 (matmul-peak.ts: one MatMul of two graph inputs)
//   block_fwd_ratio        block forward GFLOP/s (bench/llama-block.ts counts the matmul FLOPs) ÷ matmul_gflops
//   block_train_ratio      forward + backward + AdamW step GFLOP/s (3× forward FLOPs) ÷ matmul_gflops
//   torch_*_time_ratio     our seconds ÷ PyTorch's (bench/torch_block.py), null without a torch peer
// Everything is measured in rounds that interleave all the contenders, so a load change on the
// shared machine hits them alike. The headline numbers are medians over all runs; 'paired' (ratios
// within each round, median over rounds) shows how much load drift moved them, and 'fused' is the
// block in its ORT-contrib-op lowering (llama-block.ts).
import { emitOnnx } from '../src/graph/index.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { benchConfig, blockFlops, blockWeights, buildBlock, type Lowering } from './llama-block.ts';
import { MatmulPeak } from './matmul-peak.ts';
import { median, spread, timeIt } from './timing.ts';
import { TorchPeer } from './torch-peer.ts';
import { TrainLoop } from './train-step.ts';

export interface BenchEngineOptions {
  json?: boolean;
  /** Intra-op threads, for ONNX Runtime and PyTorch alike. */
  threads: string;
  /** Interleaved measuring rounds (default 7). */
  rounds?: string;
}

function randomTensor(shape: number[], seed: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; data[i] = s / 2147483648 - 1; }
  return { dtype: 'float32', shape, data };
}

/** Prints the measurements (with --json, one JSON object as the last line). */
export async function benchEngine(opts: BenchEngineOptions): Promise<void> {
  await measureEngine(opts);
}

/** Measures, prints, and returns the JSON object. */
export async function measureEngine(opts: BenchEngineOptions): Promise<Record<string, unknown>> {
  const threads = Number(opts.threads);
  const rounds = Number(opts.rounds ?? 7);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${opts.threads}`);
  const say = (s: string) => console.log(s);
  const cfg = benchConfig();
  const fwdFlops = blockFlops(cfg);
  say(`threads ${threads}; block B=${cfg.B} L=${cfg.L} C=${cfg.C} heads=${cfg.heads} (head dim ${cfg.C / cfg.heads}), `
    + `FFN hidden ${cfg.hidden} (HART's int(C·8/3 + 255)//256·256); no biases, full attention, 1-D RoPE`);
  say(`matmul FLOPs: forward ${(fwdFlops / 1e9).toFixed(2)} GFLOP = 2·T·(4C² + 3C·F) + 4·B·L²·C (T = B·L); training 3× forward`);

  const rt = nodeRuntime({ threads });
  const N = 1024;
  const peak = await MatmulPeak.create(rt); // the 1024³ MatMul of two inputs (warmed up)

  const weights = blockWeights(cfg);
  // Both lowerings of the block (llama-block.ts): the headline numbers are the standard one's (the
  // src/nn building blocks the models use); the fused one's are reported beside them.
  const lowerings: Lowering[] = ['standard', 'fused'];
  const fwd = await Promise.all(lowerings.map(async (l) => rt.load(emitOnnx({ outputs: { y: buildBlock(cfg, weights, l).y } }))));
  const train = await Promise.all(lowerings.map((l) => TrainLoop.create(rt, cfg, weights, l)));
  const x = randomTensor([cfg.B, cfg.L, cfg.C], 3), gy = randomTensor([cfg.B, cfg.L, cfg.C], 4);

  let torchWhy = '';
  const torch = await TorchPeer.start(cfg, threads, (w) => { torchWhy = w; });
  say(torch ? `PyTorch peer: torch ${torch.version}, eager, ${threads} threads, OpenBLAS kernels ${torch.openblasCore ?? 'unknown'}`
    + (process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE} in this environment is not passed on)` : '')
    : `PyTorch peer: none (${torchWhy})`);

  // Samples in seconds, one array per round: [round][sample] (and [lowering][round][sample]).
  const t = { mm: [] as number[][], fwd: lowerings.map(() => [] as number[][]), train: lowerings.map(() => [] as number[][]),
    tmm: [] as number[][], tfwd: [] as number[][], ttrain: [] as number[][] };
  const runs = async (n: number, fn: () => Promise<unknown>) => { const v = []; for (let i = 0; i < n; i++) v.push(await timeIt(fn)); return v; };
  // Warm-up: one of everything (first runs allocate and pre-pack).
  for (const f of fwd) await f.run({ x });
  for (const tr of train) await tr.step(x, gy);
  if (torch) { await torch.time('matmul', 1); await torch.time('fwd', 1); await torch.time('train', 1); }
  for (let r = 0; r < rounds; r++) {
    const seen = peak.seconds.length;
    // each contender runs several times back to back (steady state: its weights warm in cache
    // after the previous contender evicted them); medians over all runs and rounds
    await peak.measure(5);
    t.mm.push(peak.seconds.slice(seen));
    for (const [k, f] of fwd.entries()) t.fwd[k].push(await runs(5, () => f.run({ x })));
    if (torch) t.tfwd.push(await torch.time('fwd', 5));
    for (const [k, tr] of train.entries()) t.train[k].push(await runs(1, () => tr.step(x, gy)));
    if (torch) {
      t.ttrain.push(await torch.time('train', 1));
      t.tmm.push(await torch.time('matmul', 5));
    }
  }
  await torch?.close();
  await rt.dispose();

  const all = (v: number[][]) => v.flat();
  const gf = (flops: number, s: number) => flops / s / 1e9;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const sec = (v: number) => Math.round(v * 1e5) / 1e5;
  const mmFlops = 2 * N ** 3;
  // The headline: medians over all runs (ratio = FLOPs / median seconds / matmul_gflops).
  const ratios = (pick: (v: number[][]) => number, k: number) => ({
    block_fwd_ratio: r3(gf(fwdFlops, pick(t.fwd[k])) / gf(mmFlops, pick(t.mm))),
    block_train_ratio: r3(gf(3 * fwdFlops, pick(t.train[k])) / gf(mmFlops, pick(t.mm))),
    torch_fwd_time_ratio: torch ? r3(pick(t.fwd[k]) / pick(t.tfwd)) : null,
    torch_train_time_ratio: torch ? r3(pick(t.train[k]) / pick(t.ttrain)) : null,
  });
  const med = (v: number[][]) => median(all(v));
  // Paired: each ratio computed within a round (contenders measured seconds apart), then the median
  // over rounds; less sensitive to load that drifts over the run.
  const paired = (k: number) => {
    const per = (f: (r: number) => number) => r3(median([...Array(rounds).keys()].map(f)));
    const m = (v: number[][], r: number) => median(v[r]);
    return {
      block_fwd_ratio: per((r) => gf(fwdFlops, m(t.fwd[k], r)) / gf(mmFlops, m(t.mm, r))),
      block_train_ratio: per((r) => gf(3 * fwdFlops, m(t.train[k], r)) / gf(mmFlops, m(t.mm, r))),
      torch_fwd_time_ratio: torch ? per((r) => m(t.fwd[k], r) / m(t.tfwd, r)) : null,
      torch_train_time_ratio: torch ? per((r) => m(t.train[k], r) / m(t.ttrain, r)) : null,
    };
  };

  const mmGf = gf(mmFlops, med(t.mm));
  say(`ORT MatMul ${N}³: ${spread(all(t.mm))} → ${mmGf.toFixed(1)} GFLOP/s`);
  lowerings.forEach((l, k) => {
    const fs = med(t.fwd[k]), ts = med(t.train[k]);
    say(`block forward (${l}): ${spread(all(t.fwd[k]))} → ${gf(fwdFlops, fs).toFixed(1)} GFLOP/s, ratio ${(gf(fwdFlops, fs) / mmGf).toFixed(3)}`);
    say(`block train step (${l}): ${spread(all(t.train[k]))} → ${gf(3 * fwdFlops, ts).toFixed(1)} GFLOP/s, ratio ${(gf(3 * fwdFlops, ts) / mmGf).toFixed(3)}`);
  });
  if (torch) {
    say(`torch MatMul ${N}³: ${spread(all(t.tmm))} → ${gf(mmFlops, med(t.tmm)).toFixed(1)} GFLOP/s`);
    say(`torch block forward: ${spread(all(t.tfwd))}`);
    say(`torch block train step: ${spread(all(t.ttrain))}`);
  }
  say(`the same ratios paired within rounds: ${JSON.stringify(paired(0))}`);
  say('targets: block_fwd_ratio ≥ 0.9, block_train_ratio ≥ 0.6, torch_fwd_time_ratio ≤ 0.5, torch_train_time_ratio ≤ 0.8');
  const result: Record<string, unknown> = {
    matmul_gflops: Math.round(mmGf * 10) / 10,
    ...ratios(med, 0),
    fused: ratios(med, 1),
    paired: paired(0),
    threads,
    shapes: { B: cfg.B, L: cfg.L, C: cfg.C, heads: cfg.heads, hidden: cfg.hidden },
    fwd_gflop: r3(fwdFlops / 1e9),
    seconds: {
      matmul: sec(med(t.mm)), fwd: sec(med(t.fwd[0])), train: sec(med(t.train[0])),
      fwd_fused: sec(med(t.fwd[1])), train_fused: sec(med(t.train[1])),
      torch_fwd: torch ? sec(med(t.tfwd)) : null, torch_train: torch ? sec(med(t.ttrain)) : null,
      torch_matmul: torch ? sec(med(t.tmm)) : null,
    },
    torch: torch ? { version: torch.version, openblas_core: torch.openblasCore } : null,
    rounds,
  };
  if (opts.json) console.log(JSON.stringify(result));
  return result;
}
