// `hart bench load`: loading the full-size model from disk. For a random-weight checkpoint in the
// official formats (bench/make-official-checkpoint.py, default /tmp/hart-official-full), it measures
//   - loading the official folder (llm/ema_model.bin + tokenizer/) into HartTransformer, the
//     diffusion sampler and the tokenizer (its decoder compiled, as the first decode does): seconds,
//     peak RSS and RSS once loaded; then one scale-0 step (2×300 context tokens through all 24
//     blocks): its seconds and the RSS after it (ONNX Runtime's buffers for a run included);
//   - `hart convert` to float32, float16 and int4 (+ float16 for the rest): seconds, peak RSS and
//     the folder's size; then loading each converted folder the same way; the float16 folder also
//     with Cast folding off ("float16 no-fold", see patchNoFold);
//   - with --text-encoder, then (HART parts still resident, as when the pipeline encodes a prompt)
//     a random Qwen2-1.5B-sized text encoder loaded, run on 432 tokens and released: float32, or
//     int4 for the int4 folder; peak RSS with it (the 24 GB budget) and RSS after its release;
//   - with --cast-probe, whether ONNX Runtime folds Cast(float16 initializer) into a float32
//     initializer (the size of the model it saves after optimizing, with its default settings and
//     with folding turned off).
// Every measurement runs in a fresh child process (peak RSS is per process), one at a time: this
// machine is shared, so the full-size loads (~6 GB float32) never overlap. The converted folders
// are written beside the checkpoint (<checkpoint>-bench-<variant>) and removed at the end unless
// --keep. Timings are wall-clock seconds of this run; compare ratios within one run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const GiB = 2 ** 30;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

export interface BenchLoadOptions {
  checkpoint?: string;
  json?: boolean;
  threads?: string;
  keep?: boolean;
  castProbe?: boolean;
  /** Also load, run and release a Qwen2-1.5B-sized text encoder with the HART parts resident (float32; int4 for the int4 variant). */
  textEncoder?: boolean;
  /** Skip these variants (comma-separated: official, float32, float16, int4). */
  skip?: string;
}

interface ChildResult { seconds: number; peak_rss_gib: number; rss_after_gib?: number; [k: string]: unknown }

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return n;
}

/** Runs this file as a child doing one measurement; returns its JSON line. */
function child(args: string[]): ChildResult {
  // glibc keeps freed heap memory resident (its mmap threshold grows to 32 MB after large frees);
  // a fixed 64 KiB threshold returns every large buffer on free, so "RSS after" is live memory.
  const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '65536' };
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--child', ...args], { cwd: REPO, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench load child ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as ChildResult;
}

const peak = () => process.resourceUsage().maxRSS * 1024 / GiB;
const rss = () => process.memoryUsage.rss() / GiB;

/**
 * ONNX Runtime (1.30, CPU) folds Cast(float16 initializer) into a float32 initializer at session
 * creation, so half-precision weights take float32 memory once loaded. `noFold` keeps them half:
 * graph optimization level 'extended' (the 'all' level folds them even with ConstantFolding
 * disabled) and ConstantFolding disabled; the Cast then runs at every inference.
 */
function patchNoFold(runtime: object): void {
  const r = runtime as { sessionOptions(): Record<string, unknown> };
  const base = r.sessionOptions.bind(runtime);
  r.sessionOptions = () => ({ ...base(), graphOptimizationLevel: 'extended', extra: { optimization: { disable_specified_optimizers: 'ConstantFolding' } } });
}

/**
 * Child: load a model folder (either layout) and compile the decoder; with `step`, also run the
 * context prefix (scale 0: 2×300 tokens through every block) once. Prints one JSON line.
 */
