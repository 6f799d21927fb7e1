// `hart bench engine`: how close the engine runs a transformer block to the machine's matmul
// speed, and how it compares with PyTorch on the same CPU. Node-only (bench/ is not src/).
//   matmul_gflops          ONNX Runtime float32 MatMul 1024×1024×1024 (one MatMul of two graph inputs)
//   block_fwd_ratio        block forward GFLOP/s (bench/llama-block.ts counts the matmul FLOPs) ÷ matmul_gflops
//   block_train_ratio      forward + backward + AdamW step GFLOP/s (3× forward FLOPs) ÷ matmul_gflops
//   torch_*_time_ratio     our seconds ÷ PyTorch's (bench/torch_block.py), null without a torch peer
// Everything is measured in rounds that interleave all the contenders, so a load change on the
// shared machine hits them alike; the numbers are medians over the rounds.
import { Graph, emitOnnx } from '../src/graph/index.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { benchConfig, blockFlops, blockWeights, buildBlock, type Lowering } from './llama-block.ts';
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
  const mg = new Graph();
  const mmA = mg.input('a', 'float32', [N, N]), mmB = mg.input('b', 'float32', [N, N]);
  const mm = await rt.load(emitOnnx({ outputs: { c: mmA.matmul(mmB) } }));
  const mmFeeds = { a: randomTensor([N, N], 1), b: randomTensor([N, N], 2) };

  const weights = blockWeights(cfg);
  // Both lowerings of the block (llama-block.ts): the headline numbers are the standard one's (the
  // src/nn building blocks the models use); the fused one's are reported beside them.
  const lowerings: Lowering[] = ['standard', 'fused'];
  const fwd = await Promise.all(lowerings.map(async (l) => rt.load(emitOnnx({ outputs: { y: buildBlock(cfg, weights, l).y } }))));
  const train = await Promise.all(lowerings.map((l) => TrainLoop.create(rt, cfg, weights, l)));
  const x = randomTensor([cfg.B, cfg.L, cfg.C], 3), gy = randomTensor([cfg.B, cfg.L, cfg.C], 4);

  let torchWhy = '';
  const torch = await TorchPeer.start(cfg, threads, (w) => { torchWhy = w; });
  say(torch ? `PyTorch peer: torch ${torch.version}, eager, ${threads} threads` : `PyTorch peer: none (${torchWhy})`);

  const t = { mm: [] as number[], fwd: lowerings.map(() => [] as number[]), train: lowerings.map(() => [] as number[]),
    tmm: [] as number[], tfwd: [] as number[], ttrain: [] as number[] };
  // Warm-up: one of everything (first runs allocate and pre-pack).
  await mm.run(mmFeeds);
  for (const f of fwd) await f.run({ x });
  for (const tr of train) await tr.step(x, gy);
  if (torch) { await torch.time('matmul', 1); await torch.time('fwd', 1); await torch.time('train', 1); }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 3; i++) t.mm.push(await timeIt(() => mm.run(mmFeeds)));
    for (const [k, f] of fwd.entries()) for (let i = 0; i < 2; i++) t.fwd[k].push(await timeIt(() => f.run({ x })));
    for (const [k, tr] of train.entries()) t.train[k].push(await timeIt(() => tr.step(x, gy)));
    if (torch) {
      t.tmm.push(...await torch.time('matmul', 3));
      t.tfwd.push(...await torch.time('fwd', 2));
      t.ttrain.push(...await torch.time('train', 1));
    }
  }
  await torch?.close();
  await rt.dispose();

  const gflops = (flops: number, s: number) => flops / s / 1e9;
  const mmGf = gflops(2 * N ** 3, median(t.mm));
  const fwdS = t.fwd.map(median), trainS = t.train.map(median);
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const sec = (v: number) => Math.round(v * 1e5) / 1e5;
  say(`ORT MatMul ${N}³: ${spread(t.mm)} → ${mmGf.toFixed(1)} GFLOP/s`);
  lowerings.forEach((l, k) => {
    say(`block forward (${l}): ${spread(t.fwd[k])} → ${gflops(fwdFlops, fwdS[k]).toFixed(1)} GFLOP/s, `
      + `ratio ${(gflops(fwdFlops, fwdS[k]) / mmGf).toFixed(3)}`);
    say(`block train step (${l}): ${spread(t.train[k])} → ${gflops(3 * fwdFlops, trainS[k]).toFixed(1)} GFLOP/s, `
      + `ratio ${(gflops(3 * fwdFlops, trainS[k]) / mmGf).toFixed(3)}`);
  });
  if (torch) {
    say(`torch MatMul ${N}³: ${spread(t.tmm)} → ${gflops(2 * N ** 3, median(t.tmm)).toFixed(1)} GFLOP/s`);
    say(`torch block forward: ${spread(t.tfwd)}`);
    say(`torch block train step: ${spread(t.ttrain)}`);
  }
  // The same ratios from each contender's fastest run: less sensitive to other processes' load, so
  // the gap between these and the medians shows how noisy this run was.
  const best = {
    matmul_gflops: Math.round(gflops(2 * N ** 3, Math.min(...t.mm)) * 10) / 10,
    block_fwd_ratio: r3(gflops(fwdFlops, Math.min(...t.fwd[0])) / gflops(2 * N ** 3, Math.min(...t.mm))),
    block_train_ratio: r3(gflops(3 * fwdFlops, Math.min(...t.train[0])) / gflops(2 * N ** 3, Math.min(...t.mm))),
    torch_fwd_time_ratio: torch ? r3(Math.min(...t.fwd[0]) / Math.min(...t.tfwd)) : null,
    torch_train_time_ratio: torch ? r3(Math.min(...t.train[0]) / Math.min(...t.ttrain)) : null,
  };
  say(`from the fastest runs instead of medians: ${JSON.stringify(best)}`);
  const result: Record<string, unknown> = {
    matmul_gflops: Math.round(mmGf * 10) / 10,
    block_fwd_ratio: r3(gflops(fwdFlops, fwdS[0]) / mmGf),
    block_train_ratio: r3(gflops(3 * fwdFlops, trainS[0]) / mmGf),
    torch_fwd_time_ratio: torch ? r3(fwdS[0] / median(t.tfwd)) : null,
    torch_train_time_ratio: torch ? r3(trainS[0] / median(t.ttrain)) : null,
    fused: {
      block_fwd_ratio: r3(gflops(fwdFlops, fwdS[1]) / mmGf),
      block_train_ratio: r3(gflops(3 * fwdFlops, trainS[1]) / mmGf),
      torch_fwd_time_ratio: torch ? r3(fwdS[1] / median(t.tfwd)) : null,
      torch_train_time_ratio: torch ? r3(trainS[1] / median(t.ttrain)) : null,
    },
    best_of: best,
    threads,
    shapes: { B: cfg.B, L: cfg.L, C: cfg.C, heads: cfg.heads, hidden: cfg.hidden },
    fwd_gflop: r3(fwdFlops / 1e9),
    seconds: {
      matmul: sec(median(t.mm)), fwd: sec(fwdS[0]), train: sec(trainS[0]), fwd_fused: sec(fwdS[1]), train_fused: sec(trainS[1]),
      torch_fwd: torch ? sec(median(t.tfwd)) : null, torch_train: torch ? sec(median(t.ttrain)) : null,
    },
    torch: torch?.version ?? null,
    rounds,
  };
  if (opts.json) console.log(JSON.stringify(result));
  return result;
}
