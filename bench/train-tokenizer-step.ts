// A training step of the tokenizer's VQGAN (src/models/tokenizer/vqgan.ts) against the machine's
// matmul speed: encoder → decoder on 64 px images (ch 32, ch_mult [1, 2, 2, 4]: ×8 down to an 8×8
// latent of z_channels 8, two ResNet blocks per level as the official config fixes), MSE
// reconstruction loss, backward and the in-graph AdamW update (src/train/adamw-graph.ts GraphTrainer),
// one ONNX session run per step. Node-only (bench/ is not src/).
//   train_gflops   3 × forward FLOPs (convolutions + attention matmuls, counted from the graph) / step seconds
//   ratio          train_gflops ÷ matmul_gflops, the 1024³ MatMul of bench/matmul-peak.ts timed in the same rounds
//   cpu_seconds    process CPU time per step (all threads, spinning included): steadier than wall time on a
//                  loaded machine, for comparing lowerings
// With `compare` (default on), the same step is also built with the previous conv gradient lowering
// (conv.ts `gradLowering: 'legacy'`: weight gradient as a Conv whose kernel is the output-gradient
// map, input gradient by ConvTranspose) and timed in the same rounds, so before/after is measured
// under the same load; `compareSpinning` adds the current step with the other allow_spinning setting.
// Usage: npx tsx bench/train-tokenizer-step.ts [--threads 2] [--batch 8] [--rounds 5] [--json]
//        [--no-compare] [--allow-spinning 0|1] [--compare-spinning]
import { Graph, type Tensor } from '../src/graph/index.ts';
import type { ConvAttrs } from '../src/graph/ops/conv.ts';
import { Params, RandomWeightStore } from '../src/nn/index.ts';
import { decoder, encoder, type VqganShape } from '../src/models/tokenizer/vqgan.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { GraphTrainer } from '../src/train/index.ts';
import { MatmulPeak } from './matmul-peak.ts';
import { median, spread, timeIt } from './timing.ts';

export interface BenchTokenizerStepOptions {
  /** Intra-op threads (default 2). */
  threads?: number;
  /** Images per step (default 8). */
  batch?: number;
  /** Print one JSON object as the last line. */
  json?: boolean;
  /** Interleaved measuring rounds (default 5); each times 2 steps per contender and 3 MatMuls. */
  rounds?: number;
  /** Also time the previous weight-gradient lowering in the same rounds (default true). */
  compare?: boolean;
  /** ONNX Runtime's intra-op spinning (RuntimeOptions.allowSpinning; default ORT's, on). */
  allowSpinning?: boolean;
  /** Also time the current lowering with the other allowSpinning setting, in the same rounds. */
  compareSpinning?: boolean;
}

const SIZE = 64;
export const BENCH_VQGAN: VqganShape = { ch: 32, ch_mult: [1, 2, 2, 4], z_channels: 8 };

/** FLOPs per image of the forward pass: every Conv (2·O·Ho·Wo·Cg·kh·kw) and MatMul (2·M·K·N per batch row). */
function forwardFlops(g: Graph): { conv: number; matmul: number } {
  const perImage = (shape: readonly (number | string)[]) => shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
  let conv = 0, matmul = 0;
  for (const n of g.nodes) {
    if (n.op === 'Conv') {
      const [, Cg, kh, kw] = n.inputs[1].shape as number[];
      conv += 2 * perImage(n.outputs[0].shape) * Cg * kh * kw;
    } else if (n.op === 'MatMul') {
      const a = n.inputs[0];
      matmul += 2 * perImage(n.outputs[0].shape) * (a.shape[a.rank - 1] as number);
    }
  }
  return { conv, matmul };
}

/** The training step; `gradLowering` picks the conv gradient lowering of every Conv. */
function buildStep(gradLowering?: ConvAttrs['gradLowering']): { trainer: GraphTrainer; flops: { conv: number; matmul: number } } {
  const g = new Graph();
  const img = g.input('img', 'float32', ['B', 3, SIZE, SIZE]);
  const p = new Params(g, new RandomWeightStore(7));
  const z = encoder(p.scope('encoder'), img, BENCH_VQGAN);
  const rec = decoder(p.scope('decoder'), z, BENCH_VQGAN);
  const loss = rec.sub(img).pow(2).mean([0, 1, 2, 3]);
  const flops = forwardFlops(g);
  if (gradLowering) for (const n of g.nodes) if (n.op === 'Conv') (n.attrs as unknown as ConvAttrs).gradLowering = gradLowering;
  const trainer = new GraphTrainer(loss, g.params as Tensor[], { lr: 1e-4 });
  return { trainer, flops };
}

function images(batch: number, seed: number): HostTensor {
  const data = new Float32Array(batch * 3 * SIZE * SIZE);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; data[i] = s / 2147483648 - 1; }
  return { dtype: 'float32', shape: [batch, 3, SIZE, SIZE], data };
}