async function childLoad(dir: string, threads: number, noFold = false, step = false, text = ''): Promise<void> {
  const { nodeRuntime } = await import('../src/runtime/node.node.ts');
  const { diskFiles } = await import('../src/io/file-access.node.ts');
  const { loadHart } = await import('../src/pipeline/load.ts');
  const runtime = nodeRuntime({ threads });
  if (noFold) patchNoFold(runtime);
  const t0 = performance.now();
  const m = await loadHart(diskFiles(dir), runtime);
  const tLoad = performance.now();
  // the decoder graph is compiled on first use; a 1×1 latent compiles it (the graph is shape-generic)
  await m.tokenizer.decode({ dtype: 'float32', shape: [1, m.tokenizer.Cvae, 1, 1], data: new Float32Array(m.tokenizer.Cvae) });
  const tDec = performance.now();
  global.gc?.();
  const loaded = { peak_rss_gib: peak(), rss_after_gib: rss() };
  let stepStats = {};
  if (step) {
    const d = m.transformer.dims;
    const context = { dtype: 'float32' as const, shape: [1, d.T, d.contextDim], data: new Float32Array(d.T * d.contextDim).fill(0.01) };
    const gen = await m.transformer.begin(context, [Array.from({ length: d.T }, (_, i) => i)]);
    const t1 = performance.now();
    await m.transformer.step(gen, undefined);
    const t2 = performance.now();
    global.gc?.();
    stepStats = { step0_seconds: (t2 - t1) / 1000, peak_rss_after_step_gib: peak(), rss_after_step_gib: rss() };
  }
  let textStats = {};
  if (text) textStats = await textEncoderPass(runtime, text === 'int4');
  process.stdout.write(JSON.stringify({
    seconds: (tDec - t0) / 1000, transformer_diffusion_seconds: (tLoad - t0) / 1000, decoder_seconds: (tDec - tLoad) / 1000,
    ...loaded, ...stepStats, ...textStats, no_fold: noFold, weights: m.transformerWeights, segments: m.transformer.segmentCount,
  }) + '\n');
  await runtime.dispose();
}

/**
 * With the HART parts resident (as HartPipeline holds them when it encodes a prompt): load a
 * Qwen2-1.5B-sized text encoder with random weights (bench/random-models.ts; float32, or its Linear
 * weights quantized to int4 on read, as a converted int4 folder stores them), encode one prompt
 * (132 system + 300 prompt tokens), release it. Peak RSS and RSS after the release.
 */
async function textEncoderPass(runtime: import('../src/runtime/runtime.ts').Runtime, int4: boolean): Promise<Record<string, number | boolean>> {
  const { qwen2_1_5bConfig, Qwen2Encoder } = await import('../src/models/text/index.ts');
  const { randomQwen2Source } = await import('./random-models.ts');
  const { int4Tensor } = await import('../src/nn/index.ts');
  const { quantizeInt4 } = await import('../src/convert/int4-quantize.ts');
  const { TEXT_ENCODER_INT4 } = await import('../src/convert/plan.ts');
  const cfg = qwen2_1_5bConfig();
  const random = randomQwen2Source(cfg, 3);
  const source = !int4 ? random : {
    ...random,
    async read(name: string) {
      const t = await random.read(name);
      if (!TEXT_ENCODER_INT4.test(name)) return t;
      return int4Tensor(quantizeInt4(t.data as Float32Array, t.shape[0], t.shape[1])) as typeof t;
    },
  };
  const t0 = performance.now();
  const enc = await Qwen2Encoder.load(cfg, source, runtime, { maxSegmentBytes: 2 ** 28 });
  const t1 = performance.now();
  const L = 432;
  const ids = Int32Array.from({ length: L }, (_, i) => (i * 7919) % cfg.vocab_size);
  const h = await enc.forward(ids, new Uint8Array(L).fill(1), 1);
  const t2 = performance.now();
  if (!(h.data as Float32Array).every(Number.isFinite)) throw new Error('text encoder output is not finite');
  const peakWithText = peak();
  await enc.release();
  global.gc?.();
  return {
    text_int4: int4, text_load_seconds: (t1 - t0) / 1000, text_encode_seconds: (t2 - t1) / 1000,
    peak_rss_with_text_gib: peakWithText, rss_after_text_release_gib: rss(),
  };
}

