// The evaluation feature network of `hart eval` (the role Inception plays for FID/KID): a small
// conv classifier trained here, with the repo's own graph engine and GraphTrainer, on the
// *training* split only — emoji subcategory (softmax over the training records' subcategories)
// and scene content (sigmoid per colour–shape pair present) — so its features know what
// distinguishes emoji kinds and scene objects at 64 px, and nothing about the held-out data.
//   trunk: 4 × [conv3×3 stride 2 + ReLU], 3→16→32→64→96 channels, 64→32→16→8→4 px;
//   features: [mean-pool of the 8×8 map (64), mean-pool of the 4×4 map (96)] = 160 values;
//   heads: linear(160 → subcategories), linear(160 → 32 colour–shape pairs).
// Browser-safe: graph building, training steps and feature extraction; the data and the weight
// cache are in feature-net.node.ts.
import { Graph, emitOnnx, type Tensor } from '../graph/index.ts';
import { Params, conv2d, linear, type WeightStore } from '../nn/index.ts';
import type { CompiledModel, Runtime } from '../runtime/runtime.ts';
import { hostTensor } from '../runtime/host-tensor.ts';
import { GraphTrainer } from '../train/adamw-graph.ts';
import { COLOUR_NAMES, SHAPES } from '../train/data/scene-vocab.ts';
import type { ImageCHW } from '../io/png.ts';
import type { Features } from './metrics.ts';

export const FEATURE_SIZE = 64;
export const TRUNK = [16, 32, 64, 96] as const;
export const FEATURE_DIM = TRUNK[2] + TRUNK[3];
/** One output per colour–shape pair, colour-major (COLOUR_NAMES × SHAPES). */
export const SCENE_PAIRS = COLOUR_NAMES.length * SHAPES.length;

export interface FeatureNetConfig { subcategories: string[] }

/** img [B, 3, 64, 64] in [−1, 1] → features [B, 160] (and the two heads' logits). */
export function featureNet(p: Params, img: Tensor, cfg: FeatureNetConfig): { feat: Tensor; emoji: Tensor; scene: Tensor } {
  let x = img;
  const pooled: Tensor[] = [];
  TRUNK.forEach((ch, i) => {
    x = conv2d(p.scope(`conv${i}`), x, ch, 3, { stride: 2, padding: 1 }).relu();
    if (i >= 2) pooled.push(x.mean([2, 3]));
  });
  const feat = pooled[0].graph.apply1('Concat', pooled, { axis: 1 });
  return {
    feat,
    emoji: linear(p.scope('head_emoji'), feat, cfg.subcategories.length),
    scene: linear(p.scope('head_scene'), feat, SCENE_PAIRS),
  };
}

/** The training step's graph: masked mean CE (emoji rows) + masked mean BCE (scene rows). */
export function featureNetTrainGraph(store: WeightStore, cfg: FeatureNetConfig): { loss: Tensor; params: Tensor[]; extras: Record<string, Tensor> } {
  const g = new Graph();
  const p = new Params(g, store);
  const img = g.input('img', 'float32', ['B', 3, FEATURE_SIZE, FEATURE_SIZE]);
  const label = g.input('emoji_label', 'int64', ['B']);
  const isEmoji = g.input('is_emoji', 'float32', ['B']);
  const pairs = g.input('scene_pairs', 'float32', ['B', SCENE_PAIRS]);
  const { emoji, scene } = featureNet(p, img, cfg);
  const K = cfg.subcategories.length;
  const ce_B = emoji.logSoftmax(-1).mul(label.oneHot(K)).sum([-1]).neg();
  // BCE with logits: max(z, 0) − y·z + log(1 + exp(−|z|))
  const bce_B = scene.relu().sub(scene.mul(pairs)).add(scene.abs().neg().exp().add(1).log()).mean([-1]);
  const isScene = isEmoji.neg().add(1);
  const ceMean = ce_B.mul(isEmoji).sum([0]).div(isEmoji.sum([0]).maximum(1));
  const bceMean = bce_B.mul(isScene).sum([0]).div(isScene.sum([0]).maximum(1));
  const loss = ceMean.add(bceMean);
  const correct = emoji.argmax(-1).eq(label).cast('float32').mul(isEmoji).sum([0]);
  return { loss, params: [...g.params], extras: { ce: ceMean, bce: bceMean, correct } };
}

export function newFeatureTrainer(store: WeightStore, cfg: FeatureNetConfig, lr: number): GraphTrainer {
  const t = featureNetTrainGraph(store, cfg);
  return new GraphTrainer(t.loss, t.params, { lr, weightDecay: 1e-4 }, t.extras);
}

/** Images [3, 64, 64] in [0, 1] → [B, 3, 64, 64] in [−1, 1]. */
function batchOf(images: readonly ImageCHW[]): Float32Array {
  const n = 3 * FEATURE_SIZE * FEATURE_SIZE;
  const out = new Float32Array(images.length * n);
  images.forEach((im, b) => {
    if (im.width !== FEATURE_SIZE || im.height !== FEATURE_SIZE) throw new Error(`feature network: images must be ${FEATURE_SIZE}×${FEATURE_SIZE}, got ${im.width}×${im.height}`);
    for (let i = 0; i < n; i++) out[b * n + i] = im.data[i] * 2 - 1;
  });
  return out;
}

/** Feature extraction with trained weights (compiled once). */
export class FeatureExtractor {
  private model?: Promise<CompiledModel>;
  constructor(private store: WeightStore, readonly cfg: FeatureNetConfig, private runtime: Runtime) {}

  async features(images: readonly ImageCHW[], batch = 64): Promise<Features> {
    this.model ??= (() => {
      const g = new Graph();
      const img = g.input('img', 'float32', ['B', 3, FEATURE_SIZE, FEATURE_SIZE]);
      const { feat, emoji } = featureNet(new Params(g, this.store), img, this.cfg);
      return this.runtime.load(emitOnnx({ outputs: { feat, emoji } }));
    })();
    const m = await this.model;
    const data = new Float32Array(images.length * FEATURE_DIM);
    for (let s = 0; s < images.length; s += batch) {
      const part = images.slice(s, s + batch);
      const r = await m.run({ img: hostTensor(batchOf(part), [part.length, 3, FEATURE_SIZE, FEATURE_SIZE]) });
      data.set(r.feat.data as Float32Array, s * FEATURE_DIM);
    }
    return { n: images.length, d: FEATURE_DIM, data };
  }
}

export { batchOf as featureBatch };
