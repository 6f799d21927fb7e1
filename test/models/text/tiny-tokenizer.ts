// The tiny tokenizer of the text tests: byte-level BPE with a few merges (cat, dog, red, a).
import { byteLevelTokenizer, type ByteLevelTokenizer } from '../../../src/models/text/byte-level-tokenizer.ts';

/** Merges, in priority order; "Ġ" is the byte-level space. */
export const TINY_MERGES: [string, string][] = [
  ['Ġ', 'c'], ['Ġc', 'a'], ['Ġca', 't'], ['o', 'g'], ['Ġ', 'd'], ['Ġd', 'og'], ['Ġ', 'a'], ['r', 'e'], ['Ġ', 're'], ['Ġre', 'd'],
];

export function tinyTokenizer(config: Record<string, unknown> = {}): ByteLevelTokenizer {
  return byteLevelTokenizer(TINY_MERGES, config);
}
