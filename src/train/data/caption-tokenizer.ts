// A small caption tokenizer for models trained from scratch on emoji + scenes captions, written as
// a HF tokenizer.json + tokenizer_config.json that load through the same path as every text
// encoder here (PromptTokenizer → @huggingface/tokenizers; text-encoder-folder.ts reads the files).
//   - normalizer: NFC then Lowercase; pre-tokenizer: BertPreTokenizer (whitespace, and each
//     punctuation character alone: "flag: Åland" → flag, :, åland);
//   - model: WordPiece used as a word-level vocabulary with a character fallback: every word of the
//     given captions is one token (by frequency, then alphabetically), then every character seen
//     and every printable ASCII character (upper case excepted: it is lower-cased first) as a word
//     start and as a "##" continuation, so a word outside the vocabulary (a held-out emoji's, a
//     typo) is spelled in characters, and only other unseen characters become <unk>;
//   - special tokens <pad> (id 0, the pad token HART pads prompts with) and <unk> (id 1); no
//     post-processor (nothing is added around a prompt, like Qwen2's).
// (@huggingface/tokenizers has no WordLevel model; WordPiece with whole words is its equivalent.)
import { Tokenizer } from '@huggingface/tokenizers';
import type { EmojiRecord } from './emoji-join.ts';
import { sceneVocabulary } from './scene-vocab.ts';

export const PAD_TOKEN = '<pad>';
export const UNK_TOKEN = '<unk>';
export const CONTINUING_PREFIX = '##';

export interface CaptionTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** token → id. */
  vocab: Map<string, number>;
  /** The number of whole-word tokens (ids 2 … 2 + words − 1). */
  words: number;
}

export interface CaptionTokenizerOptions {
  /** Words seen fewer times are left to the character fallback (default 1: keep all). */
  minCount?: number;
  /** tokenizer_config.json model_max_length (default 300, HART's text_tokenizer_max_length). */
  modelMaxLength?: number;
}

function tokenizerJson(vocab: Map<string, number>): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [PAD_TOKEN, UNK_TOKEN].map((content) => ({
      id: vocab.get(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: CONTINUING_PREFIX, cleanup: true },
    model: {
      type: 'WordPiece', unk_token: UNK_TOKEN, continuing_subword_prefix: CONTINUING_PREFIX, max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
}

/** Splits text exactly as the tokenizer will (its own normalizer and pre-tokenizer). */
export function captionWords(texts: Iterable<string>): string[][] {
  const probe = new Tokenizer(tokenizerJson(new Map([[PAD_TOKEN, 0], [UNK_TOKEN, 1]])), {});
  const out: string[][] = [];
  for (const t of texts) out.push(probe.pre_tokenizer!.pre_tokenize(probe.normalizer!.normalize(t)));
  return out;
}

/** Builds the tokenizer from training captions (e.g. emoji captions + scenes captions/vocabulary). */
export function buildCaptionTokenizer(captions: Iterable<string>, options: CaptionTokenizerOptions = {}): CaptionTokenizer {
  const minCount = options.minCount ?? 1;
  const counts = new Map<string, number>();
  for (const words of captionWords(captions)) for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].filter(([, c]) => c >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w);
  const ascii = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => !/[A-Z]/.test(c));
  const chars = [...new Set([...ascii, ...[...counts.keys()].flatMap((w) => [...w])])].sort();
  const vocab = new Map<string, number>([[PAD_TOKEN, 0], [UNK_TOKEN, 1]]);
  for (const w of words) vocab.set(w, vocab.size);
  for (const c of chars) if (!vocab.has(c)) vocab.set(c, vocab.size);
  for (const c of chars) vocab.set(CONTINUING_PREFIX + c, vocab.size);
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    bos_token: null,
    eos_token: null,
    padding_side: 'right',
    truncation_side: 'right',
    model_max_length: options.modelMaxLength ?? 300,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizerJson: tokenizerJson(vocab), tokenizerConfig, vocab, words: words.length };
}

/** The tokenizer for emoji + scenes training: the training (not held-out) emoji captions and the scenes vocabulary. */
export function trainingCaptionTokenizer(emoji: readonly EmojiRecord[], options: CaptionTokenizerOptions = {}): CaptionTokenizer {
  return buildCaptionTokenizer([...emoji.filter((r) => !r.heldOut).map((r) => r.caption), ...sceneVocabulary()], options);
}
