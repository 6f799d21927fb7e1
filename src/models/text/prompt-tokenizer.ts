// PromptTokenizer: the text side of the official `encode_prompts` (hart/utils/tools.py; hart-spec
// §1.1) over a HF tokenizer.json + tokenizer_config.json (through @huggingface/tokenizers):
//   - each prompt alone, HF defaults (add_special_tokens, which adds nothing for Qwen2), truncated
//     to max_length (300) on tokenizer_config's truncation_side (default right) and padded to
//     max_length with the pad token on its padding_side (default right);
//   - context_mask = tokens != pad_token_id (so a literal "<|endoftext|>" in a prompt is masked too,
//     as officially); context_position_ids = cumsum(mask) − 1 (leading pads, with left padding, get −1);
//   - the system prompt alone, truncated to max_length, unpadded.
// Where the official code truncates silently, we report it: `truncated[b]` and `numTokens[b]`.
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, hasOwn, isPlainObject } from '../../io/schema.ts';

export interface TokenizerFiles {
  /** Parsed tokenizer.json. */
  tokenizerJson: object;
  /** Parsed tokenizer_config.json (pad_token, padding_side, truncation_side); optional. */
  tokenizerConfig?: object;
  /** Names the tokenizer.json in error messages. */
  what?: string;
}

const MAX_VOCAB = 1 << 22;
const COMPONENTS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'];

/**
 * Structural checks of a parsed tokenizer.json before the tokenizer library sees it (its nesting
 * depth is already bounded by readJson): the model's type and vocabulary (ids are integers in
 * range), merges, added tokens and pipeline components of the expected kinds, so a broken file
 * fails with a message naming the field rather than inside the library.
 */
