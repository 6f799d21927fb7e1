// Emoji training records (reference/datasets.md), browser-safe: the join of an emoji-datasource
// `emoji.json` (which images exist: 1,911 base emoji + 1,875 skin-tone variants per set) with
// emojibase-data's `en/data.json` (CLDR labels and tags), the caption of each image, the held-out
// split by base emoji, balanced sampling weights, and compositing a decoded PNG on white.
//   - join key: the hexcode upper-cased with FE0F dropped; skin variants take the base's tags;
//   - caption: `${style}: ${label}`, the style word naming the art ("twemoji" / "noto"), e.g.
//     "twemoji: french fries", "noto: waving hand: medium skin tone";
//   - held out: a base emoji (with all its skin-tone variants, in every set) is held out when the
//     hash (FNV-1a + fmix32) of its normalised hexcode is < 5 % of 2^32 (≈ 5 % of the base emoji);
//   - pixels: straight alpha over white, round(c·a + 255·(1 − a)), a = alpha / 255.
import type { DecodedPng } from 'fast-png';
import { convertIndexedToRgb } from 'fast-png';

export type EmojiSet = 'twitter' | 'google';
export const EMOJI_SETS: readonly EmojiSet[] = ['twitter', 'google'];
export const EMOJI_SIZE = 64;

/** Where each set comes from, its caption style word and the licence of its images. */
export const EMOJI_SOURCES: Record<EmojiSet, {
  package: string; version: string; style: string; imageLicence: string; attribution: string;
}> = {
  twitter: {
    package: 'emoji-datasource-twitter', version: '16.0.0', style: 'twemoji', imageLicence: 'CC-BY-4.0',
    attribution: 'Twemoji graphics © Twitter, Inc. and other contributors (jdecked/twemoji v16.0.1), licensed under CC-BY 4.0, via emoji-datasource-twitter 16.0.0 (MIT)',
  },
  google: {
    package: 'emoji-datasource-google', version: '16.0.0', style: 'noto', imageLicence: 'Apache-2.0',
    attribution: 'Noto Emoji graphics v2.048 © Google LLC, licensed under the Apache License 2.0, via emoji-datasource-google 16.0.0 (MIT)',
  },
};

/** The captions' source. */
export const EMOJI_CAPTION_SOURCE = {
  package: 'emojibase-data', version: '17.0.0', file: 'en/data.json', licence: 'MIT',
  attribution: 'English CLDR emoji annotations (Unicode License v3) via emojibase-data 17.0.0 (MIT)',
} as const;

/** The npm packages the emoji data needs (devDependencies of this repository). */
export const EMOJI_PACKAGES = [
  `${EMOJI_SOURCES.twitter.package}@${EMOJI_SOURCES.twitter.version}`,
  `${EMOJI_SOURCES.google.package}@${EMOJI_SOURCES.google.version}`,
  `${EMOJI_CAPTION_SOURCE.package}@${EMOJI_CAPTION_SOURCE.version}`,
];

export interface EmojiRecord {
  set: EmojiSet;
  /** File name under img/{set}/64/, e.g. "1f44b-1f3fd.png". */
  image: string;
  /** Normalised hexcode (upper case, no FE0F), e.g. "1F44B-1F3FD". */
  hexcode: string;
  /** Normalised hexcode of the base emoji (= hexcode for a base emoji). */
  base: string;
  /** CLDR label, e.g. "waving hand: medium skin tone". */
  label: string;
  /** CLDR tags (a skin variant's are its base's). */
  tags: string[];
  /** `${style}: ${label}`. */
  caption: string;
  category: string;
  subcategory: string;
  /** A skin-tone variant (not the base image). */
  variant: boolean;
  heldOut: boolean;
}

export interface EmojiDataset {
  size: number;
  records: EmojiRecord[];
  /** [N, 64, 64, 3] RGB bytes composited on white, in record order (93 MB for both full sets). */
  pixels: Uint8Array;
  /** Licences and attributions of what was loaded (record them with anything trained on it). */
  licences: { set: EmojiSet; imageLicence: string; attribution: string }[];
  captionSource: typeof EMOJI_CAPTION_SOURCE;
}

/** An emoji.json entry (the fields we read). */
interface DatasourceEntry {
  unified: string; image: string; category: string; subcategory: string;
  skin_variations?: Record<string, { unified: string; image: string }>;
}
/** An emojibase-data entry (the fields we read). */
interface EmojibaseEntry { hexcode: string; label: string; tags?: string[]; skins?: { hexcode: string; label: string }[] }

/** The join key: upper case, FE0F dropped. */
export function normHexcode(h: string): string {
  return h.toUpperCase().split('-').filter((x) => x !== 'FE0F').join('-');
}

/**
 * 32-bit hash of a string: FNV-1a over its UTF-16 code units, then MurmurHash3's fmix32 finaliser
 * (FNV-1a alone leaves the high bits of short similar strings poorly mixed).
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export const HELD_OUT_FRACTION = 0.05;

/** Is this base emoji (normalised hexcode) held out from training? */
export function isHeldOutEmoji(base: string): boolean {
  return hashString(normHexcode(base)) < HELD_OUT_FRACTION * 2 ** 32;
}

