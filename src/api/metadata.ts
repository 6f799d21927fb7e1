// What a generated PNG records about itself: the A1111-style `parameters` text (prompt, then
// Steps, CFG scale, Seed, Size, Model, Version …: the format PNG Info, Civitai and sd.cpp read), the
// prompt as UTF-8 iTXt, and a `hart` JSON chunk with every resolved setting. The model is named,
// never given as a path. Browser-safe: the CLI, the server and the web app all write these.
import { a1111Parameters, encodePng, type ImageCHW } from '../io/png.ts';
import type { ResolvedOptions } from '../pipeline/options.ts';
import { SOFTWARE } from './version.ts';

export interface ImageRecord {
  prompt: string;
  seed: number;
  /** The settings the batch was made with (its `seeds` are ignored; `seed` is this image's). */
  settings: Omit<ResolvedOptions, 'seeds'> & { seeds?: number[] };
  width: number;
  height: number;
  /** A model name (folder name), not a path. */
  model: string;
}

export function pngText(r: ImageRecord): Record<string, string> {
  const s = r.settings;
  const parameters = a1111Parameters(r.prompt, [
    ['Steps', s.diffusionSteps], ['Sampler', 'HART'], ['CFG scale', s.cfg], ['Seed', r.seed],
    ['Size', `${r.width}x${r.height}`], ['Model', r.model], ['Top-k', s.topK ?? '600/300'], ['Top-p', s.topP],
    ['Temperature', s.temperature], ['More smooth', s.moreSmooth], ['CFG schedule', s.cfgSchedule], ['RNG', 'Philox4x32-10'], ['Version', SOFTWARE],
  ]);
  const { seeds: _s, ...settings } = s;
  return {
    parameters,
    prompt: r.prompt,
    hart: JSON.stringify({ prompt: r.prompt, seed: r.seed, model: r.model, width: r.width, height: r.height, ...settings, version: SOFTWARE }),
    Software: SOFTWARE,
  };
}

/** A PNG with the metadata above (or none: `metadata: false`). */
export function encodeImagePng(img: ImageCHW, record: ImageRecord | false): Uint8Array {
  return record ? encodePng(img, pngText(record), ['prompt']) : encodePng(img);
}
