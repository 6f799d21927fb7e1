// Seeded streaming training batches mixing emoji and procedural scenes (browser-safe).
// batch(step) is a pure function of (seed, step) and the options, so a resumed run sees exactly
// the batches of an uninterrupted one:
//   - slot b of step t reads words 2b and 2b+1 of the Philox stream (seed, PURPOSE.dataBatch, t):
//     the first picks the source by the mixing weights, the second the emoji (inverse CDF over
//     the sampling weights of the training records: i.i.d. with replacement);
//   - a scene slot draws scene t·B + b of the scenes split, so no scene repeats within a run;
//     with `recolour` > 0 its objects may be drawn in random colours (recolour.ts, its own stream),
//     with `partialCaptions` > 0 its caption may name only its shapes or colours (its own stream);
//   - with `plainEmojiCaptions` > 0 an emoji slot's caption may be its plain label (emoji-join.ts
//     plainEmojiCaption), by words 2b, 2b+1 of the stream (seed, PURPOSE.dataPlainCaption, t).
// Pixels stay uint8 until a batch is built (emoji: [N, 64, 64, 3], scenes: rendered on demand);
// a batch is [B, 3, 64, 64] float32 in [-1, 1] as the official pipeline normalises,
// (fround(v/255) − 0.5) / 0.5. The Prefetcher builds batch t+1 in small event-loop chunks while
// the caller awaits step t (e.g. an ONNX Runtime run, which leaves the JS thread idle).
import { Philox, stream } from '../../random/philox.ts';
import { PURPOSE } from '../../random/purposes.ts';
import { EMOJI_SIZE, emojiWeights, plainEmojiCaption, type EmojiDataset } from './emoji-join.ts';
import { SCENE_SIZE, renderScene, sceneSpec, type Scene, type SceneSplit } from './scenes.ts';
import { partialCaption } from './scene-vocab.ts';
import { renderRecoloured } from './recolour.ts';

export const IMAGE_SIZE = 64;

export interface BatchSourceOptions {
  seed: number | bigint;
  batchSize: number;
  /** Relative mixing weights of the sources, e.g. { emoji: 1, scenes: 1 }. */
  weights: { emoji?: number; scenes?: number };
  /** Required when weights.emoji > 0; only its records that are not held out are drawn. */
  emoji?: EmojiDataset;
  /** 'balanced' (default): each base emoji weighs the same, skin-tone variants share it. */
  emojiSampling?: 'balanced' | 'uniform';
  /** Scenes split to draw from (default 'train'). */
  sceneSplit?: SceneSplit;
  /** Probability that a scene is drawn in random colours (recolour.ts; default 0). Captions keep the palette names. */
  recolour?: number;
  /**
   * Probability that a scene's caption names only its shapes or only its colours
   * (scene-vocab.ts partialCaption; default 0). The pixels do not change.
   */
  partialCaptions?: number;
  /**
   * Probability that an emoji's caption is its plain label, with or without an article ("red apple",
   * "a red apple"), instead of "twemoji: red apple" (emoji-join.ts plainEmojiCaption; default 0).
   */
  plainEmojiCaptions?: number;
}

export type BatchItemSource = 'emoji' | 'scene';

export interface Batch {
  step: number;
  /** [B, 3, 64, 64] in [-1, 1]. */
  images: Float32Array;
  captions: string[];
  /** Per slot: which source, and the emoji record index or the scene index. */
  sources: BatchItemSource[];
  items: number[];
}

/** uint8 → (fround(v / 255) − 0.5) / 0.5 in float32, like ToTensor + Normalize(0.5, 0.5). */
const TO_UNIT = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(Math.fround(v / 255) - 0.5) / 0.5);
  return t;
})();

/** [H, W, 3] bytes → [3, H, W] floats in [-1, 1] written at `out[offset…]`. */
export function hwcToChwUnit(rgb: Uint8Array, out: Float32Array, offset: number, hw = IMAGE_SIZE * IMAGE_SIZE): void {
  for (let i = 0; i < hw; i++) {
    out[offset + i] = TO_UNIT[rgb[3 * i]];
    out[offset + hw + i] = TO_UNIT[rgb[3 * i + 1]];
    out[offset + 2 * hw + i] = TO_UNIT[rgb[3 * i + 2]];
  }
}

