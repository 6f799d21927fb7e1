// Recoloured scenes: training scenes whose objects are drawn in random colours instead of the
// palette's, for the tokenizer and decoder stages (`tokenizer.recolour` / `decoder.recolour` in a
// recipe). With the palette's eight colours alone an autoencoder can tie colour to shape (its stars
// are seven colours, and the emoji star is orange-yellow), so a latent it never saw — a yellow
// star, a held-out pair — comes back in the colour it knows; random hues show it colour as a
// continuous quantity on every shape. (Measured on the default model: training the decoder alone
// this way did not bring yellow stars back and blurred the discrete codes' colours — MODEL_CARD,
// "Run 17's decoder on recoloured scenes"; the encoder and codebook would have to learn it too.)
// Held-out pairs stay held out as the evaluation sees them: a recoloured image is rendered, read
// by the scenes checker (src/eval/scenes-check.ts), and redrawn if the checker finds any held-out
// colour–shape pair in it; after MAX_TRIES the scene keeps its palette colours.
//
// Draws: the Philox stream (seed, PURPOSE.dataRecolour, scene index): word 0 decides whether the
// scene is recoloured (< the probability), then per try, per object, three uniforms → HSV with
// hue ∈ [0, 360), saturation ∈ [0.4, 1], value ∈ [0.5, 1].
import { Philox, stream } from '../../random/philox.ts';
import { PURPOSE } from '../../random/purposes.ts';
import { classifyPixels, findObjects } from '../../eval/scenes-check.ts';
import { isHeldOutPair } from './scene-vocab.ts';
import { SCENE_SIZE, renderScene, type Scene, type SceneObject } from './scenes.ts';

export const MAX_TRIES = 8;
const MAX_OBJECTS = 4;

/** HSV (h in degrees, s and v in [0, 1]) → sRGB bytes. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h / 60) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/** True when the scenes checker reads a held-out colour–shape pair in the image ([64, 64, 3] bytes). */
export function showsHeldOutPair(rgb: Uint8Array): boolean {
  return findObjects(classifyPixels(rgb)).some((o) => isHeldOutPair(o));
}

/**
 * Renders `scene` into `out`, with probability `recolour` with its objects in random colours (see
 * the header); returns the objects as drawn (palette colours when not recoloured, or when every
 * try showed a held-out pair).
 */
export function renderRecoloured(
  rng: Philox, scene: Pick<Scene, 'boxes' | 'index'>, recolour: number, out: Uint8Array = new Uint8Array(SCENE_SIZE * SCENE_SIZE * 3),
): SceneObject[] {
  if (!(recolour >= 0 && recolour <= 1)) throw new RangeError(`recolour: the probability must be in [0, 1], got ${recolour}`);
  if (scene.boxes.length > MAX_OBJECTS) throw new RangeError(`recolour: at most ${MAX_OBJECTS} objects, got ${scene.boxes.length}`);
  const id = stream(PURPOSE.dataRecolour, scene.index);
  // the colour words (1…) are drawn only for a scene that is recoloured
  const u = rng.uniform(id, 0, 1)[0] < recolour ? rng.uniform(id, 1, MAX_TRIES * MAX_OBJECTS * 3) : new Float32Array(0);
  for (let t = 0; u.length > 0 && t < MAX_TRIES; t++) {
    const boxes = scene.boxes.map((o, k) => {
      const i = (t * MAX_OBJECTS + k) * 3;
      return { ...o, rgb: hsvToRgb(360 * u[i], 0.4 + 0.6 * u[i + 1], 0.5 + 0.5 * u[i + 2]) };
    });
    renderScene({ boxes }, out);
    if (!showsHeldOutPair(out)) return boxes;
  }
  renderScene(scene, out);
  return scene.boxes;
}
