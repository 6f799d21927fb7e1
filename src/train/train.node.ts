// `hart train <recipe>`: runs a recipe's stages (tokenizer, then text encoder + transformer +
// residual diffusion) in a run folder, with a progress line (loss, samples/s, achieved GFLOP/s,
// ETA), a JSONL log of every step, periodic sample grids, atomic checkpoints (every
// `checkpoint_every` steps, at the end of a stage and on Ctrl-C), `--resume` that continues
// bitwise where the run stopped, a clear stop on a non-finite loss (the last good checkpoint
// stays), and finally a HART.js model folder that `hart generate --model` loads.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { nodeRuntime } from '../runtime/node.node.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { parseRecipe, stageFingerprint, type Recipe } from './recipe.ts';
import { readCheckpoint, writeCheckpoint, type CheckpointState } from './checkpoint.node.ts';
import { TokenizerStage, TransformerStage, type StepReport, type TrainBatch } from './stages.ts';
import { codeNeighbours, loadEncoder, SELF_CORRECTION_NEIGHBOURS } from './transformer-batch.ts';
import { writeModelFolder } from './model-folder.node.ts';
import { modelCard } from './model-card.ts';
import { parseQwen2Config, type Qwen2Config } from '../models/text/config.ts';
import { PromptTokenizer } from '../models/text/prompt-tokenizer.ts';
import { MapWeightStore, type StoredTensor } from '../nn/index.ts';
import { readTensorFile, writeSafetensorsFile } from '../io/files.node.ts';
import type { Tensor as IoTensor } from '../io/dtypes.ts';
import { BatchSource, Prefetcher } from './data/stream.ts';
import { loadEmojiDataset } from './data/emoji.node.ts';
import type { EmojiDataset } from './data/emoji-join.ts';
import { buildCaptionTokenizer } from './data/caption-tokenizer.ts';
import { sceneVocabulary } from './data/scene-vocab.ts';
import { writeSampleGrid } from './samples.node.ts';
import { UserError } from '../pipeline/default-model.node.ts';
import { checkCaptionTokenizer, initFingerprint, readInitWeights } from './init-from.node.ts';
import { flattenLineage } from './lineage.ts';