/** Index of the first cumulative weight > u·total (binary search over a prefix-sum table). */
function searchCdf(cdf: Float64Array, u: number): number {
  const target = u * cdf[cdf.length - 1];
  let lo = 0, hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > target) hi = mid; else lo = mid + 1;
  }
  return lo;
}

function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
}

export class BatchSource {
  readonly seed: number | bigint;
  readonly batchSize: number;
  readonly sceneSplit: SceneSplit;
  readonly recolour: number;
  readonly partialCaptions: number;
  readonly plainEmojiCaptions: number;
  private readonly rng: Philox;
  private readonly pEmoji: number;
  private readonly emoji?: EmojiDataset;
  /** Training record indices (not held out) and the prefix sums of their weights. */
  private readonly emojiIndex: Int32Array;
  private readonly emojiCdf: Float64Array;

  constructor(options: BatchSourceOptions) {
    const we = options.weights.emoji ?? 0, ws = options.weights.scenes ?? 0;
    if (!(we >= 0 && ws >= 0 && we + ws > 0) || !Number.isFinite(we + ws)) throw new Error(`batch source: mixing weights must be non-negative with a positive sum (got emoji ${we}, scenes ${ws})`);
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`batch source: batchSize must be a positive integer (got ${options.batchSize})`);
    this.seed = options.seed;
    this.batchSize = options.batchSize;
    this.sceneSplit = options.sceneSplit ?? 'train';
    this.recolour = options.recolour ?? 0;
    if (!(this.recolour >= 0 && this.recolour <= 1)) throw new Error(`batch source: recolour must be a probability in [0, 1] (got ${options.recolour})`);
    this.partialCaptions = options.partialCaptions ?? 0;
    if (!(this.partialCaptions >= 0 && this.partialCaptions <= 1)) throw new Error(`batch source: partialCaptions must be a probability in [0, 1] (got ${options.partialCaptions})`);
    this.plainEmojiCaptions = options.plainEmojiCaptions ?? 0;
    if (!(this.plainEmojiCaptions >= 0 && this.plainEmojiCaptions <= 1)) throw new Error(`batch source: plainEmojiCaptions must be a probability in [0, 1] (got ${options.plainEmojiCaptions})`);
    this.rng = new Philox(options.seed);
    this.pEmoji = we / (we + ws);
    this.emojiIndex = new Int32Array(0);
    this.emojiCdf = new Float64Array(0);
    if (we > 0) {
      const ds = options.emoji;
      if (!ds) throw new Error('batch source: weights.emoji > 0 but no emoji dataset was given');
      if (ds.size !== IMAGE_SIZE) throw new Error(`batch source: emoji are ${ds.size} px, batches are ${IMAGE_SIZE} px`);
      const w = emojiWeights(ds.records, options.emojiSampling ?? 'balanced');
      const keep = ds.records.flatMap((r, i) => (r.heldOut ? [] : [i]));
      if (keep.length === 0) throw new Error('batch source: the emoji dataset has no training records');
      this.emoji = ds;
      this.emojiIndex = Int32Array.from(keep);
      this.emojiCdf = new Float64Array(keep.length);
      let acc = 0;
      keep.forEach((r, k) => { acc += w[r]; this.emojiCdf[k] = acc; });
    }
  }

  /** What every slot of `step` holds: its source and item index (cheap: no pixels). */
  plan(step: number): { sources: BatchItemSource[]; items: number[] } {
    const B = this.batchSize;
    const sceneBase = step * B;
    if (!Number.isSafeInteger(step) || step < 0 || sceneBase + B > 2 ** 32) throw new RangeError(`batch source: step ${step} out of range for batch size ${B}`);
    const u = this.rng.uniform(stream(PURPOSE.dataBatch, step), 0, 2 * B);
    const sources: BatchItemSource[] = [];
    const items: number[] = [];
    for (let b = 0; b < B; b++) {
      if (u[2 * b] < this.pEmoji) {
        sources.push('emoji');
        items.push(this.emojiIndex[searchCdf(this.emojiCdf, u[2 * b + 1])]);
      } else {
        sources.push('scene');
        items.push(sceneBase + b);
      }
    }
    return { sources, items };
  }

  private fillSlot(batch: Batch, b: number, scratch: Uint8Array, plain: Float32Array | null): void {
    const hw = IMAGE_SIZE * IMAGE_SIZE;
    const item = batch.items[b];
    if (batch.sources[b] === 'emoji') {
      const S = EMOJI_SIZE;
      hwcToChwUnit(this.emoji!.pixels.subarray(item * S * S * 3, (item + 1) * S * S * 3), batch.images, b * 3 * hw);
      const r = this.emoji!.records[item];
      batch.captions[b] = (plain && plain[2 * b] < this.plainEmojiCaptions && plainEmojiCaption(r.label, plain[2 * b + 1])) || r.caption;
    } else {
      const scene = sceneSpec(this.rng, this.sceneSplit, item);
      if (this.recolour > 0) renderRecoloured(this.rng, scene, this.recolour, scratch);
      else renderScene(scene, scratch);
      hwcToChwUnit(scratch, batch.images, b * 3 * hw);
      batch.captions[b] = this.caption(scene);
    }
  }

  /** A scene's caption, or with probability partialCaptions a partial one (its own stream, by scene index). */
  private caption(scene: Scene): string {
    if (this.partialCaptions === 0) return scene.caption;
    const u = this.rng.uniform(stream(PURPOSE.dataPartialCaption, scene.index), 0, 2);
    if (u[0] >= this.partialCaptions) return scene.caption;
    return partialCaption(scene, u[1] < 0.5 ? 'colour' : 'shape') ?? partialCaption(scene, u[1] < 0.5 ? 'shape' : 'colour') ?? scene.caption;
  }

  /** The plain-caption draws of a step (2 per slot), or null when emoji keep their styled captions. */
  private plainDraws(step: number): Float32Array | null {
    return this.plainEmojiCaptions > 0 ? this.rng.uniform(stream(PURPOSE.dataPlainCaption, step), 0, 2 * this.batchSize) : null;
  }

  private empty(step: number): Batch {
    const { sources, items } = this.plan(step);
    return { step, images: new Float32Array(this.batchSize * 3 * IMAGE_SIZE * IMAGE_SIZE), captions: new Array(this.batchSize).fill(''), sources, items };
  }

  /** The batch of a training step (synchronous). */
  batch(step: number): Batch {
    const batch = this.empty(step);
    const scratch = new Uint8Array(SCENE_SIZE * SCENE_SIZE * 3);
    const plain = this.plainDraws(step);
    for (let b = 0; b < this.batchSize; b++) this.fillSlot(batch, b, scratch, plain);
    return batch;
  }

  /** The same batch, built `slotsPerChunk` slots at a time with the event loop free in between. */
  async batchAsync(step: number, slotsPerChunk = 4): Promise<Batch> {
    const batch = this.empty(step);
    const scratch = new Uint8Array(SCENE_SIZE * SCENE_SIZE * 3);
    const plain = this.plainDraws(step);
    for (let b = 0; b < this.batchSize; b++) {
      if (b > 0 && b % slotsPerChunk === 0) await yieldToEventLoop();
      this.fillSlot(batch, b, scratch, plain);
    }
    return batch;
  }
}

/**
 * Prepares batch t+1 while step t runs: `next()` resolves to the batch of the current step and
 * starts building the following one in the background (event-loop chunks). Start at any step
 * (e.g. a resumed run's); the batches equal `source.batch(step)`.
 */
export class Prefetcher {
  private step: number;
  private pending: Promise<Batch> | null = null;
  private readyStep = -1;

  constructor(private readonly source: BatchSource, startStep = 0, private readonly slotsPerChunk = 4) {
    this.step = startStep;
  }

  private start(step: number): Promise<Batch> {
    const p = this.source.batchAsync(step, this.slotsPerChunk);
    p.then(() => { this.readyStep = step; }, () => {});
    return p;
  }

  /** The batch of the next step; begins building the one after it. */
  async next(): Promise<Batch> {
    const current = this.pending ?? this.start(this.step);
    const batch = await current;
    this.step++;
    this.pending = this.start(this.step);
    return batch;
  }

  /** Whether the batch `next()` will return has been built already (the prefetch finished). */
  get prefetched(): boolean {
    return this.pending !== null && this.readyStep === this.step;
  }
}
