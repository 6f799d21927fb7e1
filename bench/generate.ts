// `hart bench generate`: one text-to-image generation timed stage by stage (text encoder, each
// scale, residual diffusion, VAE decode), each stage's achieved GFLOP/s (analytic FLOPs,
// generate-flops.ts) as a ratio to ONNX Runtime's 1024³ MatMul speed measured in the same run
// (matmul-peak.ts: the median of probes before, between (full) and after the stages, since the
// shared machine's speed drifts during a long run), the whole pipeline against its FLOP floor
// (total FLOPs ÷ that peak), and resident memory (peak RSS, and per stage). Also reported: a
// weight-GEMM reference (constant, pre-packed weights, as the models run), which on AVX-512 CPUs
// is ~2× the 1024³ two-input MatMul, so stage ratios above 1 are expected. Node-only.
//   --config tiny   the hart-parity-tiny fixture with a tiny random Qwen2 text encoder
//   --config full   the released 0.7B configuration at 1024×1024, random weights, and a
//                   Qwen2-1.5B-sized random text encoder on system prompt + 300 tokens
//   --size 256|512|1024  (full) the image size: the official schedules for 256/512 px (generate-setup.ts)
//   --precision a,b,…    matrix precision modes of the transformer (src/models/transformer/precision.ts);
//                        the first is timed stage by stage, each other one generates the same image
//                        once: its seconds and its difference from the first (image max |Δ|, PSNR)
//   load_seconds         cold (empty on-disk model cache: compile + write) and warm (a second load
//                        from that cache) for the text encoder and the HART parts; the cache is a
//                        fresh temporary folder unless --cache-dir names one. The text encoder is
//                        read from a bfloat16 safetensors file written first (untimed); the full
//                        HART parts draw their random weights while loading, so their figures are
//                        also given less that drawing (*_less_drawing), which a file read replaces
// --scales N stops after N scales; the diffusion and decode stages then still run, standalone,
// on inputs of the real shapes, and the skipped scales are reported as extrapolations (labelled).
// The generation itself is src/pipeline/generate-loop.ts's runGeneration, unmodified; the stages
// are delimited by its progress events, and the parts' methods are wrapped to time the pure
// compute inside each stage.
import { fixtureDir as defaultFixtureDir } from '../test/fixtures.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { runGeneration, type HartParts } from '../src/pipeline/generate-loop.ts';
import { resolveOptions } from '../src/pipeline/options.ts';
import { Qwen2Encoder } from '../src/models/text/index.ts';
import { Philox, stream } from '../src/random/philox.ts';
import { diffusionCfg } from '../src/tables/schedules.ts';
import { philoxNoise } from '../src/models/diffusion/index.ts';
import { attentionOptions } from '../src/models/transformer/index.ts';
import { generationFlops, type GenerationFlops } from './generate-flops.ts';
import { MatmulPeak } from './matmul-peak.ts';
import { StagePeak, gib, maxRssBytes, rssBytes, type StageMemory } from './memory.ts';
import { writeRandomQwen2File } from './random-models.ts';
import { openTensorFile } from '../src/io/files.node.ts';
import { benchTextConfig, buildFullModel, loadTinyModel, type BenchConfigName, type BenchModel } from './generate-setup.ts';
import { median } from './timing.ts';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MATMUL_PRECISIONS, type MatmulPrecision } from '../src/models/transformer/index.ts';
import type { ImageCHW } from '../src/io/png.ts';
import type { LoadEvent } from '../src/runtime/runtime.ts';

export interface BenchGenerateOptions {
  config: string;
  json?: boolean;
  threads: string;
  /** Stop after this many scales (the rest is extrapolated). */
  scales?: string;
  skipDecode?: boolean;
  skipText?: boolean;
  /** Generations to time (medians per stage); default 3 for tiny, 1 for full. */
  repeat?: string;
  batch?: string;
  /** Tokens of the system prompt before the 300 prompt tokens (default: 132, see SYSTEM_PROMPT_TOKENS). */
  systemTokens?: string;
  /** Attention: head groups, or 'mha' for com.microsoft MultiHeadAttention. */
  headGroups?: string;
  /** Attention query chunk with head groups (default: defaultAttentionLayout's). */
  queryChunk?: string;
  kernel?: string;
  fixture?: string;
  /** ONNX Runtime memory pattern: 'on' or 'off' (default: ONNX Runtime's, on). */
  memPattern?: string;
  /** One generation, freeing the transformer and diffusion sessions before the decode (what `hart generate` does). */
  singleShot?: boolean;
  /** After the timed generations, the last one's prompt once more: the prompt cache's hit (prompt_repeat). */
  promptRepeat?: boolean;
  /** No human-readable lines (tests). */
  quiet?: boolean;
  /** Image size in px for --config full: 256, 512 or 1024 (default). */
  size?: string;
  /** Comma-separated matrix precision modes (default float32). */
  precision?: string;
  /** On-disk model cache for the cold/warm loads (default: a fresh temporary folder, removed at the end). */
  cacheDir?: string;
  /** false: load once (no warm reload). */
  warm?: boolean;
  /** The Gumbel-smooth token path (the official sample script's default); default off (hard tokens). */
  moreSmooth?: boolean;
  /** The random text encoder's bfloat16 safetensors file: loaded if it exists, else written there and kept (default: a temporary file, removed). */
  textEncoderFile?: string;
}

