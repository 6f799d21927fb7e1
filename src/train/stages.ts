// The two training stages of a recipe as step functions around a compiled GraphTrainer:
//   tokenizer stage: the hybrid tokenizer (tokenizer-train.ts), alternating continuous /
//     discrete-only decoding per sample, codebook usage counted and dead codes restarted;
//   transformer stage: text encoder + transformer + residual diffusion jointly
//     (transformer-train.ts) on the frozen tokenizer's tokens, with an EMA of the weights.
// Both are pure functions of (recipe, step) given the same starting state: batches and every
// random draw are addressed by (seed, purpose, step), so a resumed run is bitwise the same.
import type { HostTensor } from '../runtime/host-tensor.ts';
import { hostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { Philox, stream } from '../random/philox.ts';
import { GraphTrainer } from './adamw-graph.ts';
import { decayMatricesOnly, EMA, warmupCosine, type FloatArray } from './optim.ts';
import { buildTokenizerTrainGraph } from './tokenizer-train.ts';
import { buildTransformerTrainGraph, TEXT_SCOPE } from './transformer-train.ts';
import { graphFlops } from './flops.ts';
import { InitWeightStore } from './init.ts';
import { TRAIN_PURPOSE } from './purposes.ts';
import type { Recipe, StageSchedule } from './recipe.ts';
import { MapWeightStore, type StoredTensor } from '../nn/index.ts';
import type { Qwen2Config } from '../models/text/config.ts';
import { transformerFeeds, type TransformerBatchContext } from './transformer-batch.ts';
import type { Tensor as IoTensor } from '../io/dtypes.ts';

export interface StepReport {
  step: number;
  loss: number;
  lr: number;
  /** Named scalar outputs (rec_cont, rec_disc, vq, ce, diff, acc, grad_norm, …). */
  metrics: Record<string, number>;
}

/** A batch of the training mix: images [B, 3, R, R] in [−1, 1] and their captions. */
export interface TrainBatch { images: Float32Array; captions: string[] }

export interface BatchSource { batch(step: number, size: number): Promise<TrainBatch> }

export function scheduleOf(s: StageSchedule): (step: number) => number {
  return warmupCosine({ lr: s.lr, warmupSteps: s.warmup, totalSteps: s.steps, minLr: s.min_lr });
}

function scalar(t: HostTensor | undefined): number {
  return t ? Number((t.data as Float32Array)[0]) : NaN;
}

function toIo(t: HostTensor): IoTensor {
  return { dtype: t.dtype as IoTensor['dtype'], shape: [...t.shape], data: t.data as IoTensor['data'] };
}

/** The tokenizer stage's trainer, usage counters and dead-code restarts. */
export class TokenizerStage {
  readonly trainer: GraphTrainer;
  readonly flopsPerSample: number;
  readonly lr: (s: number) => number;
  private usedThisWindow: Uint8Array;

  /** Weights of the frozen part (decoder-only training), or the initial ones. */
  private readonly base: Map<string, IoTensor>;
  private readonly sched: StageSchedule & { skip_continuous_prob: number; dead_code_every: number };

  /**
   * The tokenizer stage from scratch, or (`decoderOnly`, from trained `weights`) stage 3: only the
   * decoder and post_quant_conv train; encoder, quant_conv, codebook and φ stay frozen.
   */
  constructor(readonly recipe: Recipe, o: { weights?: Map<string, IoTensor>; decoderOnly?: boolean } = {}) {
    const t = recipe.tokenizer;
    const d = o.decoderOnly ? recipe.decoder : null;
    if (o.decoderOnly && (!d || !o.weights)) throw new Error('decoder-only training needs the recipe\'s decoder stage and trained weights');
    this.sched = d ? { ...d, dead_code_every: 0 } : t;
    const store = o.weights ? new MapWeightStore(new Map([...o.weights].map(([k, v]) => [k, v as unknown as StoredTensor]))) : new InitWeightStore(recipe.seed);
    const tg = buildTokenizerTrainGraph(t.config, store, {
      resolution: recipe.resolution, patchNums: recipe.patch_nums, l1Weight: (d ?? t).l1_weight,
    });
    const trained = o.decoderOnly ? tg.params.filter((p) => /^(decoder|post_quant_conv)\./.test(p.name!)) : tg.params;
    this.trainer = new GraphTrainer(tg.loss, trained, {
      lr: this.sched.lr, weightDecay: this.sched.weight_decay, maxGradNorm: this.sched.grad_clip > 0 ? this.sched.grad_clip : undefined, decay: decayMatricesOnly,
    }, tg.extras);
    this.flopsPerSample = graphFlops(tg.graph).flops; // forward + backward: the trainer added the gradient graph
    this.base = new Map(tg.params.map((p) => [p.name!, { dtype: 'float32' as const, shape: [...p.shape as number[]], data: p.value as Float32Array }]));
    this.usedThisWindow = new Uint8Array(t.config.vocab_size);
    this.lr = scheduleOf(this.sched);
  }

  load(runtime: Runtime): Promise<void> { return this.trainer.load(runtime); }

  async step(step: number, batch: TrainBatch): Promise<StepReport> {
    const t = this.sched, B = batch.captions.length, R = this.recipe.resolution;
    const u = new Philox(this.recipe.seed).uniform(stream(TRAIN_PURPOSE.skipContinuous, step), 0, B);
    const skip = Float32Array.from(u, (v) => (v < t.skip_continuous_prob ? 1 : 0));
    const lr = this.lr(step);
    const out = await this.trainer.step({ img: hostTensor(batch.images, [B, 3, R, R]), skip: hostTensor(skip, [B]) }, lr);
    for (let si = 0; si < this.recipe.patch_nums.length; si++) {
      for (const v of out[`idx.s${si}`].data as BigInt64Array) this.usedThisWindow[Number(v)] = 1;
    }
    if (t.dead_code_every > 0 && (step + 1) % t.dead_code_every === 0) this.restartDeadCodes(step, out.f_tokens);
    const used = this.usedThisWindow.reduce((a, b) => a + b, 0);
    return {
      step, lr, loss: scalar(out.loss),
      metrics: {
        rec_cont: scalar(out.rec_cont), rec_disc: scalar(out.rec_disc), vq: scalar(out.vq),
        grad_norm: scalar(out['adamw.grad_norm']), codes_used: used,
      },
    };
  }

  /**
   * Codes no scale chose during the last window move onto encoder outputs of this batch (random
   * tokens of f, plus a little noise), with their AdamW moments reset: the codebook keeps being
   * used instead of collapsing onto a few entries (the dead-code restart of VQ training).
   */
  private restartDeadCodes(step: number, fTokens: HostTensor): void {
    const V = this.recipe.tokenizer.config.vocab_size, C = this.recipe.tokenizer.config.z_channels;
    const E = this.trainer.get('quantize.embedding.weight');
    const m = this.trainer.get('adamw.m.quantize.embedding.weight'), v = this.trainer.get('adamw.v.quantize.embedding.weight');
    const f = fTokens.data as Float32Array;
    const rows = f.length / C;
    const rng = new Philox(this.recipe.seed);
    const pick = rng.uniform(stream(TRAIN_PURPOSE.deadCodes, step), 0, V);
    const jitter = rng.normal(stream(TRAIN_PURPOSE.deadCodes, step), 2 * V, V * C);
    let restarted = 0;
    for (let c = 0; c < V; c++) {
      if (this.usedThisWindow[c]) continue;
      const r = Math.min(rows - 1, Math.floor(pick[c] * rows));
      for (let k = 0; k < C; k++) {
        E[c * C + k] = f[r * C + k] + 0.01 * jitter[c * C + k];
        m[c * C + k] = 0;
        v[c * C + k] = 0;
      }
      restarted++;
    }
    this.lastRestarted = restarted;
    this.usedThisWindow.fill(0);
  }

  lastRestarted = 0;

  /** Checkpoint tensors: the trainer's state and the usage window. */
  stateTensors(): Map<string, IoTensor> {
    const m = new Map<string, IoTensor>();
    for (const [k, v] of this.trainer.stateTensors()) m.set(k, toIo(v));
    m.set('usage_window', { dtype: 'uint8', shape: [this.usedThisWindow.length], data: this.usedThisWindow.slice() });
    return m;
  }

  restore(tensors: Map<string, IoTensor>, step: number): void {
    const usage = tensors.get('usage_window');
    if (!usage || usage.data.length !== this.usedThisWindow.length) throw new Error('checkpoint: usage_window missing or of the wrong size');
    this.usedThisWindow.set(usage.data as Uint8Array);
    const rest = new Map([...tensors].filter(([k]) => k !== 'usage_window')) as unknown as Map<string, { shape: number[]; data: FloatArray }>;
    this.trainer.restore(rest, step);
  }

  /** The tokenizer's weights (official names, no prefix): the trained ones over the frozen ones. */
  weights(): Map<string, IoTensor> {
    const m = new Map(this.base);
    for (const name of this.trainer.paramNames) m.set(name, { dtype: 'float32', shape: this.shapeOf(name), data: this.trainer.get(name) as Float32Array });
    return m;
  }

  private shapeOf(name: string): number[] {
    return [...this.trainer.stateTensors().get(name)!.shape];
  }
}

/** The transformer stage: text encoder + transformer + diffusion head, EMA for sampling. */
export class TransformerStage {
  readonly trainer: GraphTrainer;
  readonly ema: EMA;
  readonly flopsPerSample: number;
  readonly lr: (s: number) => number;
  /** The weights that do not learn (transformer.trained "text_encoder": all but the text encoder's), as init gave them. */
  private readonly frozen: Map<string, IoTensor>;

  /** `init`: starting weights (the training names: text encoder under text_encoder.) instead of the random initialisation. */
  constructor(readonly recipe: Recipe, readonly textConfig: Qwen2Config, readonly batchContext: TransformerBatchContext, init?: Map<string, IoTensor>) {
    const t = recipe.transformer;
    const store = init ? new MapWeightStore(new Map([...init].map(([k, v]) => [k, v as unknown as StoredTensor]))) : new InitWeightStore(recipe.seed + 1, { depth: t.config.depth });
    const tg = buildTransformerTrainGraph(t.config, textConfig, store, {
      Cvae: recipe.tokenizer.config.z_channels, vocabSize: recipe.tokenizer.config.vocab_size, keptLast: t.kept_last, diffWeight: t.diff_weight, diffIndex: t.diff_index,
    });
    const learns = (name: string) => t.trained === 'all' || name.startsWith(`${TEXT_SCOPE}.`);
    this.trainer = new GraphTrainer(tg.loss, tg.params.filter((p) => learns(p.name!)), {
      lr: t.lr, weightDecay: t.weight_decay, maxGradNorm: t.grad_clip > 0 ? t.grad_clip : undefined, decay: decayMatricesOnly,
    }, tg.extras);
    this.frozen = new Map(tg.params.filter((p) => !learns(p.name!)).map((p) => [p.name!, { dtype: 'float32' as const, shape: [...p.shape as number[]], data: p.value as Float32Array }]));
    this.flopsPerSample = graphFlops(tg.graph).flops; // forward + backward
    this.ema = new EMA(this.trainer.paramNames.map((n) => this.trainer.get(n)), t.ema);
    this.lr = scheduleOf(t);
  }

  load(runtime: Runtime): Promise<void> { return this.trainer.load(runtime); }

  feeds(step: number, batch: TrainBatch): Promise<Record<string, HostTensor>> {
    return transformerFeeds(this.batchContext, step, batch.images, batch.captions);
  }

  async step(step: number, feeds: Record<string, HostTensor>): Promise<StepReport> {
    const lr = this.lr(step);
    const out = await this.trainer.step(feeds, lr);
    this.ema.update(this.trainer.paramNames.map((n) => this.trainer.get(n)));
    return {
      step, lr, loss: scalar(out.loss),
      metrics: {
        ce: scalar(out.ce), diff: scalar(out.diff), acc: scalar(out.acc),
        ...(out.idx_match ? { idx_match: scalar(out.idx_match) } : {}),
        grad_norm: scalar(out['adamw.grad_norm']),
      },
    };
  }

  stateTensors(): Map<string, IoTensor> {
    const m = new Map<string, IoTensor>();
    for (const [k, v] of this.trainer.stateTensors()) m.set(k, toIo(v));
    const names = this.trainer.paramNames;
    names.forEach((n, i) => m.set(`ema.${n}`, { dtype: 'float32', shape: [...m.get(n)!.shape], data: this.ema.shadow[i].slice() as Float32Array }));
    return m;
  }

  restore(tensors: Map<string, IoTensor>, step: number): void {
    const names = this.trainer.paramNames;
    names.forEach((n, i) => {
      const e = tensors.get(`ema.${n}`);
      if (!e || e.data.length !== this.ema.shadow[i].length) throw new Error(`checkpoint: ema.${n} missing or of the wrong size`);
      this.ema.shadow[i].set(e.data as Float32Array);
    });
    const rest = new Map([...tensors].filter(([k]) => !k.startsWith('ema.'))) as unknown as Map<string, { shape: number[]; data: FloatArray }>;
    this.trainer.restore(rest, step);
  }

  /** Weights by name (EMA or raw; frozen ones as they are): transformer names at the root, the text encoder under text_encoder. */
  weights(useEma = true): Map<string, IoTensor> {
    const m = new Map<string, IoTensor>(this.frozen);
    const st = this.trainer.stateTensors();
    this.trainer.paramNames.forEach((n, i) => {
      const data = useEma ? this.ema.shadow[i] : this.trainer.get(n);
      m.set(n, { dtype: 'float32', shape: [...st.get(n)!.shape], data: data as Float32Array });
    });
    return m;
  }
}
