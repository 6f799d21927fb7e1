// Emoji training data from the npm packages (Node): Twemoji (emoji-datasource-twitter) and Noto
// (emoji-datasource-google) 64 px PNGs composited on white, captioned from emojibase-data
// (emoji-join.ts has the join, captions, held-out split and licences). The packages are
// devDependencies: generating images never needs them, and a missing one is a one-line error.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decode } from 'fast-png';
import {
  EMOJI_CAPTION_SOURCE, EMOJI_PACKAGES, EMOJI_SETS, EMOJI_SIZE, EMOJI_SOURCES, compositeOnWhite, joinEmoji,
  type EmojiDataset, type EmojiRecord, type EmojiSet,
} from './emoji-join.ts';

export * from './emoji-join.ts';

/** The error for missing emoji packages: one line saying how to install them. */
export function missingEmojiPackagesMessage(missing: readonly string[]): string {
  return `emoji training data needs the npm package(s) ${missing.join(', ')}: run \`npm install --no-save ${EMOJI_PACKAGES.join(' ')}\` (or \`npm install\` in a HART.js checkout, where they are devDependencies)`;
}

/** Folder of an installed package, or null. `from` is where resolution starts (default: this file). */
function packageDir(name: string, from: string): string | null {
  try {
    return dirname(createRequire(from).resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

/** Resolves the folders of the packages the given sets need; throws the one-line install message. */
export function emojiPackageDirs(sets: readonly EmojiSet[] = EMOJI_SETS, from: string = import.meta.url): { sets: Partial<Record<EmojiSet, string>>; emojibase: string } {
  const names = [...sets.map((s) => EMOJI_SOURCES[s].package), EMOJI_CAPTION_SOURCE.package];
  const dirs = names.map((n) => packageDir(n, from));
  const missing = names.filter((_, i) => dirs[i] === null);
  if (missing.length) throw new Error(missingEmojiPackagesMessage(missing));
  return { sets: Object.fromEntries(sets.map((s, i) => [s, dirs[i]!])), emojibase: dirs[dirs.length - 1]! };
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Records (captions, splits; no pixels) of the given sets, in set order. */
export function emojiRecords(sets: readonly EmojiSet[] = EMOJI_SETS, from?: string): EmojiRecord[] {
  const dirs = emojiPackageDirs(sets, from);
  const emojibase = readJson(join(dirs.emojibase, EMOJI_CAPTION_SOURCE.file)) as Parameters<typeof joinEmoji>[2];
  return sets.flatMap((s) => joinEmoji(s, readJson(join(dirs.sets[s]!, 'emoji.json')) as Parameters<typeof joinEmoji>[1], emojibase));
}

export interface LoadEmojiOptions {
  /** Which sets (default both). */
  sets?: readonly EmojiSet[];
  /** Keep only these records (e.g. a handful for tests); default all. */
  filter?: (r: EmojiRecord) => boolean;
  /** Resolve the packages from here (a file URL or path; default this module). */
  from?: string;
}

/** Loads and composites the emoji images (~2 s per set of 3,786 on one core). */
export function loadEmojiDataset(options: LoadEmojiOptions = {}): EmojiDataset {
  const sets = options.sets ?? EMOJI_SETS;
  const dirs = emojiPackageDirs(sets, options.from);
  let records = emojiRecords(sets, options.from);
  if (options.filter) records = records.filter(options.filter);
  const S = EMOJI_SIZE;
  // Shared memory, so a WorkerPrefetcher's thread reads the same bytes without a copy.
  const pixels = new Uint8Array(new SharedArrayBuffer(records.length * S * S * 3));
  records.forEach((r, i) => {
    const path = join(dirs.sets[r.set]!, 'img', r.set, String(S), r.image);
    if (!existsSync(path)) throw new Error(`emoji image missing: ${path} (reinstall ${EMOJI_SOURCES[r.set].package})`);
    const png = decode(readFileSync(path));
    if (png.width !== S || png.height !== S) throw new Error(`emoji image ${path} is ${png.width}×${png.height}, expected ${S}×${S}`);
    compositeOnWhite(png, pixels.subarray(i * S * S * 3, (i + 1) * S * S * 3));
  });
  return {
    size: S, records, pixels,
    licences: sets.map((s) => ({ set: s, imageLicence: EMOJI_SOURCES[s].imageLicence, attribution: EMOJI_SOURCES[s].attribution })),
    captionSource: EMOJI_CAPTION_SOURCE,
  };
}