/**
 * The official system prompt (src/models/text/system-prompt.ts, 705 characters) splits into 132
 * pieces under the GPT-style pre-tokenizer regex Qwen2 uses; BPE may split a few rare words
 * further. An estimate (no Qwen2 tokenizer.json is available offline); override with --system-tokens.
 */
export const SYSTEM_PROMPT_TOKENS = 132;

const r3 = (v: number) => Math.round(v * 1000) / 1000;
const r1 = (v: number) => Math.round(v * 10) / 10;
const secs = (ms: number) => ms / 1000;

interface StageTimes {
  text_encoder: number;
  scales: number[];
  /** Pure transformer.step time per scale (inside the scale's stage). */
  scales_transformer: number[];
  diffusion: number;
  decode: number;
}

interface RunRecord {
  images?: ImageCHW[];
  times: StageTimes;
  memory: { text_encoder?: StageMemory; scales: StageMemory[]; diffusion?: StageMemory; decode?: StageMemory };
  scalesRun: number;
  standalone: { diffusion: boolean; decode: boolean };
}

/** A random prompt: `n` valid tokens then padding, as the official 300-token padding. */
function promptIds(vocab: number, sys: number, T: number, n: number, seed: number): { ids: Int32Array; mask: Uint8Array } {
  const L = sys + T, ids = new Int32Array(L), mask = new Uint8Array(L);
  const u = new Philox(seed).uniform(stream(0x1fffe, 0), 0, sys + n);
  for (let i = 0; i < sys + n; i++) { ids[i] = Math.floor(u[i] * (vocab - 1)); mask[i] = 1; }
  for (let i = sys + n; i < L; i++) ids[i] = vocab - 1; // pad
  return { ids, mask };
}

/** Wraps an async method of `obj` so each call's seconds are passed to `record`. */
function timeMethod<T extends object, K extends keyof T>(obj: T, key: K, record: (s: number, args: unknown[], result: unknown) => void,
  before?: () => Promise<void>): () => void {
  const orig = obj[key] as unknown as (...a: unknown[]) => Promise<unknown>;
  const bound = orig.bind(obj);
  (obj as Record<K, unknown>)[key] = async (...args: unknown[]) => {
    await before?.();
    const t = performance.now();
    const r = await bound(...args);
    record(secs(performance.now() - t), args, r);
    return r;
  };
  return () => { delete (obj as Record<K, unknown>)[key]; };
}

export async function benchGenerate(opts: BenchGenerateOptions): Promise<void> {
  await measureGenerate(opts);
}