export function checkTokenizerJson(json: unknown, what = 'tokenizer.json'): void {
  const fail = (m: string): never => { throw new Error(`${what}: ${m}`); };
  if (!isPlainObject(json)) fail(`must be a JSON object, got ${describe(json)}`);
  const o = json as Record<string, unknown>;
  const model = hasOwn(o, 'model') ? o.model : undefined;
  if (!isPlainObject(model)) return fail(`"model" must be an object, got ${describe(model)}`);
  const type = hasOwn(model, 'type') ? model.type : 'BPE';
  if (!['BPE', 'WordPiece', 'WordLevel', 'Unigram'].includes(type as string)) fail(`"model.type" ${describe(type)} is not BPE, WordPiece, WordLevel or Unigram`);
  const vocab = hasOwn(model, 'vocab') ? model.vocab : undefined;
  if (type === 'Unigram') {
    if (!Array.isArray(vocab) || vocab.length > MAX_VOCAB) fail(`"model.vocab" must be a list of [piece, score] pairs, got ${describe(vocab)}`);
    for (const e of vocab as unknown[]) if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') fail(`"model.vocab" entry ${describe(e)} is not a [piece, score] pair`);
  } else {
    if (!isPlainObject(vocab)) return fail(`"model.vocab" must be an object of token → id, got ${describe(vocab)}`);
    const ids = Object.values(vocab);
    if (ids.length > MAX_VOCAB) fail(`"model.vocab" has ${ids.length} tokens (limit ${MAX_VOCAB})`);
    for (const [tok, id] of Object.entries(vocab)) if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= MAX_VOCAB) fail(`"model.vocab" id of ${describe(tok)} must be an integer in [0, ${MAX_VOCAB}), got ${describe(id)}`);
  }
  if (type === 'BPE' && hasOwn(model, 'merges') && model.merges !== undefined) {
    const m = model.merges;
    if (!Array.isArray(m) || m.length > MAX_VOCAB) fail(`"model.merges" must be a list of merges, got ${describe(m)}`);
    for (const e of m as unknown[]) {
      if (typeof e !== 'string' && !(Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')) fail(`"model.merges" entry ${describe(e)} is neither "a b" nor ["a", "b"]`);
    }
  }
  for (const k of ['unk_token', 'continuing_subword_prefix', 'end_of_word_suffix']) {
    if (hasOwn(model, k) && model[k] !== null && typeof model[k] !== 'string') fail(`"model.${k}" must be a string or null, got ${describe(model[k])}`);
  }
  const added = hasOwn(o, 'added_tokens') ? o.added_tokens : [];
  if (!Array.isArray(added) || added.length > MAX_VOCAB) fail(`"added_tokens" must be a list, got ${describe(added)}`);
  for (const t of added as unknown[]) {
    if (!isPlainObject(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || (t.id as number) >= MAX_VOCAB || typeof t.content !== 'string') {
      fail(`"added_tokens" entry ${describe(t)} needs an integer "id" and a string "content"`);
    }
  }
  for (const k of COMPONENTS) {
    const c = hasOwn(o, k) ? o[k] : null;
    if (c !== null && c !== undefined) checkComponent(c, k, fail);
  }
}

const COMPONENT_LISTS = ['normalizers', 'pretokenizers', 'decoders', 'processors'];
const STRING_FIELDS = ['behavior', 'content', 'prepend', 'replacement', 'prepend_scheme', 'suffix', 'prefix', 'word_delimiter_token', 'pad_token'];
const BOOL_FIELDS = ['add_prefix_space', 'trim_offsets', 'use_regex', 'invert', 'individual_digits', 'lowercase', 'clean_text', 'handle_chinese_chars', 'left', 'right', 'split', 'cleanup'];

/** A normalizer / pre-tokenizer / decoder / post-processor: a "type", nested lists of the same, and the common fields' kinds. */
function checkComponent(c: unknown, at: string, fail: (m: string) => never): void {
  if (!isPlainObject(c) || typeof c.type !== 'string') return fail(`"${at}" must be null or an object with a "type", got ${describe(c)}`);
  for (const k of COMPONENT_LISTS) {
    if (!hasOwn(c, k)) continue;
    const list = c[k];
    if (!Array.isArray(list)) return fail(`"${at}.${k}" must be a list, got ${describe(list)}`);
    list.forEach((x, i) => checkComponent(x, `${at}.${k}[${i}]`, fail));
  }
  for (const k of STRING_FIELDS) if (hasOwn(c, k) && c[k] !== null && typeof c[k] !== 'string') fail(`"${at}.${k}" must be a string, got ${describe(c[k])}`);
  for (const k of BOOL_FIELDS) if (hasOwn(c, k) && c[k] !== null && typeof c[k] !== 'boolean') fail(`"${at}.${k}" must be true or false, got ${describe(c[k])}`);
  if (hasOwn(c, 'pattern')) {
    const p = c.pattern;
    const ok = isPlainObject(p) && ((hasOwn(p, 'String') && typeof p.String === 'string') || (hasOwn(p, 'Regex') && typeof p.Regex === 'string'));
    if (!ok) fail(`"${at}.pattern" must be {"String": …} or {"Regex": …}, got ${describe(p)}`);
  }
}

/** A library error as the user should read it: its own words, or "a setting has the wrong kind" for a JS internals message. */
function libraryMessage(e: unknown): string {
  const m = String((e as Error)?.message ?? e).slice(0, 200);
  return /is not a function|undefined|Cannot read|is not iterable|\[object /.test(m) ? 'a setting has a value of the wrong kind' : m;
}

export interface PromptTokens {
  batch: number;
  maxLength: number;
  /** [B, maxLength] token ids, padded. */
  tokens: Int32Array;
  /** [B, maxLength] 1 where tokens != pad_token_id. */
  mask: Uint8Array;
  /** [B, maxLength] cumsum(mask) − 1. */
  positionIds: Int32Array;
  /** Per prompt: it had more than maxLength tokens and was cut. */
  truncated: boolean[];
  /** Per prompt: its token count before truncation. */
  numTokens: number[];
  /** Per prompt: the words a whole-word vocabulary lacks (see PromptTokenizer.missingWords). */
  missingWords: string[][];
}

type Json = Record<string, unknown>;

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

function side(cfg: Json, key: string): 'left' | 'right' {
  const v = (hasOwn(cfg, key) ? cfg[key] : undefined) ?? 'right';
  if (v !== 'left' && v !== 'right') throw new Error(`tokenizer_config.json: ${key} ${describe(v)} must be "left" or "right"`);
  return v;
}

export class PromptTokenizer {
  readonly tokenizer: Tokenizer;
  readonly padToken: string;
  readonly padTokenId: number;
  readonly paddingSide: 'left' | 'right';
  readonly truncationSide: 'left' | 'right';
  /** A WordPiece model's continuing-subword prefix ("##"); null for other models (BPE, Unigram). */
  private readonly continuingPrefix: string | null;
  /** The model's unknown token, if it names one. */
  private readonly unkToken: string | null;

  constructor(files: TokenizerFiles) {
    const what = files.what ?? 'tokenizer.json';
    checkTokenizerJson(files.tokenizerJson, what);
    if (files.tokenizerConfig !== undefined && !isPlainObject(files.tokenizerConfig)) throw new Error(`tokenizer_config.json: must be a JSON object, got ${describe(files.tokenizerConfig)}`);
    const cfg = (files.tokenizerConfig ?? {}) as Json;
    try {
      this.tokenizer = new Tokenizer(files.tokenizerJson, cfg);
      // parts of the pipeline are only exercised on use: a smoke encode finds a broken one at load time
      this.tokenizer.encode('A photo of 2 cats, à la mode.');
    } catch (e) {
      throw new Error(`${what}: the tokenizer cannot be built from it (${libraryMessage(e)})`);
    }
    const tj = files.tokenizerJson as Json;
    const padding = hasOwn(tj, 'padding') ? tj.padding : null;
    const pad = tokenContent(hasOwn(cfg, 'pad_token') ? cfg.pad_token : null) ?? tokenContent(isPlainObject(padding) && hasOwn(padding, 'pad_token') ? padding.pad_token : null);
    if (pad === null) throw new Error('the text tokenizer has no pad token (tokenizer_config.json "pad_token"); HART pads every prompt to max_length');
    const id = this.tokenizer.token_to_id(pad);
    if (id === undefined) throw new Error(`the pad token ${describe(pad)} is not in the tokenizer's vocabulary`);
    this.padToken = pad;
    this.padTokenId = id;
    this.paddingSide = side(cfg, 'padding_side');
    this.truncationSide = side(cfg, 'truncation_side');
    const model = (isPlainObject(tj.model) ? tj.model : {}) as Json;
    this.continuingPrefix = model.type === 'WordPiece'
      ? (typeof model.continuing_subword_prefix === 'string' && model.continuing_subword_prefix !== '' ? model.continuing_subword_prefix : '##')
      : null;
    this.unkToken = typeof model.unk_token === 'string' ? model.unk_token : null;
  }

  /**
   * The words of `text` that a WordPiece vocabulary has no whole token for (hart train's caption
   * tokenizers keep every training word whole and spell any other word in characters, so these are
   * words the model never read), as the tokenizer normalises them (lower case), each once; then
   * the characters it reads as its unknown token. Empty for BPE and Unigram models, whose words
   * are pieces by design (Qwen2's).
   */
  missingWords(text: string): string[] {
    return this.missingIn(text, this.tokenizer.encode(text).tokens);
  }

  /** missingWords of `text` from its already-encoded `tokens`. */
  private missingIn(text: string, tokens: readonly string[]): string[] {
    const prefix = this.continuingPrefix;
    if (prefix === null) return [];
    const out: string[] = [];
    const add = (w: string) => { if (!out.includes(w)) out.push(w); };
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i].startsWith(prefix)) continue;
      let word = tokens[i], pieces = 1;
      while (i + 1 < tokens.length && tokens[i + 1].startsWith(prefix)) word += tokens[++i].slice(prefix.length), pieces++;
      if (pieces > 1) add(word);
    }
    const unk = this.unkToken;
    if (unk !== null && tokens.includes(unk)) {
      for (const ch of new Set(text.normalize('NFC'))) {
        if (!/\s/u.test(ch) && this.tokenizer.encode(ch).tokens.includes(unk)) add(ch);
      }
    }
    return out;
  }

  /** Token ids of one text with HF's defaults (special tokens added by the post-processor, if any). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  /** Token ids cut to maxLength on the truncation side; `numTokens` is the count before cutting. */
  encodeTruncated(text: string, maxLength: number): { ids: number[]; numTokens: number; truncated: boolean } {
    return this.truncate(this.encode(text), maxLength);
  }

  private truncate(ids: number[], maxLength: number): { ids: number[]; numTokens: number; truncated: boolean } {
    if (ids.length <= maxLength) return { ids, numTokens: ids.length, truncated: false };
    // HF truncates the text's tokens and then adds the special tokens; that only matters when the
    // post-processor adds some, which Qwen2's does not.
    const specials = this.tokenizer.encode('').ids.length;
    if (specials > 0) throw new Error(`truncating a tokenizer that adds ${specials} special token(s) is not supported`);
    const kept = this.truncationSide === 'right' ? ids.slice(0, maxLength) : ids.slice(ids.length - maxLength);
    return { ids: kept, numTokens: ids.length, truncated: true };
  }

  /** Tokenizes, truncates and pads each prompt to maxLength; mask and position ids as officially. */
  tokenizePrompts(prompts: readonly string[], maxLength: number): PromptTokens {
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`maxLength must be a positive integer (got ${maxLength})`);
    const B = prompts.length;
    const tokens = new Int32Array(B * maxLength).fill(this.padTokenId);
    const mask = new Uint8Array(B * maxLength);
    const positionIds = new Int32Array(B * maxLength);
    const truncated: boolean[] = [];
    const numTokens: number[] = [];
    const missingWords: string[][] = [];
    for (let b = 0; b < B; b++) {
      // one encoding per prompt serves the ids and the missing words
      const e = this.tokenizer.encode(prompts[b]);
      const r = this.truncate(e.ids, maxLength);
      const offset = b * maxLength + (this.paddingSide === 'left' ? maxLength - r.ids.length : 0);
      tokens.set(r.ids, offset);
      let count = 0;
      for (let i = b * maxLength; i < (b + 1) * maxLength; i++) {
        mask[i] = tokens[i] !== this.padTokenId ? 1 : 0;
        count += mask[i];
        positionIds[i] = count - 1;
      }
      truncated.push(r.truncated);
      numTokens.push(r.numTokens);
      missingWords.push(this.missingIn(prompts[b], e.tokens));
    }
    return { batch: B, maxLength, tokens, mask, positionIds, truncated, numTokens, missingWords };
  }
}