/** Child: hart convert; prints one JSON line. */
async function childConvert(src: string, out: string, dtype: string, quantize: string): Promise<void> {
  const { convertHart } = await import('../src/convert/convert.node.ts');
  const t0 = performance.now();
  const r = await convertHart(src, out, { dtype: dtype as 'float32', quantize: quantize as 'none', force: true });
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, peak_rss_gib: peak(), bytes: r.bytes }) + '\n');
}

/**
 * Child: does ONNX Runtime fold Cast(float16 initializer) into a float32 initializer? One Linear
 * 4096×4096 stored float16, its session saved after optimization (optimizedModelFilePath): the
 * saved weights' bytes, as a multiple of the float16 bytes (2 = folded to float32, 1 = kept half).
 * `mode` 'fold' is the runtime's default settings, 'nofold' those of patchNoFold.
 */
async function childCastProbe(mode: string, threads: number): Promise<void> {
  const { Graph, emitOnnx } = await import('../src/graph/index.ts');
  const { Params, MapWeightStore, linear } = await import('../src/nn/index.ts');
  const { float32ToFloat16Array } = await import('../src/io/dtypes.ts');
  const { nodeRuntime } = await import('../src/runtime/node.node.ts');
  const { mkdtempSync, rmSync: rm } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const N = 4096, K = 4096;
  const runtime = nodeRuntime({ threads });
  if (mode === 'nofold') patchNoFold(runtime);
  const dir = mkdtempSync(join(tmpdir(), 'hart-cast-probe-'));
  const path = join(dir, 'optimized.onnx');
  const r = runtime as unknown as { sessionOptions(): Record<string, unknown> };
  const base = r.sessionOptions.bind(runtime);
  r.sessionOptions = () => ({ ...base(), optimizedModelFilePath: path });
  try {
    const w = new Float32Array(N * K);
    for (let i = 0; i < w.length; i++) w[i] = (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * 0.03;
    const g = new Graph();
    const p = new Params(g, new MapWeightStore(new Map([['l.weight', { dtype: 'float16', shape: [N, K], data: float32ToFloat16Array(w) }]])));
    const y = linear(p.scope('l'), g.input('x', 'float32', ['B', 'M', K]), N, false);
    await runtime.load(emitOnnx({ outputs: { y } }));
    const ratio = statSync(path).size / (N * K * 2);
    process.stdout.write(JSON.stringify({ seconds: 0, peak_rss_gib: peak(), saved_over_fp16: ratio, folded: ratio > 1.5 }) + '\n');
  } finally {
    rm(dir, { recursive: true, force: true });
    await runtime.dispose();
  }
}

export async function benchLoad(o: BenchLoadOptions): Promise<void> {
  const ckpt = resolve(o.checkpoint ?? '/tmp/hart-official-full');
  const threads = Number(o.threads ?? 2);
  const skip = new Set((o.skip ?? '').split(',').filter(Boolean));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const results: Record<string, unknown> = { checkpoint: ckpt, threads };

  if (o.castProbe) {
    const probe: Record<string, ChildResult> = {};
    for (const mode of ['fold', 'nofold']) {
      probe[mode] = child(['probe', mode, String(threads)]);
      log(`cast probe (${mode === 'fold' ? 'default settings' : 'extended level, ConstantFolding off'}): the optimized model holds ` +
        `${(probe[mode].saved_over_fp16 as number).toFixed(2)}× the float16 weight bytes: Cast ${probe[mode].folded ? 'folded into a float32 initializer' : 'kept, weights stay half'}`);
    }
    results.cast_probe = probe;
  }

  if (!existsSync(join(ckpt, 'llm', 'config.json'))) {
    throw new Error(`${ckpt} has no llm/config.json; make the checkpoint first:\n  /usr/bin/python3 bench/make-official-checkpoint.py ${ckpt}`);
  }
  const variants: { name: string; dtype: string; quantize: string }[] = [
    { name: 'float32', dtype: 'float32', quantize: 'none' },
    { name: 'float16', dtype: 'float16', quantize: 'none' },
    { name: 'int4', dtype: 'float16', quantize: 'int4' },
  ];
  const rows: { variant: string; folder_gib: number; load: ChildResult; convert?: ChildResult; [k: string]: unknown }[] = [];
  const load = (variant: string, dir: string, extra: Record<string, unknown>, noFold = false) => {
    const text = o.textEncoder ? (extra.quantize === 'int4' ? 'int4' : 'float32') : '';
    const r = child(['load', dir, String(threads), noFold ? 'nofold' : 'fold', 'step', text]);
    const size = folderBytes(dir);
    rows.push({ variant, folder_gib: size / GiB, ...extra, load: r });
    log(`${variant.padEnd(16)} ${(size / GiB).toFixed(2)} GiB on disk; load ${r.seconds.toFixed(1)} s, peak RSS ${r.peak_rss_gib.toFixed(2)} GiB, ` +
      `after load ${r.rss_after_gib!.toFixed(2)} GiB; scale-0 step ${(r.step0_seconds as number).toFixed(1)} s, RSS after it ${(r.rss_after_step_gib as number).toFixed(2)} GiB`);
    if (text) {
      log(`${variant.padEnd(16)} + Qwen2-1.5B text encoder (${text}, random): load ${(r.text_load_seconds as number).toFixed(1)} s, encode ${(r.text_encode_seconds as number).toFixed(1)} s, ` +
        `peak RSS with it ${(r.peak_rss_with_text_gib as number).toFixed(2)} GiB, RSS after its release ${(r.rss_after_text_release_gib as number).toFixed(2)} GiB`);
    }
  };
  if (!skip.has('official')) load('official', ckpt, {});
  for (const v of variants) {
    if (skip.has(v.name)) continue;
    const out = `${ckpt}-bench-${v.name}`;
    try {
      const c = child(['convert', ckpt, out, v.dtype, v.quantize]);
      log(`${v.name.padEnd(16)} convert ${c.seconds.toFixed(1)} s, peak RSS ${c.peak_rss_gib.toFixed(2)} GiB`);
      load(v.name, out, { dtype: v.dtype, quantize: v.quantize, convert: c });
      if (v.name === 'float16') load('float16 no-fold', out, { dtype: v.dtype, quantize: v.quantize, no_fold: true }, true);
    } finally {
      if (!o.keep) rmSync(out, { recursive: true, force: true });
    }
  }
  results.rows = rows;
  process.stdout.write('variant           disk GiB  convert s  load s  load peak RSS GiB  RSS after load  scale-0 step s  RSS after step\n');
  for (const r of rows) {
    const n = (x: unknown, w: number, d = 2) => (typeof x === 'number' ? x.toFixed(d) : '—').padStart(w);
    process.stdout.write(`${r.variant.padEnd(16)} ${n(r.folder_gib, 9)} ${n(r.convert?.seconds, 10, 1)} ${n(r.load.seconds, 7, 1)} ` +
      `${n(r.load.peak_rss_gib, 18)} ${n(r.load.rss_after_gib, 15)} ${n(r.load.step0_seconds, 15, 1)} ${n(r.load.rss_after_step_gib, 15)}\n`);
  }
  if (o.json) process.stdout.write(JSON.stringify(results) + '\n');
}

// child entry: node --import tsx bench/load.ts --child <what> ...
if (process.argv[2] === '--child') {
  const [what, ...a] = process.argv.slice(3);
  const run = what === 'load' ? childLoad(a[0], Number(a[1]), a[2] === 'nofold', a[3] === 'step', a[4] ?? '')
    : what === 'convert' ? childConvert(a[0], a[1], a[2], a[3])
    : what === 'probe' ? childCastProbe(a[0], Number(a[1]))
    : Promise.reject(new Error(`unknown child ${what}`));
  run.catch((e) => { process.stderr.write(`${(e as Error).stack ?? e}\n`); process.exit(1); });
}