export async function measureGenerate(opts: BenchGenerateOptions): Promise<Record<string, unknown>> {
  const name = opts.config as BenchConfigName;
  if (name !== 'tiny' && name !== 'full') throw new Error(`--config must be tiny or full, got ${opts.config}`);
  const threads = Number(opts.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${opts.threads}`);
  const B = Number(opts.batch ?? 1);
  const repeat = Number(opts.repeat ?? (name === 'tiny' ? 3 : 1));
  const say = opts.quiet ? () => {} : (s: string) => console.log(s);
  const precisions = (opts.precision ?? 'float32').split(',').map((p) => p.trim()) as MatmulPrecision[];
  for (const p of precisions) if (!MATMUL_PRECISIONS.includes(p)) throw new Error(`--precision: ${p} is not one of ${MATMUL_PRECISIONS.join(', ')}`);
  const size = Number(opts.size ?? 1024);
  if (name === 'tiny' && opts.size !== undefined) throw new Error('--size applies to --config full (the tiny fixture is 128 px)');
  const cacheDir = opts.cacheDir ?? mkdtempSync(join(tmpdir(), 'hart-bench-cache-'));
  const loads: LoadEvent[] = [];
  const rt = nodeRuntime({
    threads, memPattern: opts.memPattern === undefined ? undefined : opts.memPattern !== 'off',
    // the tiny models are all below the cache's default threshold: cache them too, to measure
    modelCache: { dir: cacheDir, minBytes: name === 'tiny' ? 0 : undefined },
    onLoad: (e) => { loads.push(e); if (e.bytes > 2 ** 26) say(`  loaded ${(e.bytes / 2 ** 20).toFixed(0)} MiB ${e.source === 'disk-cache' ? 'from the disk cache' : `compiled${e.cached ? ' (written to the cache)' : ''}`} in ${e.seconds.toFixed(1)} s`); },
  });
  const teDir = opts.textEncoderFile ? undefined : mkdtempSync(join(tmpdir(), 'hart-bench-text-'));
  const textEncoderFile = opts.textEncoderFile ?? join(teDir!, 'text-encoder.safetensors');
  try {
    return await measureWith(opts, { name, threads, B, repeat, say, precisions, size, rt, cacheDir, loads, textEncoderFile });
  } finally {
    if (!opts.cacheDir) rmSync(cacheDir, { recursive: true, force: true });
    if (teDir) rmSync(teDir, { recursive: true, force: true });
  }
}

interface MeasureContext {
  name: BenchConfigName; threads: number; B: number; repeat: number; say: (s: string) => void;
  precisions: MatmulPrecision[]; size: number; rt: ReturnType<typeof nodeRuntime>; cacheDir: string; loads: LoadEvent[];
  /** The random text encoder's bfloat16 safetensors file (written first when missing). */
  textEncoderFile: string;
}

async function measureWith(opts: BenchGenerateOptions, c: MeasureContext): Promise<Record<string, unknown>> {
  const { name, threads, B, repeat, say, precisions, size, rt } = c;
  const gen = { skipDecode: !!opts.skipDecode, moreSmooth: !!opts.moreSmooth };

  say(`hart bench generate --config ${name}: ${threads} threads, batch ${B}, ${repeat} generation(s)`);
  const peak = await MatmulPeak.create(rt);
  const peakStart = await peak.measure(7);
  const gemmStart = await MatmulPeak.weightGemm(rt);
  say(`ORT MatMul 1024³ before: ${peakStart.toFixed(1)} GFLOP/s; weight GEMM [2048×1536]·const[1536×4096]: ${gemmStart.toFixed(1)} GFLOP/s`);

  // ---- text encoder: load, encode (timed), release
  const contextDim = name === 'full' ? 1536 : 32;
  const T = name === 'full' ? 300 : 8;
  const textCfg = benchTextConfig(name, contextDim);
  const sysTokens = opts.systemTokens !== undefined ? Number(opts.systemTokens) : name === 'full' ? SYSTEM_PROMPT_TOKENS : 16;
  const L = sysTokens + T;
  const loadSeconds: Record<string, number> = {};
  const textTimes: number[] = [];
  let textMem: StageMemory | undefined;
  let context: HostTensor;
  const validTokens = Math.min(T, name === 'full' ? 40 : 5);
  if (opts.skipText) {
    const u = new Philox(7).normal(stream(0x1fffd, 0), 0, B * T * contextDim);
    context = { dtype: 'float32', shape: [B, T, contextDim], data: u };
  } else {
    // The weights are loaded from a file, as from a user's model folder: drawing 1.5 G random values
    // on the fly would be timed as loading (and the released text encoder is bfloat16 on disk).
    let t = performance.now();
    const teFile = c.textEncoderFile;
    if (!existsSync(teFile)) {
      const bytes = await writeRandomQwen2File(textCfg, 3, teFile);
      say(`text encoder: random weights written to ${teFile} (${gib(bytes)} GiB bfloat16) in ${secs(performance.now() - t).toFixed(1)} s (not timed as loading)`);
    }
    t = performance.now();
    // 256 MiB of source weights per graph (two Qwen2-1.5B layers in bfloat16): emitting a graph holds
    // its weights ~3× in JS for a moment, so smaller graphs keep the loading peak low.
    const loadEncoder = async () => {
      const source = await openTensorFile(teFile);
      try {
        return await Qwen2Encoder.load(textCfg, source, rt, { maxSegmentBytes: 2 ** 28 });
      } finally {
        await source.close();
      }
    };
    let enc = await loadEncoder();
    loadSeconds.text_encoder = loadSeconds.text_encoder_cold = r1(secs(performance.now() - t));
    say(`text encoder (Qwen2 ${textCfg.num_hidden_layers} layers, hidden ${textCfg.hidden_size}, random) loaded in ${loadSeconds.text_encoder} s (cold), ${enc.segmentCount} graph(s); RSS ${gib(rssBytes())} GiB`);
    if (opts.warm !== false) {
      await enc.release();
      t = performance.now();
      enc = await loadEncoder();
      loadSeconds.text_encoder_warm = r1(secs(performance.now() - t));
      say(`text encoder loaded again in ${loadSeconds.text_encoder_warm} s (warm: from the on-disk model cache)`);
    }
    // the system prompt's keys/values once per loaded encoder (Qwen2Encoder.prefix), then each batch
    // of prompts' T tokens attending to them
    // (each row's draw starts with random "system" ids; one system prompt serves all rows: row 0's)
    const ids = new Int32Array(B * T), mask = new Uint8Array(B * T);
    const sysIds = Array.from(promptIds(textCfg.vocab_size, sysTokens, T, validTokens, 11).ids.subarray(0, sysTokens));
    for (let b = 0; b < B; b++) {
      const p = promptIds(textCfg.vocab_size, sysTokens, T, validTokens, 11 + b);
      ids.set(p.ids.subarray(sysTokens), b * T); mask.set(p.mask.subarray(sysTokens), b * T);
    }
    t = performance.now();
    const prefix = sysTokens > 0 ? await enc.prefix(sysIds) : undefined;
    loadSeconds.text_encoder_prefix = r3(secs(performance.now() - t));
    let hidden: HostTensor | undefined;
    for (let r = 0; r < repeat; r++) {
      const sp = new StagePeak();
      sp.start();
      t = performance.now();
      hidden = await enc.forward(ids, mask, B, prefix);
      textTimes.push(secs(performance.now() - t));
      textMem = sp.stop();
    }
    context = { dtype: 'float32', shape: [B, T, contextDim], data: hidden!.data as Float32Array };
    await enc.release();
    say(`text encoder: ${T} tokens after the ${sysTokens} system-prompt tokens (computed once, ${loadSeconds.text_encoder_prefix} s), ${median(textTimes).toFixed(3)} s; released, RSS ${gib(rssBytes())} GiB`);
  }
  if (!(context.data as Float32Array).every(Number.isFinite)) throw new Error('text encoder output is not finite');

  // ---- HART parts
  const attn = {
    headGroups: opts.headGroups ? Number(opts.headGroups) : undefined, kernel: opts.kernel as 'graph' | 'mha' | undefined,
    queryChunk: opts.queryChunk ? Number(opts.queryChunk) : undefined,
  };
  const load = () => (name === 'tiny' ? loadTinyModel(rt, opts.fixture ?? defaultFixtureDir()) : buildFullModel(rt, { ...attn, precision: precisions[0] }, say, size));
  let t0 = performance.now();
  let model: BenchModel = await load();
  loadSeconds.hart = loadSeconds.hart_cold = r1(secs(performance.now() - t0));
  // drawing random weights is timed with the load; a user's loader reads a file instead (the text
  // encoder above is read from one): the figures less the drawing are reported beside
  const drawn: number[] = [model.drawSeconds()];
  if (opts.warm !== false) {
    say(`HART parts loaded in ${loadSeconds.hart_cold} s (cold: compiled, written to the on-disk model cache ${c.cacheDir}); loading again`);
    await model.parts.transformer.release(rt);
    await model.parts.diffusion.release(rt);
    t0 = performance.now();
    model = await load();
    loadSeconds.hart_warm = r1(secs(performance.now() - t0));
    drawn.push(model.drawSeconds());
    say(`HART parts loaded in ${loadSeconds.hart_warm} s (warm: from the on-disk model cache)`);
  }
  if (drawn[0] > 0) {
    loadSeconds.hart_cold_drawing = r1(drawn[0]);
    loadSeconds.hart_cold_less_drawing = r1(loadSeconds.hart_cold - drawn[0]);
    if (drawn.length > 1) {
      loadSeconds.hart_warm_drawing = r1(drawn[1]);
      loadSeconds.hart_warm_less_drawing = r1(loadSeconds.hart_warm - drawn[1]);
    }
    say(`  of which drawing random weights: cold ${loadSeconds.hart_cold_drawing} s, warm ${loadSeconds.hart_warm_drawing ?? '-'} s`);
  }
  if (name === 'tiny' && precisions[0] !== 'float32') {
    await model.parts.transformer.release(rt);
    model.parts.transformer = await model.makeTransformer({ ...attn, precision: precisions[0] });
  }
  const d = model.parts.transformer.dims;
  const N = d.numScales, G = d.patchNums[N - 1];
  const scalesToRun = opts.scales ? Math.min(N, Number(opts.scales)) : N;
  if (!(scalesToRun >= 1)) throw new Error(`--scales must be in 1..${N}`);
  say(`HART parts ready in ${loadSeconds.hart} s (${model.description}); RSS ${gib(rssBytes())} GiB`);
  const used = attentionOptions(d, attn);
  say(`  transformer C ${d.C}, depth ${d.depth}, heads ${d.heads} (head groups ${used.kernel === 'mha' ? 'mha kernel' : `${used.headGroups}, query chunk ${used.queryChunk}`}), `
    + `T ${d.T}, ${N} scales to ${G}×${G} (L = ${d.L}); image ${G * 16}×${G * 16}`);

  const flops = generationFlops({
    transformer: model.shape, diffusion: { ...model.diffusionConfig }, decoder: model.decoder, B,
    diffusionSteps: Number(model.diffusionConfig.num_sampling_steps), guided: true,
    text: opts.skipText ? undefined : { config: textCfg, tokens: T, prefixTokens: sysTokens },
  });
  // float32 K and V of every block for the CFG batch: the whole sequence (what the official cache
  // reaches) and what HartTransformer holds (the last scale's keys are never stored)
  const kvBytes = 2 * d.depth * 2 * B * (d.T + d.L - 1) * d.C * 4;
  const kvHeld = 2 * d.depth * 2 * B * (d.T + d.imageTokensBeforeLast) * d.C * 4;
  say(`FLOPs: total ${(flops.total / 1e12).toFixed(3)} T (text ${(flops.text_encoder / 1e9).toFixed(1)} G, scales ${(flops.scales.reduce((a, b) => a + b, 0) / 1e12).toFixed(3)} T, `
    + `diffusion ${(flops.diffusion / 1e9).toFixed(1)} G, decode ${(flops.decode / 1e9).toFixed(1)} G)`);
  say(`KV cache: ${gib(kvBytes)} GiB for all ${d.T + d.L - 1} tokens; held: ${gib(kvHeld)} GiB (${d.T + d.imageTokensBeforeLast} tokens, allocated once)`);

  // ---- warm-up: the tokenizer's per-scale graphs compile on first use (the decoder's too, which
  // at full size is not run twice: its compilation stays inside the decode stage)
  t0 = performance.now();
  if (name === 'tiny') {
    await timeGeneration(model.parts, context, B, validTokens, N, gen, () => {});
  } else {
    const Cv = d.Cvae;
    const zeros = (pn: number): HostTensor => ({ dtype: 'float32', shape: [B, Cv, pn, pn], data: new Float32Array(B * Cv * pn * pn) });
    for (let si = 0; si < N - 1; si++) await model.parts.tokenizer.nextAutoregressiveInput(si, zeros(G), zeros(d.patchNums[si]), { patchNums: d.patchNums });
  }
  loadSeconds.warm_up = r1(secs(performance.now() - t0));

  // ---- generations (full: MatMul-peak probes between the stages, outside their times)
  const probe = name === 'full' ? async () => { await peak.measure(3); } : undefined;
  const runs: RunRecord[] = [];
  if (opts.singleShot && repeat !== 1) throw new Error('--single-shot times exactly one generation (--repeat 1)');
  const release = opts.singleShot
    ? async () => { await model.parts.transformer.release(rt); await model.parts.diffusion.release(rt); }
    : undefined;
  // each timed generation another prompt (its features moved a little), so that none is the prompt
  // cache's hit: the official code recomputes every prompt
  const contextOf = (r: number): HostTensor => {
    if (r === 0) return context;
    const data = Float32Array.from(context.data as Float32Array);
    data[0] += r * 1e-3;
    return { ...context, data };
  };
  for (let r = 0; r < repeat; r++) {
    const rec = await timeGeneration(model.parts, contextOf(r), B, validTokens, scalesToRun, gen, say, probe, release);
    rec.times.text_encoder = textTimes[r] ?? 0;
    rec.memory.text_encoder = textMem;
    runs.push(rec);
  }
  // the last prompt again: the transformer's prompt cache skips its context prefix and conditional
  // step 0; a pipeline skips its text encoder as well (its encodings cache), so the new prompt is
  // timed with the text encoder and the repeat without. With --repeat ≥ 2 the new prompt is not the
  // process's first generation (which also computes the unconditional prefix and compiles the decoder).
  let promptRepeat: Record<string, number> | undefined;
  if (opts.promptRepeat) {
    if (opts.singleShot) throw new Error('--prompt-repeat needs a second generation; not with --single-shot');
    const rec = await timeGeneration(model.parts, contextOf(repeat - 1), B, validTokens, scalesToRun, gen, say, probe);
    const last = runs[repeat - 1];
    const newS = last.times.text_encoder + totalOf(last), sameS = totalOf(rec);
    promptRepeat = {
      new_prompt_seconds: r3(newS), same_prompt_seconds: r3(sameS), ratio: r3(sameS / newS),
      text_encoder_seconds: r3(last.times.text_encoder),
      scale0_transformer_seconds_new: r3(last.times.scales_transformer[0]), scale0_transformer_seconds_same: r3(rec.times.scales_transformer[0]),
      new_prompt_is_first_generation: repeat === 1 ? 1 : 0,
    };
    say(`the last prompt again: ${sameS.toFixed(2)} s against ${newS.toFixed(2)} s new (text encoder ${last.times.text_encoder.toFixed(2)} s skipped; scale 0 ${rec.times.scales_transformer[0].toFixed(2)} s against ${last.times.scales_transformer[0].toFixed(2)} s): ratio ${promptRepeat.ratio}${repeat === 1 ? ' (the new prompt was the process\'s first generation: --repeat 2 for a fair one)' : ''}`);
  }
  // ---- other precision modes: the same generation once each, against the first mode's image
  const precisionReport: Record<string, Record<string, number | null>> = {
    [precisions[0]]: { seconds: r3(median(runs.map((r) => totalOf(r)))), transformer_seconds: r3(median(runs.map((r) => r.times.scales_transformer.reduce((a, b) => a + b, 0)))), image_max_abs_diff: 0, psnr_db: null },
  };
  for (const precision of precisions.slice(1)) {
    await model.parts.transformer.release(rt);
    t0 = performance.now();
    model.parts.transformer = await model.makeTransformer({ ...attn, precision });
    const loadS = secs(performance.now() - t0);
    const rec = await timeGeneration(model.parts, context, B, validTokens, scalesToRun, gen, () => {});
    const diff = imageDiff(runs[0].images, rec.images);
    precisionReport[precision] = {
      seconds: r3(totalOf(rec)), transformer_seconds: r3(rec.times.scales_transformer.reduce((a, b) => a + b, 0)),
      load_seconds: r1(loadS), ...diff,
    };
    say(`precision ${precision}: ${totalOf(rec).toFixed(2)} s (transformer ${rec.times.scales_transformer.reduce((a, b) => a + b, 0).toFixed(2)} s) vs ${precisions[0]} ${precisionReport[precisions[0]].seconds} s; image max |Δ| ${diff.image_max_abs_diff}, PSNR ${diff.psnr_db} dB`);
  }
  const peakEnd = await peak.measure(7);
  say(`ORT MatMul 1024³ after: ${peakEnd.toFixed(1)} GFLOP/s (median of all ${peak.seconds.length} probes: ${peak.gflops.toFixed(1)})`);
  const gemmEnd = await MatmulPeak.weightGemm(rt);
  const gemmG = Math.max(gemmStart, gemmEnd);
  say(`weight GEMM after: ${gemmEnd.toFixed(1)} GFLOP/s (reference: the faster of before/after, ${gemmG.toFixed(1)})`);
  const peakG = peak.gflops;
  await rt.dispose();

  const result = report({ name, opts: { ...opts, json: false }, model, flops, runs, peakG, gemmG, peakStart, peakEnd, loadSeconds, B, threads, scalesToRun, kvBytes, kvHeld, L, sysTokens, say });
  result.size = model.parts.transformer.dims.patchNums.at(-1)! * 16;
  result.precision = precisionReport;
  if (promptRepeat) result.prompt_repeat = promptRepeat;
  // each generation's seconds (scales + diffusion + decode; the first one also computes the unconditional prefix unless the disk cache held it)
  result.run_seconds = runs.map((r) => r3(totalOf(r)));
  result.load_events = { compiled: c.loads.filter((e) => e.source === 'compiled').length, from_disk_cache: c.loads.filter((e) => e.source === 'disk-cache').length };
  reportLines(result, say);
  if (opts.json) console.log(JSON.stringify(result));
  return result;
}

/** One generation through runGeneration, stage by stage. */
async function timeGeneration(parts: HartParts, context: HostTensor, B: number, validTokens: number, scalesToRun: number, gen: { skipDecode: boolean; moreSmooth: boolean },
  say: (s: string) => void, probe?: () => Promise<void>, beforeDecode?: () => Promise<void>): Promise<RunRecord> {
  const d = parts.transformer.dims, N = d.numScales;
  const skipDecode = gen.skipDecode;
  const times: StageTimes = { text_encoder: 0, scales: [], scales_transformer: new Array(N).fill(0), diffusion: 0, decode: 0 };
  const memory: RunRecord['memory'] = { scales: [] };
  let stepSi = 0;
  let lastFhat: HostTensor | undefined;
  // MatMul-peak probes between stages (at the start of the next stage's first call), their time
  // excluded from the stages.
  let probeMs = 0;
  const probed = async (): Promise<void> => {
    if (!probe) return;
    const t = performance.now();
    await probe();
    probeMs += performance.now() - t;
  };
  const undo = [
    timeMethod(parts.transformer, 'step', (s) => { times.scales_transformer[stepSi++] += s; }, probed),
    timeMethod(parts.tokenizer, 'nextAutoregressiveInput', (_s, _a, res) => { lastFhat = (res as { f_hat: HostTensor }).f_hat; }),
    timeMethod(parts.diffusion, 'sample', () => {}, probed),
    timeMethod(parts.tokenizer, 'decode', () => {}, probed),
  ];
  if (skipDecode) {
    // keep the loop's contract (an image of the right size) without running the decoder
    undo.pop()!();
    (parts.tokenizer as unknown as Record<string, unknown>).decode = async (f: HostTensor) => {
      const [b, , h, w] = f.shape;
      return { dtype: 'float32', shape: [b, 3, h * 16, w * 16], data: new Float32Array(b * 3 * h * w * 256) };
    };
    undo.push(() => { delete (parts.tokenizer as unknown as Record<string, unknown>).decode; });
  }
  const stage = new StagePeak();
  const abort = new AbortController();
  let mark = performance.now();
  const lap = () => { const now = performance.now(); const s = secs(now - mark - probeMs); mark = now; probeMs = 0; return s; };
  // cumsum(mask) − 1 for a prompt of validTokens tokens, right-padded
  const positionIds = Array.from({ length: B }, () => Array.from({ length: d.T }, (_, i) => Math.min(i, validTokens - 1)));
  stage.start();
  let aborted = false;
  let images: ImageCHW[] | undefined;
  try {
    images = await runGeneration(parts, { context, positionIds }, {
      ...resolveOptions(B, { seed: 1, cfg: 4.5, moreSmooth: gen.moreSmooth }),
      signal: abort.signal,
      beforeDecode,
      onProgress: (e) => {
        if (e.stage === 'scale') {
          times.scales.push(lap());
          memory.scales.push(stage.stop());
          say(`  scale ${e.step} (${d.patchNums[e.step]}²): ${times.scales.at(-1)!.toFixed(3)} s (transformer ${times.scales_transformer[e.step].toFixed(3)} s), RSS peak ${memory.scales.at(-1)!.peak_gib} GiB`);
          stage.start();
          if (e.step + 1 >= scalesToRun) abort.abort(new Error('scales limit'));
        } else if (e.stage === 'diffusion') {
          times.scales.push(lap());
          memory.scales.push(stage.stop());
          say(`  scale ${N - 1} (${d.patchNums[N - 1]}²): ${times.scales.at(-1)!.toFixed(3)} s (transformer ${times.scales_transformer[N - 1].toFixed(3)} s), RSS peak ${memory.scales.at(-1)!.peak_gib} GiB`);
          stage.start();
        } else if (e.stage === 'decode') {
          times.diffusion = lap();
          memory.diffusion = stage.stop();
          say(`  diffusion: ${times.diffusion.toFixed(3)} s, RSS peak ${memory.diffusion.peak_gib} GiB`);
          stage.start();
        } else if (e.stage === 'done') {
          times.decode = lap();
          memory.decode = stage.stop();
          say(`  decode${skipDecode ? ' (skipped)' : ''}: ${times.decode.toFixed(3)} s, RSS peak ${memory.decode.peak_gib} GiB`);
        }
      },
    });
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    aborted = true;
  } finally {
    for (const u of undo) u();
  }
  const standalone = { diffusion: false, decode: false };
  if (aborted) {
    // The loop stopped early: run the diffusion and the decode on inputs of their real shapes.
    const l = d.patchNums[N - 1] ** 2;
    const rows = B * l;
    const z = new Philox(5).normal(stream(0x1fffc, 0), 0, 2 * rows * d.C);
    const rngs = Array.from({ length: B }, (_, b) => new Philox(1 + b));
    await probe?.();
    stage.start();
    let t = performance.now();
    await parts.diffusion.sample(z.subarray(0, rows * d.C), {
      cfg: diffusionCfg(4.5, N), zUncond: z.subarray(rows * d.C), noise: philoxNoise(rngs, l), steps: parts.diffusion.config.num_sampling_steps,
    });
    times.diffusion = secs(performance.now() - t);
    memory.diffusion = stage.stop();
    standalone.diffusion = true;
    say(`  diffusion (standalone, random condition [${2 * rows}, ${d.C}]): ${times.diffusion.toFixed(3)} s, RSS peak ${memory.diffusion.peak_gib} GiB`);
    if (!skipDecode && lastFhat) {
      await probe?.();
      stage.start();
      t = performance.now();
      await parts.tokenizer.decode(lastFhat, { clamp: true });
      times.decode = secs(performance.now() - t);
      memory.decode = stage.stop();
      standalone.decode = true;
      say(`  decode (standalone, f_hat after scale ${scalesToRun - 1}): ${times.decode.toFixed(3)} s, RSS peak ${memory.decode.peak_gib} GiB`);
    }
  }
  return { images, times, memory, scalesRun: times.scales.length, standalone };
}

/** Seconds of a generation's stages (text encoder excluded: it is timed apart). */
function totalOf(r: RunRecord): number {
  return r.times.scales.reduce((a, b) => a + b, 0) + r.times.diffusion + r.times.decode;
}

/** max |a − b| over every pixel of every image ([0, 1] values) and the PSNR of b against a (peak 1). */
function imageDiff(a?: ImageCHW[], b?: ImageCHW[]): { image_max_abs_diff: number | null; psnr_db: number | null } {
  if (!a || !b || a.length !== b.length) return { image_max_abs_diff: null, psnr_db: null };
  let m = 0, se = 0, n = 0;
  a.forEach((im, k) => im.data.forEach((v, i) => { const d = v - b[k].data[i]; m = Math.max(m, Math.abs(d)); se += d * d; n++; }));
  const mse = se / n;
  return { image_max_abs_diff: Number(m.toPrecision(3)), psnr_db: mse === 0 ? Infinity : r1(10 * Math.log10(1 / mse)) };
}

/** The lines the cold/warm loads and the precision modes add to the report. */
function reportLines(r: Record<string, unknown>, say: (s: string) => void): void {
  const l = r.load_seconds as Record<string, number>;
  say(`load: HART parts cold ${l.hart_cold} s, warm ${l.hart_warm ?? '-'} s`
    + `${l.hart_cold_drawing !== undefined ? ` (less drawing random weights: ${l.hart_cold_less_drawing} s, ${l.hart_warm_less_drawing ?? '-'} s)` : ''}`
    + `; text encoder cold ${l.text_encoder_cold ?? '-'} s, warm ${l.text_encoder_warm ?? '-'} s (read from a bfloat16 file)`
    + `, its system prompt's keys/values ${l.text_encoder_prefix ?? '-'} s (once per loaded encoder)`);
  for (const [p, v] of Object.entries(r.precision as Record<string, Record<string, number | null>>)) {
    say(`precision ${p.padEnd(8)} ${String(v.seconds).padStart(8)} s  transformer ${v.transformer_seconds} s  image max |Δ| ${v.image_max_abs_diff}  PSNR ${v.psnr_db ?? '-'} dB`);
  }
}

interface ReportInput {
  name: BenchConfigName; opts: BenchGenerateOptions; model: BenchModel; flops: GenerationFlops; runs: RunRecord[];
  peakG: number; gemmG: number; peakStart: number; peakEnd: number; loadSeconds: Record<string, number>; B: number; threads: number;
  scalesToRun: number; kvBytes: number; kvHeld: number; L: number; sysTokens: number; say: (s: string) => void;
}

function report(x: ReportInput): Record<string, unknown> {
  const { flops, runs, peakG, say } = x;
  const d = x.model.parts.transformer.dims, N = d.numScales;
  const med = (f: (r: RunRecord) => number) => median(runs.map(f));
  const ran = runs[0].scalesRun;
  const scaleS = Array.from({ length: ran }, (_, si) => med((r) => r.times.scales[si]));
  const scaleTS = Array.from({ length: ran }, (_, si) => med((r) => r.times.scales_transformer[si]));
  const textS = med((r) => r.times.text_encoder), diffS = med((r) => r.times.diffusion), decS = med((r) => r.times.decode);
  const gf = (f: number, s: number) => (s > 0 ? f / s / 1e9 : null);
  const ratio = (f: number, s: number) => (s > 0 ? r3(f / s / 1e9 / peakG) : null);
  const sumTo = (a: number[], n: number) => a.slice(0, n).reduce((p, q) => p + q, 0);

  const transformerS = sumTo(scaleTS, ran), transformerF = sumTo(flops.scales_transformer, ran);
  const measuredS = textS + sumTo(scaleS, ran) + diffS + (x.opts.skipDecode ? 0 : decS);
  const measuredF = flops.text_encoder + sumTo(flops.scales, ran) + flops.diffusion + (x.opts.skipDecode ? 0 : flops.decode);
  const complete = ran === N && !x.opts.skipDecode;

  say('');
  say(`stage            seconds    GFLOP   GFLOP/s  ratio to MatMul ${peakG.toFixed(1)} GFLOP/s`);
  const line = (label: string, s: number, f: number) =>
    say(`${label.padEnd(16)} ${s.toFixed(3).padStart(8)} ${(f / 1e9).toFixed(1).padStart(8)} ${(gf(f, s) ?? 0).toFixed(1).padStart(9)}  ${ratio(f, s) ?? '-'}`);
  if (!x.opts.skipText) line('text encoder', textS, flops.text_encoder);
  scaleS.forEach((s, si) => line(`scale ${si} (${d.patchNums[si]}²)`, s, flops.scales[si]));
  line(`diffusion${runs[0].standalone.diffusion ? '*' : ''}`, diffS, flops.diffusion);
  if (!x.opts.skipDecode) line(`decode${runs[0].standalone.decode ? '*' : ''}`, decS, flops.decode);
  line('transformer', transformerS, transformerF);
  line('pipeline', measuredS, measuredF);
  if (runs[0].standalone.diffusion) say('* standalone on inputs of the real shapes (the loop was stopped by --scales)');

  const floorS = measuredF / 1e9 / peakG;
  say(`FLOP floor at the MatMul peak: ${floorS.toFixed(2)} s; measured ${measuredS.toFixed(2)} s = ${(measuredS / floorS).toFixed(2)}× the floor${complete ? '' : ' (for the stages that ran)'}`);

  // Extrapolation of the scales that did not run: their FLOPs at the achieved GFLOP/s of the last scale that ran.
  let extrapolated: Record<string, unknown> | undefined;
  if (ran < N) {
    const rate = flops.scales[ran - 1] / scaleS[ran - 1];
    const missing = flops.scales.slice(ran).map((f) => f / rate);
    const totalS = measuredS + missing.reduce((a, b) => a + b, 0) + (x.opts.skipDecode ? flops.decode / (gf(flops.decode, decS) ?? peakG * 1e9) : 0);
    extrapolated = {
      method: `scales ${ran}..${N - 1} not run: their FLOPs at the GFLOP/s achieved by scale ${ran - 1} (${r1(rate / 1e9)} GFLOP/s); NOT measured`,
      scales_seconds: missing.map(r3),
      pipeline_seconds: r1(totalS),
      pipeline_vs_floor: r3(totalS / (flops.total / 1e9 / peakG)),
    };
    say(`EXTRAPOLATED (not measured): scales ${ran}..${N - 1} ≈ ${missing.map((s) => s.toFixed(0)).join(' + ')} s at ${(rate / 1e9).toFixed(1)} GFLOP/s → pipeline ≈ ${totalS.toFixed(0)} s, ${(totalS / (flops.total / 1e9 / peakG)).toFixed(2)}× the full floor`);
  }

  const maxRss = maxRssBytes();
  const mem = runs[0].memory;
  const stagePeaks = [mem.text_encoder?.peak_gib ?? 0, ...mem.scales.map((m) => m.peak_gib), mem.diffusion?.peak_gib ?? 0, mem.decode?.peak_gib ?? 0];
  say(`peak RSS ${gib(maxRss)} GiB (whole process, loading included); during the generation ${Math.max(...stagePeaks)} GiB`);

  const result: Record<string, unknown> = {
    bench: 'generate', config: x.name, threads: x.threads, batch: x.B, image: [d.patchNums[N - 1] * 16, d.patchNums[N - 1] * 16],
    scales: N, scales_run: ran, complete, repeat: runs.length,
    text_tokens: x.opts.skipText ? 0 : x.L - x.sysTokens, system_tokens: x.opts.skipText ? 0 : x.sysTokens,
    matmul_gflops: r1(peakG), matmul_gflops_before: r1(x.peakStart), matmul_gflops_after: r1(x.peakEnd),
    weight_gemm_gflops: r1(x.gemmG),
    seconds: {
      text_encoder: r3(textS), scales: scaleS.map(r3), diffusion: r3(diffS), decode: x.opts.skipDecode ? null : r3(decS),
      transformer: r3(transformerS), scales_transformer: scaleTS.map(r3), total: r3(measuredS),
    },
    gflop: {
      text_encoder: r1(flops.text_encoder / 1e9), scales: flops.scales.map((f) => r3(f / 1e9)), diffusion: r1(flops.diffusion / 1e9),
      decode: r1(flops.decode / 1e9), total: r1(flops.total / 1e9),
    },
    gflops: {
      text_encoder: x.opts.skipText ? null : r1(gf(flops.text_encoder, textS)!), scales: scaleS.map((s, si) => r1(gf(flops.scales[si], s)!)),
      diffusion: r1(gf(flops.diffusion, diffS)!), decode: x.opts.skipDecode ? null : r1(gf(flops.decode, decS)!),
      transformer: r1(gf(transformerF, transformerS)!), total: r1(gf(measuredF, measuredS)!),
    },
    ratio_to_peak: {
      text_encoder: x.opts.skipText ? null : ratio(flops.text_encoder, textS), scales: scaleS.map((s, si) => ratio(flops.scales[si], s)),
      diffusion: ratio(flops.diffusion, diffS), decode: x.opts.skipDecode ? null : ratio(flops.decode, decS),
      transformer: ratio(transformerF, transformerS), total: ratio(measuredF, measuredS),
    },
    floor_seconds: r3(floorS), pipeline_vs_floor: r3(measuredS / floorS),
    pipeline_vs_weight_gemm_floor: r3(measuredS / (measuredF / 1e9 / x.gemmG)),
    standalone: runs[0].standalone,
    ...(extrapolated ? { extrapolated } : {}),
    rss_gib: {
      peak: gib(maxRss), generation_peak: Math.max(...stagePeaks),
      text_encoder: mem.text_encoder ?? null, scales: mem.scales, diffusion: mem.diffusion ?? null, decode: mem.decode ?? null,
      kv_cache_all_tokens: gib(x.kvBytes), kv_cache_held: gib(x.kvHeld),
    },
    load_seconds: x.loadSeconds,
  };
  if (x.opts.json) console.log(JSON.stringify(result));
  return result;
}