export async function benchTokenizerStep(opts: BenchTokenizerStepOptions = {}): Promise<Record<string, unknown>> {
  const threads = opts.threads ?? 2, batch = opts.batch ?? 8, rounds = opts.rounds ?? 5, compare = opts.compare ?? true;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
  const say = (s: string) => { if (!opts.json) console.log(s); };
  const rt = nodeRuntime({ threads, allowSpinning: opts.allowSpinning });
  const peak = await MatmulPeak.create(rt);

  const contenders: { name: string; gradLowering?: ConvAttrs['gradLowering']; rt: Runtime }[] = [{ name: 'current', rt }];
  if (compare) contenders.push({ name: 'previous (legacy conv gradients)', gradLowering: 'legacy', rt });
  const otherSpin = !(opts.allowSpinning ?? true);
  const rtSpin = opts.compareSpinning ? nodeRuntime({ threads, allowSpinning: otherSpin }) : null;
  if (rtSpin) contenders.push({ name: `current, allow_spinning ${otherSpin ? 1 : 0}`, rt: rtSpin });
  const built = contenders.map((c) => ({ ...c, ...buildStep(c.gradLowering), seconds: [] as number[], cpu: [] as number[] }));
  const { conv, matmul } = built[0].flops;
  const fwdFlops = (conv + matmul) * batch;
  say(`threads ${threads}; VQGAN ch ${BENCH_VQGAN.ch}, ch_mult [${BENCH_VQGAN.ch_mult}], z_channels ${BENCH_VQGAN.z_channels}, `
    + `${SIZE} px, batch ${batch}: forward ${(fwdFlops / 1e9).toFixed(2)} GFLOP (conv ${(conv * batch / 1e9).toFixed(2)}, `
    + `attention matmuls ${(matmul * batch / 1e9).toFixed(3)}); training counted as 3× forward`);
  for (const b of built) await b.trainer.load(b.rt);
  const x = images(batch, 11);
  for (const b of built) for (let i = 0; i < 2; i++) await b.trainer.step({ img: x }); // warm-up
  for (let r = 0; r < rounds; r++) {
    await peak.measure(3);
    for (const b of built) {
      for (let i = 0; i < 2; i++) {
        const c0 = process.cpuUsage();
        b.seconds.push(await timeIt(() => b.trainer.step({ img: x })));
        const c = process.cpuUsage(c0);
        b.cpu.push((c.user + c.system) / 1e6);
      }
    }
  }
  await rt.dispose();
  await rtSpin?.dispose();

  const mmGf = peak.gflops;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  say(`ORT MatMul 1024³: ${spread(peak.seconds)} → ${mmGf.toFixed(1)} GFLOP/s`);
  const report = built.map((b) => {
    const s = median(b.seconds);
    const gf = (3 * fwdFlops) / s / 1e9;
    say(`train step (${b.name}): ${spread(b.seconds)} → ${(batch / s).toFixed(2)} samples/s, ${gf.toFixed(1)} GFLOP/s, ratio ${(gf / mmGf).toFixed(3)}; `
      + `process CPU ${(median(b.cpu) * 1000).toFixed(0)} ms/step (min ${(Math.min(...b.cpu) * 1000).toFixed(0)})`);
    return {
      samples_per_s: r3(batch / s), gflops: Math.round(gf * 10) / 10, ratio: r3(gf / mmGf),
      seconds: { median: r3(s), min: r3(Math.min(...b.seconds)), max: r3(Math.max(...b.seconds)) },
      spread: r3((Math.max(...b.seconds) - Math.min(...b.seconds)) / s),
      cpu_seconds: { median: r3(median(b.cpu)), min: r3(Math.min(...b.cpu)) },
    };
  });
  const rssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  say(`peak RSS ${rssMb} MB`);
  const result: Record<string, unknown> = {
    matmul_gflops: Math.round(mmGf * 10) / 10,
    ...report[0],
    previous: compare ? report[1] : null,
    speedup: compare ? r3(report[0].samples_per_s / report[1].samples_per_s) : null,
    others: Object.fromEntries(built.slice(compare ? 2 : 1).map((b, i) => [b.name, report[(compare ? 2 : 1) + i]])),
    threads, batch, rounds, allow_spinning: opts.allowSpinning ?? null,
    fwd_gflop_per_sample: r3((conv + matmul) / 1e9),
    peak_rss_mb: rssMb,
  };
  if (opts.json) console.log(JSON.stringify(result));
  return result;
}

const self = process.argv[1] ?? '';
if (self.endsWith('train-tokenizer-step.ts')) {
  const arg = (k: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : undefined; };
  const num = (k: string) => (arg(k) === undefined ? undefined : Number(arg(k)));
  const spin = arg('allow-spinning');
  await benchTokenizerStep({
    threads: num('threads'), batch: num('batch'), rounds: num('rounds'), json: process.argv.includes('--json'),
    compare: !process.argv.includes('--no-compare'), allowSpinning: spin === undefined ? undefined : spin !== '0',
    compareSpinning: process.argv.includes('--compare-spinning'),
  });
}
