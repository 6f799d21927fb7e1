// `hart bench train --json`: the two training steps of a recipe (default recipes/default.json) at
// its sizes, against the machine's MatMul speed measured in the same rounds:
//   tokenizer step    VQGAN encoder + multi-scale quantizer + decoder, losses, backward, AdamW
//   transformer step  Qwen2 text encoder + HART transformer + residual diffusion loss, backward,
//                     AdamW (host preparation of the batch — tokenizer encode, captions, draws —
//                     timed separately as `prep_seconds`)
// Reports samples/s, achieved GFLOP/s (forward + backward MatMul/Conv FLOPs counted from the
// graph, src/train/flops.ts), the ratio to the same-run 1024³ MatMul peak, the step-time spread
// ((max − min)/median) and the process's peak RSS. Rounds interleave the contenders, so a busy
// machine slows all of them alike; say in the figure whether anything else was running.
import { readFile } from 'node:fs/promises';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { parseRecipe } from '../src/train/recipe.ts';
import { TokenizerStage, TransformerStage, type TrainBatch } from '../src/train/stages.ts';
import { loadEncoder } from '../src/train/transformer-batch.ts';
import { buildCaptionTokenizer } from '../src/train/data/caption-tokenizer.ts';
import { sceneVocabulary } from '../src/train/data/scene-vocab.ts';
import { BatchSource } from '../src/train/data/stream.ts';
import { parseQwen2Config } from '../src/models/text/config.ts';
import { PromptTokenizer } from '../src/models/text/prompt-tokenizer.ts';
import { MapWeightStore, type StoredTensor } from '../src/nn/index.ts';
import { MatmulPeak } from './matmul-peak.ts';
import { median, timeIt } from './timing.ts';

export interface BenchTrainOptions { recipe?: string; json?: boolean; threads?: string; rounds?: string }

export async function benchTrain(opts: BenchTrainOptions): Promise<Record<string, unknown>> {
  const path = opts.recipe ?? 'recipes/default.json';
  const recipe = parseRecipe(JSON.parse(await readFile(path, 'utf8')), path);
  const threads = Number(opts.threads ?? 2), rounds = Number(opts.rounds ?? 5);
  const say = (s: string) => { if (!opts.json) console.log(s); };
  const rt = nodeRuntime({ threads }); // as `hart train` runs it (src/train/train.node.ts)
  const peak = await MatmulPeak.create(rt);

  const tok = new TokenizerStage(recipe);
  await tok.load(rt);
  const tokSource = new BatchSource({ seed: 1, batchSize: recipe.tokenizer.batch, weights: { scenes: 1 } });

  const cap = buildCaptionTokenizer(sceneVocabulary());
  const textConfig = parseQwen2Config({ ...recipe.text_encoder.config, model_type: 'qwen2', vocab_size: cap.vocab.size });
  const tokWeights = tok.weights();
  const encodeSession = await loadEncoder(rt, recipe.tokenizer.config,
    new MapWeightStore(new Map([...tokWeights].map(([k, v]) => [k, v as unknown as StoredTensor]))), recipe.resolution, recipe.patch_nums);
  const t = recipe.transformer;
  const tr = new TransformerStage(recipe, textConfig, {
    cfg: t.config, textCfg: textConfig, tokCfg: recipe.tokenizer.config, codebook: tokWeights.get('quantize.embedding.weight')!.data as Float32Array,
    promptTokenizer: new PromptTokenizer({ tokenizerJson: cap.tokenizerJson, tokenizerConfig: cap.tokenizerConfig }),
    encodeSession, seed: 1, condDrop: t.cond_drop, keptLast: t.kept_last, diffusionBatchMul: t.config.diffusion_batch_mul,
  });
  await tr.load(rt);
  const trSource = new BatchSource({ seed: 2, batchSize: t.batch, weights: { scenes: 1 } });

  const tokBatch: TrainBatch = tokSource.batch(0), trBatch: TrainBatch = trSource.batch(0);
  const trFeeds = await tr.feeds(0, trBatch);
  let step = 0;
  // warm-up
  for (let i = 0; i < 2; i++) { await tok.step(step++, tokBatch); await tr.step(step++, trFeeds); }
  const s = { tok: [] as number[], tr: [] as number[], prep: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    await peak.measure(3);
    for (let i = 0; i < 2; i++) s.tok.push(await timeIt(() => tok.step(step++, tokBatch)));
    for (let i = 0; i < 2; i++) s.tr.push(await timeIt(() => tr.step(step++, trFeeds)));
    s.prep.push(await timeIt(() => tr.feeds(step, trBatch)));
    say(`round ${r + 1}/${rounds}: tokenizer ${median(s.tok).toFixed(3)} s, transformer ${median(s.tr).toFixed(3)} s, MatMul ${peak.gflops.toFixed(1)} GFLOP/s`);
  }
  const mm = peak.gflops;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const stageReport = (sec: number[], batch: number, flops: number) => {
    const m = median(sec);
    const gf = (batch * flops) / m / 1e9;
    return {
      samples_per_s: r3(batch / m), gflops: Math.round(gf * 10) / 10, ratio: r3(gf / mm),
      seconds: { median: r3(m), min: r3(Math.min(...sec)), max: r3(Math.max(...sec)) },
      spread: r3((Math.max(...sec) - Math.min(...sec)) / m), batch, gflop_per_sample: r3(flops / 1e9),
    };
  };
  const result = {
    recipe: recipe.name, threads, rounds, matmul_gflops: Math.round(mm * 10) / 10,
    tokenizer: stageReport(s.tok, recipe.tokenizer.batch, tok.flopsPerSample),
    transformer: { ...stageReport(s.tr, t.batch, tr.flopsPerSample), prep_seconds: r3(median(s.prep)) },
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    goals: { tokenizer_ratio: 0.5, transformer_ratio: 0.9 },
  };
  say(`tokenizer: ${result.tokenizer.samples_per_s} samples/s, ${result.tokenizer.gflops} GFLOP/s = ${result.tokenizer.ratio} × MatMul (goal ≥ 0.5)`);
  say(`transformer: ${result.transformer.samples_per_s} samples/s, ${result.transformer.gflops} GFLOP/s = ${result.transformer.ratio} × MatMul (goal ≥ 0.9)`);
  if (opts.json) console.log(JSON.stringify(result));
  await rt.dispose();
  return result;
}
