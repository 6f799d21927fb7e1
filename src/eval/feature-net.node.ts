// The evaluation feature network's data and weight cache (Node). Training data: the training split
// only — non-held-out emoji of both sets (labelled with their subcategory) and 'train'-split scenes
// (labelled with the colour–shape pairs they contain), half and half per batch, order drawn from
// Philox (seed, FEATURE_DATA_PURPOSE, step). The weights are cached as a safetensors file
// (FEATURE_NET_PATH, ≈ 0.1 M parameters, 0.4 MB, committed) whose metadata holds the
// subcategory list and how it was trained; `trainFeatureNet` rebuilds it deterministically.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeSafetensorsFile } from '../io/files.node.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { bytesAccess } from '../io/tensor-source.ts';
import { toFloat32 } from '../io/dtypes.ts';
import { MapWeightStore, type StoredTensor } from '../nn/index.ts';
import { Philox, stream } from '../random/philox.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { hostTensor } from '../runtime/host-tensor.ts';
import { InitWeightStore } from '../train/init.ts';
import { COLOUR_NAMES, SHAPES } from '../train/data/scene-vocab.ts';
import { makeScene } from '../train/data/scenes.ts';
import type { EmojiDataset } from '../train/data/emoji-join.ts';
import type { ImageCHW } from '../io/png.ts';
import { FEATURE_SIZE, FeatureExtractor, SCENE_PAIRS, featureBatch, newFeatureTrainer, type FeatureNetConfig } from './feature-net.ts';

/** Where the trained weights live (committed beside this file). */
export const FEATURE_NET_PATH = fileURLToPath(new URL('./feature-net.safetensors', import.meta.url));
/** Philox purpose of the feature network's batch order (generation uses 1–3, data 16–19, training 0x100+). */
export const FEATURE_DATA_PURPOSE = 0x200;

export interface FeatureTrainOptions {
  steps?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  log?: (line: string) => void;
}

/** HWC bytes [64, 64, 3] → ImageCHW in [0, 1]. */
export function hwcToImage(rgb: Uint8Array, size = FEATURE_SIZE): ImageCHW {
  const n = size * size;
  const data = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[c * n + i] = rgb[i * 3 + c] / 255;
  return { width: size, height: size, data };
}

/** The emoji image of record i of a dataset. */
export function emojiImage(ds: EmojiDataset, i: number): ImageCHW {
  const n = ds.size * ds.size * 3;
  return hwcToImage(ds.pixels.subarray(i * n, (i + 1) * n), ds.size);
}

/**
 * Trains the feature network on the training split of `ds` (held-out records are skipped) and
 * scenes of the 'train' split; returns the weights and the config (subcategories, sorted).
 */
export async function trainFeatureNet(ds: EmojiDataset, runtime: Runtime, o: FeatureTrainOptions = {}): Promise<{ weights: Map<string, StoredTensor>; cfg: FeatureNetConfig; metadata: Record<string, string> }> {
  const steps = o.steps ?? 600, B = o.batch ?? 64, lr = o.lr ?? 2e-3, seed = o.seed ?? 7;
  const train = ds.records.map((r, i) => ({ r, i })).filter(({ r }) => !r.heldOut);
  const subcategories = [...new Set(train.map(({ r }) => r.subcategory))].sort();
  const subIndex = new Map(subcategories.map((s, k) => [s, k]));
  const cfg: FeatureNetConfig = { subcategories };
  const trainer = newFeatureTrainer(new InitWeightStore(seed), cfg, lr);
  await trainer.load(runtime);
  const rng = new Philox(seed);
  const half = B >> 1;
  let seen = 0, correct = 0;
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    const u = rng.uniform(stream(FEATURE_DATA_PURPOSE, step), 0, half);
    const images: ImageCHW[] = [];
    const label = new BigInt64Array(B), isEmoji = new Float32Array(B), pairs = new Float32Array(B * SCENE_PAIRS);
    for (let k = 0; k < half; k++) {
      const { r, i } = train[Math.min(train.length - 1, Math.floor(u[k] * train.length))];
      images.push(emojiImage(ds, i));
      label[k] = BigInt(subIndex.get(r.subcategory)!);
      isEmoji[k] = 1;
    }
    for (let k = half; k < B; k++) {
      const sc = makeScene(seed, 'train', step * (B - half) + (k - half));
      images.push(hwcToImage(sc.rgb));
      for (const ob of sc.boxes) pairs[k * SCENE_PAIRS + COLOUR_NAMES.indexOf(ob.colour) * SHAPES.length + SHAPES.indexOf(ob.shape)] = 1;
    }
    // cosine decay to lr/10 after a short warm-up
    const w = Math.min(1, (step + 1) / 20);
    const lrNow = w * (lr * (0.1 + 0.45 * (1 + Math.cos((Math.PI * step) / steps))));
    const out = await trainer.step({
      img: hostTensor(featureBatch(images), [B, 3, FEATURE_SIZE, FEATURE_SIZE]),
      emoji_label: hostTensor(label, [B], 'int64'),
      is_emoji: hostTensor(isEmoji, [B]),
      scene_pairs: hostTensor(pairs, [B, SCENE_PAIRS]),
    }, lrNow);
    if (step >= steps - 50) {
      seen += half;
      correct += (out.correct.data as Float32Array)[0];
    }
    if (o.log && (step % 50 === 0 || step === steps - 1)) {
      o.log(`feature net step ${step}/${steps}: ce ${(out.ce.data as Float32Array)[0].toFixed(3)} bce ${(out.bce.data as Float32Array)[0].toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  const weights = new Map<string, StoredTensor>();
  for (const name of trainer.paramNames) {
    const data = Float32Array.from(trainer.get(name));
    const shape = trainer.stateTensors().get(name)!.shape;
    weights.set(name, { dtype: 'float32', shape: [...shape], data });
  }
  const metadata = {
    format: 'hart-js-eval-feature-net',
    config: JSON.stringify(cfg),
    trained: JSON.stringify({
      steps, batch: B, lr, seed, data: 'training split: non-held-out emoji (twemoji + noto) by subcategory, half of each batch; train-split scenes by colour-shape pairs present',
      emoji_train_accuracy_last50: seen ? correct / seen : null,
    }),
  };
  return { weights, cfg, metadata };
}

export async function saveFeatureNet(path: string, r: { weights: Map<string, StoredTensor>; metadata: Record<string, string> }): Promise<void> {
  const t = new Map([...r.weights].map(([k, v]) => [k, { dtype: 'float32' as const, shape: v.shape, data: v.data as Float32Array }]));
  await writeSafetensorsFile(path, t, r.metadata);
}

/** Loads the cached feature network; null when the file is absent. */
export async function loadFeatureNet(runtime: Runtime, path = FEATURE_NET_PATH): Promise<{ extractor: FeatureExtractor; metadata: Record<string, string> } | null> {
  if (!existsSync(path)) return null;
  const src = await openSafetensors(bytesAccess(readFileSync(path)), path);
  const map = new Map<string, StoredTensor>();
  for (const n of src.names()) {
    const t = await src.read(n);
    map.set(n, { dtype: 'float32', shape: [...t.shape], data: toFloat32(t.dtype, t.data as never) });
  }
  await src.close();
  const metadata = src.metadata;
  if (metadata.format !== 'hart-js-eval-feature-net' || !metadata.config) throw new Error(`${path}: not a hart eval feature-network file`);
  const cfg = JSON.parse(metadata.config) as FeatureNetConfig;
  return { extractor: new FeatureExtractor(new MapWeightStore(map), cfg, runtime), metadata };
}