export interface TrainOptions {
  /** Run folder (default runs/<recipe name>). */
  run?: string;
  resume?: boolean;
  /** Copy the finished model folder here too. */
  out?: string;
  threads?: number;
  quiet?: boolean;
  /** Stop (with a checkpoint) after this many steps of this invocation: for tests and staged runs. */
  maxSteps?: number;
  /** Storage of the model folder's float weights. */
  dtype?: 'float32' | 'float16';
  /** Replace the emoji data (tests): null = scenes only. */
  emoji?: EmojiDataset | null;
  /** Replace the data altogether (tests): the batch of a step, a pure function of (stage, step, size). */
  batches?: (stage: 'tokenizer' | 'transformer' | 'decoder', step: number, size: number) => TrainBatch;
  /** Replace the text-tokenizer's training captions (with `batches`). */
  captions?: string[];
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface TrainResult {
  runDir: string;
  /** The model folder, when the run finished. */
  modelDir?: string;
  stopped: 'finished' | 'max-steps' | 'interrupted';
  stage: 'tokenizer' | 'transformer' | 'decoder' | 'done';
  step: number;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** Captions the caption tokenizer is built from: the training emoji's and the scenes vocabulary. */
function tokenizerCaptions(emoji: EmojiDataset | null): string[] {
  const caps = emoji ? emoji.records.filter((r) => !r.heldOut).map((r) => r.caption) : [];
  return [...caps, ...sceneVocabulary()];
}

export async function runTraining(recipeJson: unknown, recipeText: string, o: TrainOptions = {}): Promise<TrainResult> {
  let recipe: Recipe;
  try {
    recipe = parseRecipe(recipeJson);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const runDir = resolve(o.run ?? join('runs', recipe.name));
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  // a run that starts from a model folder depends on that folder's weights too
  const initHash = recipe.init !== null ? await initFingerprint(recipe.init) : null;
  const fingerprint = (stage: 'tokenizer' | 'transformer' | 'decoder') =>
    createHash('sha256').update(JSON.stringify(stageFingerprint(recipe, stage))).update(initHash ?? '').digest('hex');
  await mkdir(runDir, { recursive: true });
  const ck = o.resume ? await readCheckpoint(runDir) : null;
  if (!o.resume && existsSync(join(runDir, 'checkpoint.json'))) {
    throw new UserError(`${runDir} already holds a run: continue it with --resume, or pick another --run folder`);
  }
  if (o.resume && !ck && !existsSync(join(runDir, 'tokenizer.safetensors'))) {
    throw new UserError(`${runDir} has no checkpoint to resume; start the run without --resume`);
  }
  if (ck && ck.state.recipe_sha256 !== fingerprint(ck.state.stage)) {
    throw new UserError(`${runDir} was started with a different recipe (its data, sizes or schedules up to the ${ck.state.stage} stage differ); resume with the same recipe`);
  }
  await writeFile(join(runDir, 'recipe.json'), recipeText);
  // threads: nodeRuntime's default, the physical cores (ONNX Runtime's own choice can be 1 on a 2-vCPU machine);
  // intra-op threads spin within a run and stop at its end (nodeRuntime's default): `npx hart bench train
  // --recipe recipes/default-18.json --rounds 3` alternating, transformer step 1.55 / 1.57 s sleeping,
  // 1.49 / 1.47 s spinning; tokenizer 12.3 / 12.0 against 13.2 / 15.5 samples/s
  const runtime = nodeRuntime({ threads: o.threads });
  const init = recipe.init !== null ? await readInitWeights(recipe.init, recipe) : null;
  if (init) log(`starting from the weights of ${init.dir}`);
  const emoji = o.emoji !== undefined ? o.emoji : (recipe.data.emoji > 0 ? loadEmojiDataset({ sets: recipe.data.emoji_sets }) : null);
  // the caption tokenizer is a function of the data alone; an init folder's must be the same
  const cap = buildCaptionTokenizer(o.captions ?? tokenizerCaptions(emoji));
  if (init) checkCaptionTokenizer(init, cap.tokenizerJson);
  let budget = o.maxSteps ?? Infinity;
  const logFile = join(runDir, 'log.jsonl');

  const progress = (stage: string, r: StepReport, total: number, sps: number, gflops: number, eta: number) => {
    if (o.quiet) return;
    const m = Object.entries(r.metrics).filter(([, v]) => Number.isFinite(v)).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(' ');
    const bar = '█'.repeat(Math.round((20 * (r.step + 1)) / total)).padEnd(20, '·');
    log(`${stage} ${bar} ${r.step + 1}/${total} loss ${r.loss.toFixed(4)} ${m} lr ${r.lr.toExponential(2)} | ${sps.toFixed(1)} samples/s ${gflops.toFixed(1)} GFLOP/s ETA ${fmtTime(eta)}`);
  };

  /** The step a stage starts at: its checkpoint's, restored into `stage`, when the run stopped in it. */
  const resume = (name: CheckpointState['stage'], stage: { restore(t: Map<string, IoTensor>, step: number): void }): number => {
    if (ck?.state.stage !== name) return 0;
    stage.restore(ck.tensors, ck.state.step);
    log(`resumed the ${name} stage at step ${ck.state.step}`);
    return ck.state.step;
  };

  // ---------------- stage 1: the hybrid tokenizer ----------------
  const tokDir = join(runDir, 'tokenizer.safetensors');
  let tokWeights: Map<string, IoTensor>;
  if (ck?.state.stage === 'transformer' || ck?.state.stage === 'decoder' || (ck === null && existsSync(tokDir) && o.resume)) {
    tokWeights = await readTensorFile(tokDir);
  } else if (init && recipe.tokenizer.steps === 0) {
    tokWeights = init.tokenizer; // kept as it is
    await writeSafetensorsFile(tokDir, tokWeights);
  } else {
    const stage = new TokenizerStage(recipe, init ? { weights: init.tokenizer } : {});
    await stage.load(runtime);
    const start = resume('tokenizer', stage);
    const r = await runStage('tokenizer', start, recipe.tokenizer.steps, recipe.checkpoint_every, stage.flopsPerSample,
      batchProvider(recipe, 'tokenizer', recipe.tokenizer.batch, recipe.seed, emoji, start, o.batches), {
      step: (s, b) => stage.step(s, b),
      checkpoint: (s) => writeCheckpoint(runDir, { stage: 'tokenizer', step: s, recipe_sha256: fingerprint('tokenizer') }, stage.stateTensors()),
      budget: () => budget--, signal: o.signal, logFile, progress,
    });
    if (r !== 'finished') return { runDir, stopped: r.reason, stage: 'tokenizer', step: r.step };
    tokWeights = stage.weights();
    await writeSafetensorsFile(tokDir, tokWeights);
  }

  // ---------------- stage 2: text encoder + transformer + residual diffusion ----------------
  const textConfig: Qwen2Config = parseQwen2Config({ ...recipe.text_encoder.config, model_type: 'qwen2', vocab_size: cap.vocab.size });
  const t = recipe.transformer;
  const trFile = join(runDir, 'transformer.safetensors');
  let trWeights: Map<string, IoTensor>;
  let trSteps = t.steps;
  const folder = async (dir: string, dtype: 'float32' | 'float16', tok: Map<string, IoTensor>, tr: Map<string, IoTensor>, steps: Record<string, number>) => {
    await writeModelFolder(dir, {
      recipe, textConfig, tokenizerWeights: tok, transformerWeights: tr,
      tokenizerJson: cap.tokenizerJson, tokenizerConfig: cap.tokenizerConfig, dtype,
      modelCard: modelCard(recipe, { steps: steps.transformer }),
      sources: { steps, ...(init ? { init: { from: recipe.init, lineage: flattenLineage(init.sources) } } : {}) },
    });
  };
  const samples = async (s: number, tok: Map<string, IoTensor>, tr: Map<string, IoTensor>, steps: Record<string, number>, tag = '') => {
    if (recipe.sample_prompts.length === 0) return;
    const dir = join(runDir, 'model-latest');
    await folder(dir, 'float32', tok, tr, steps);
    await writeSampleGrid(dir, recipe.sample_prompts, join(runDir, 'samples', `${tag}step-${String(s + 1).padStart(6, '0')}.png`), o.threads);
  };
  if (ck?.state.stage === 'decoder') {
    trWeights = await readTensorFile(trFile);
  } else {
    const tokStore = new MapWeightStore(new Map([...tokWeights].map(([k, v]) => [k, v as unknown as StoredTensor])));
    const codebook = tokWeights.get('quantize.embedding.weight')!.data as Float32Array;
    const selfCorrection = t.self_correction > 0
      ? { neighbours: codeNeighbours(codebook, recipe.tokenizer.config.vocab_size, SELF_CORRECTION_NEIGHBOURS), K: SELF_CORRECTION_NEIGHBOURS }
      : undefined;
    const encodeSession = await loadEncoder(runtime, recipe.tokenizer.config, tokStore, recipe.resolution, recipe.patch_nums, selfCorrection);
    const stage = new TransformerStage(recipe, textConfig, {
      cfg: t.config, textCfg: textConfig, tokCfg: recipe.tokenizer.config,
      codebook, selfCorrection: t.self_correction,
      promptTokenizer: new PromptTokenizer({ tokenizerJson: cap.tokenizerJson, tokenizerConfig: cap.tokenizerConfig }),
      encodeSession, seed: recipe.seed, condDrop: t.cond_drop, keptLast: t.kept_last, diffusionBatchMul: t.config.diffusion_batch_mul,
      diffIndex: t.diff_index,
    }, init?.transformer);
    await stage.load(runtime);
    const start = resume('transformer', stage);
    let pending: Promise<Record<string, import('../runtime/host-tensor.ts').HostTensor>> | null = null;
    const tokSteps = recipe.tokenizer.steps;
    const r = await runStage('transformer', start, t.steps, recipe.checkpoint_every, stage.flopsPerSample,
      batchProvider(recipe, 'transformer', t.batch, recipe.seed + 1, emoji, start, o.batches), {
      // host preparation of step s+1 (tokenizer encode, captions, draws) is started before step s is awaited
      step: async (s, b, next) => {
        const feeds = await (pending ?? stage.feeds(s, b));
        pending = null;
        const run = stage.step(s, feeds);
        if (next) pending = next.then((nb) => stage.feeds(s + 1, nb));
        return run;
      },
      checkpoint: (s) => writeCheckpoint(runDir, { stage: 'transformer', step: s, recipe_sha256: fingerprint('transformer') }, stage.stateTensors()),
      after: async (s) => {
        if (recipe.sample_every > 0 && (s + 1) % recipe.sample_every === 0 && s + 1 < t.steps) {
          await samples(s, tokWeights, stage.weights(true), { tokenizer: tokSteps, transformer: s + 1 });
        }
      },
      budget: () => budget--, signal: o.signal, logFile, progress,
    });
    if (r !== 'finished') return { runDir, stopped: r.reason, stage: 'transformer', step: r.step };
    trWeights = stage.weights(true);
    trSteps = stage.trainer.t;
    await writeSafetensorsFile(trFile, trWeights); // the EMA weights, kept for stage 3 and resumes
    await runtime.evict(encodeSession);
    await stage.trainer.release(runtime);
  }

  // ---------------- stage 3 (optional): the decoder, with the tokens frozen ----------------
  const dcfg = recipe.decoder;
  const steps: Record<string, number> = { tokenizer: recipe.tokenizer.steps, transformer: trSteps };
  if (dcfg && dcfg.steps > 0) {
    const stage = new TokenizerStage(recipe, { weights: tokWeights, decoderOnly: true });
    await stage.load(runtime);
    const start = resume('decoder', stage);
    const r = await runStage('decoder', start, dcfg.steps, recipe.checkpoint_every, stage.flopsPerSample,
      batchProvider(recipe, 'decoder', dcfg.batch, recipe.seed + 2, emoji, start, o.batches), {
      step: (s, b) => stage.step(s, b),
      checkpoint: (s) => writeCheckpoint(runDir, { stage: 'decoder', step: s, recipe_sha256: fingerprint('decoder') }, stage.stateTensors()),
      budget: () => budget--, signal: o.signal, logFile, progress,
    });
    if (r !== 'finished') return { runDir, stopped: r.reason, stage: 'decoder', step: r.step };
    tokWeights = stage.weights();
    steps.decoder = dcfg.steps;
  }
  const modelDir = join(runDir, 'model');
  await folder(modelDir, o.dtype ?? 'float32', tokWeights, trWeights, steps);
  if (o.out) await folder(resolve(o.out), o.dtype ?? 'float32', tokWeights, trWeights, steps);
  await samples(trSteps - 1, tokWeights, trWeights, steps, 'final-');
  log(`finished: model folder ${modelDir}${o.out ? ` and ${resolve(o.out)}` : ''}`);
  return { runDir, modelDir: o.out ? resolve(o.out) : modelDir, stopped: 'finished', stage: 'done', step: trSteps };
}

interface StageHooks {
  /** Runs step s on batch b; `next` (when given) resolves to the batch of step s + 1. */
  step: (s: number, b: { images: Float32Array; captions: string[] }, next?: Promise<{ images: Float32Array; captions: string[] }>) => Promise<StepReport>;
  checkpoint: (stepsDone: number) => Promise<void>;
  after?: (s: number) => Promise<void>;
  /** Steps left for this invocation (decremented per step). */
  budget: () => number;
  signal?: AbortSignal;
  logFile: string;
  progress: (stage: string, r: StepReport, total: number, sps: number, gflops: number, eta: number) => void;
}

/** Batches of a stage from `start` on: the recipe's data mix (prefetched), or the test override. */
function batchProvider(
  recipe: Recipe, stage: 'tokenizer' | 'transformer' | 'decoder', batchSize: number, seed: number, emoji: EmojiDataset | null, start: number,
  override?: TrainOptions['batches'],
): { next(): Promise<TrainBatch> } {
  if (override) {
    let step = start;
    return { next: async () => override(stage, step++, batchSize) };
  }
  const recolour = stage === 'tokenizer' ? recipe.tokenizer.recolour : stage === 'decoder' ? recipe.decoder?.recolour ?? 0 : 0;
  const source = new BatchSource({
    seed, batchSize, weights: { emoji: emoji ? recipe.data.emoji : 0, scenes: recipe.data.scenes }, emoji: emoji ?? undefined, recolour,
    partialCaptions: stage === 'transformer' ? recipe.transformer.partial_captions : 0,
    plainEmojiCaptions: stage === 'transformer' ? recipe.transformer.plain_emoji_captions : 0,
  });
  return new Prefetcher(source, start);
}

async function runStage(
  name: string, start: number, total: number, checkpointEvery: number, flopsPerSample: number,
  pre: { next(): Promise<TrainBatch> }, h: StageHooks,
): Promise<'finished' | { reason: 'max-steps' | 'interrupted'; step: number }> {
  if (start >= total) return 'finished';
  let interrupted = false;
  const onSig = () => { interrupted = true; };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  h.signal?.addEventListener('abort', onSig);
  let lastGood = start;
  const t0 = performance.now();
  let batch = await pre.next();
  const size = batch.captions.length;
  try {
    for (let s = start; s < total; s++) {
      if (interrupted || h.budget() <= 0) {
        await h.checkpoint(s);
        return { reason: interrupted ? 'interrupted' : 'max-steps', step: s };
      }
      const next = s + 1 < total ? pre.next() : undefined;
      const r = await h.step(s, batch, next);
      if (!Number.isFinite(r.loss)) {
        throw new Error(`${name} step ${s + 1}: the loss is ${r.loss}; stopping. The last good checkpoint (step ${lastGood}) is kept: lower the learning rate or raise grad_clip in the recipe, then --resume`);
      }
      await appendFile(h.logFile, `${JSON.stringify({ stage: name, ...r, time: Date.now() })}\n`);
      const done = s + 1 - start, secs = (performance.now() - t0) / 1000;
      const sps = (done * size) / secs;
      if (s === start || (s + 1) % 10 === 0 || s + 1 === total) h.progress(name, r, total, sps, (sps * flopsPerSample) / 1e9, ((total - s - 1) * size) / sps);
      if ((s + 1) % checkpointEvery === 0 || s + 1 === total) {
        await h.checkpoint(s + 1);
        lastGood = s + 1;
      }
      if (h.after) await h.after(s);
      if (next) batch = await next;
    }
  } finally {
    process.removeListener('SIGINT', onSig);
    process.removeListener('SIGTERM', onSig);
    h.signal?.removeEventListener('abort', onSig);
  }
  return 'finished';
}

/** The `hart train` command. */
export async function trainCommand(recipePath: string, opts: { run?: string; resume?: boolean; out?: string; threads?: string; quiet?: boolean; maxSteps?: string; dtype?: string }): Promise<void> {
  let text: string;
  try {
    text = await readFile(recipePath, 'utf8');
  } catch {
    throw new UserError(`cannot read the recipe ${recipePath}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${recipePath} is not valid JSON: ${(e as Error).message}`);
  }
  const int = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UserError(`${what} must be a non-negative integer, got "${v}"`);
    return Number(v);
  };
  if (opts.dtype !== undefined && opts.dtype !== 'float32' && opts.dtype !== 'float16') throw new UserError(`--dtype must be float32 or float16, got "${opts.dtype}"`);
  const r = await runTraining(json, text, {
    run: opts.run, resume: opts.resume, out: opts.out, threads: int(opts.threads, '--threads'), quiet: opts.quiet,
    maxSteps: int(opts.maxSteps, '--max-steps'), dtype: opts.dtype as 'float32' | 'float16' | undefined,
  });
  if (r.stopped !== 'finished') process.stderr.write(`stopped (${r.stopped}) in the ${r.stage} stage after step ${r.step}; continue with: hart train ${recipePath}${opts.run ? ` --run ${opts.run}` : ''} --resume\n`);
}
