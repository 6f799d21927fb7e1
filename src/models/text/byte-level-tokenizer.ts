// A byte-level BPE tokenizer.json in the Qwen2 format (NFC normalizer, the Qwen2 split regex +
// ByteLevel pre-tokenizer, ByteLevel decoder, <|endoftext|> pad token): 256 byte tokens in GPT-2
// bytes_to_unicode order, then the given merges, then three special tokens. Used by tests and by
// small models that have no tokenizer of their own.

/** GPT-2's byte → printable-character table (bytes_to_unicode), in vocabulary order. */
export function byteLevelAlphabet(): { byte: number; char: string }[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  return bs.map((b, i) => ({ byte: b, char: String.fromCodePoint(cs[i]) }));
}

export const QWEN2_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

export interface ByteLevelTokenizer { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown>; vocab: Map<string, number> }

/** merges in priority order ("Ġ" is the byte-level space); config overrides tokenizer_config.json keys. */
export function byteLevelTokenizer(merges: [string, string][] = [], config: Record<string, unknown> = {}): ByteLevelTokenizer {
  const vocab = new Map<string, number>();
  for (const { char } of byteLevelAlphabet()) vocab.set(char, vocab.size);
  for (const [a, b] of merges) vocab.set(a + b, vocab.size);
  const added = QWEN2_SPECIAL_TOKENS.map((content, i) => ({
    id: vocab.size + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
          behavior: 'Isolated',
          invert: false,
        },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const tokenizerConfig = {
    add_prefix_space: false,
    bos_token: null,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: 32768,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
    ...config,
  };
  for (const a of added) vocab.set(a.content, a.id);
  return { tokenizerJson, tokenizerConfig, vocab };
}