/**
 * Joins emoji.json (parsed) with emojibase en/data.json (parsed) for one set: one record per image,
 * base first then its skin variants in emoji.json order. Throws if an image has no label.
 */
export function joinEmoji(set: EmojiSet, datasource: readonly DatasourceEntry[], emojibase: readonly EmojibaseEntry[]): EmojiRecord[] {
  const labels = new Map<string, { label: string; tags: string[] }>();
  for (const e of emojibase) {
    const tags = e.tags ?? [];
    labels.set(normHexcode(e.hexcode), { label: e.label, tags });
    for (const s of e.skins ?? []) labels.set(normHexcode(s.hexcode), { label: s.label, tags });
  }
  const style = EMOJI_SOURCES[set].style;
  const records: EmojiRecord[] = [];
  const missing: string[] = [];
  for (const e of datasource) {
    const base = normHexcode(e.unified);
    const heldOut = isHeldOutEmoji(base);
    const baseTags = labels.get(base)?.tags ?? [];
    const images = [{ unified: e.unified, image: e.image, variant: false }, ...Object.values(e.skin_variations ?? {}).map((v) => ({ ...v, variant: true }))];
    for (const im of images) {
      const hexcode = normHexcode(im.unified);
      const l = labels.get(hexcode);
      if (!l) { missing.push(im.image); continue; }
      records.push({
        set, image: im.image, hexcode, base, label: l.label, tags: im.variant ? baseTags : l.tags,
        caption: `${style}: ${l.label}`, category: e.category, subcategory: e.subcategory, variant: im.variant, heldOut,
      });
    }
  }
  if (missing.length) throw new Error(`emoji join: ${missing.length} ${set} image(s) have no emojibase label, e.g. ${missing.slice(0, 3).join(', ')}`);
  return records;
}

/** The scenes' shape words (reference/scenes.md), singular and plural. */
const SCENE_SHAPE_WORD = /\b(circle|square|triangle|star)s?\b/i;

/**
 * An emoji's caption as people write prompts: its CLDR label alone ("red apple") when `form` < 0.5,
 * else with an article ("a red apple", "an apple"); null for a label that names one of the scenes'
 * shapes ("blue circle", "star", "black large square"), whose plain form would be a scenes caption
 * and could name a held-out colour–shape pair (scene-vocab.ts): those keep only their styled caption.
 */
export function plainEmojiCaption(label: string, form: number): string | null {
  if (SCENE_SHAPE_WORD.test(label)) return null;
  if (form < 0.5) return label;
  return `${/^[aeiou]/i.test(label) ? 'an' : 'a'} ${label}`;
}

/**
 * Sampling weights over records: 'uniform' = 1 per image; 'balanced' = 1 per (set, base emoji),
 * shared evenly by the base image and its skin-tone variants (so the 1,875 skin-tone variants
 * do not make people half of the data).
 */
export function emojiWeights(records: readonly EmojiRecord[], sampling: 'balanced' | 'uniform'): Float64Array {
  const w = new Float64Array(records.length).fill(1);
  if (sampling === 'uniform') return w;
  const groupSize = new Map<string, number>();
  for (const r of records) groupSize.set(`${r.set} ${r.base}`, (groupSize.get(`${r.set} ${r.base}`) ?? 0) + 1);
  records.forEach((r, i) => { w[i] = 1 / groupSize.get(`${r.set} ${r.base}`)!; });
  return w;
}

/**
 * A decoded PNG (any colour type fast-png returns: palette, grey, grey+alpha, RGB, RGBA; 8 or 16
 * bit; tRNS colour keys) composited on white: [H, W, 3] bytes, round(c·a + 255·(1 − a)).
 */
export function compositeOnWhite(png: DecodedPng, out: Uint8Array = new Uint8Array(png.width * png.height * 3)): Uint8Array {
  const n = png.width * png.height;
  let data: ArrayLike<number> = png.data;
  let channels = png.channels;
  let max = png.depth === 16 ? 65535 : 255;
  if (png.palette) {
    data = convertIndexedToRgb(png);
    channels = png.palette[0].length;
    max = 255;
  } else if (png.depth !== 8 && png.depth !== 16) {
    throw new Error(`emoji PNG: unsupported ${png.depth}-bit ${channels}-channel image`);
  }
  const key = !png.palette && png.transparency && (channels === 1 || channels === 3) ? png.transparency : null;
  const colour = channels >= 3 ? 3 : 1;
  const hasAlpha = channels === 2 || channels === 4;
  for (let i = 0; i < n; i++) {
    const p = i * channels;
    let a = hasAlpha ? data[p + channels - 1] / max : 1;
    if (key) {
      let same = true;
      for (let c = 0; c < channels; c++) if (data[p + c] !== key[c]) same = false;
      if (same) a = 0;
    }
    for (let c = 0; c < 3; c++) {
      const v = (data[p + (colour === 3 ? c : 0)] / max) * 255;
      out[i * 3 + c] = Math.round(v * a + 255 * (1 - a));
    }
  }
  return out;
}
