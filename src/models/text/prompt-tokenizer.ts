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

export interface TokenizerFiles {
  /** Parsed tokenizer.json. */
  tokenizerJson: object;
  /** Parsed tokenizer_config.json (pad_token, padding_side, truncation_side); optional. */
  tokenizerConfig?: object;
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
}

type Json = Record<string, unknown>;

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

function side(cfg: Json, key: string): 'left' | 'right' {
  const v = cfg[key] ?? 'right';
  if (v !== 'left' && v !== 'right') throw new Error(`tokenizer_config.json: ${key} ${JSON.stringify(v)} must be "left" or "right"`);
  return v;
}

export class PromptTokenizer {
  readonly tokenizer: Tokenizer;
  readonly padToken: string;
  readonly padTokenId: number;
  readonly paddingSide: 'left' | 'right';
  readonly truncationSide: 'left' | 'right';

  constructor(files: TokenizerFiles) {
    const cfg = (files.tokenizerConfig ?? {}) as Json;
    this.tokenizer = new Tokenizer(files.tokenizerJson, cfg);
    const pad = tokenContent(cfg.pad_token) ?? tokenContent(((files.tokenizerJson as Json).padding as Json | null)?.pad_token);
    if (pad === null) throw new Error('the text tokenizer has no pad token (tokenizer_config.json "pad_token"); HART pads every prompt to max_length');
    const id = this.tokenizer.token_to_id(pad);
    if (id === undefined) throw new Error(`the pad token ${JSON.stringify(pad)} is not in the tokenizer's vocabulary`);
    this.padToken = pad;
    this.padTokenId = id;
    this.paddingSide = side(cfg, 'padding_side');
    this.truncationSide = side(cfg, 'truncation_side');
  }

  /** Token ids of one text with HF's defaults (special tokens added by the post-processor, if any). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  /** Token ids cut to maxLength on the truncation side; `numTokens` is the count before cutting. */
  encodeTruncated(text: string, maxLength: number): { ids: number[]; numTokens: number; truncated: boolean } {
    const ids = this.encode(text);
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
    for (let b = 0; b < B; b++) {
      const r = this.encodeTruncated(prompts[b], maxLength);
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
    }
    return { batch: B, maxLength, tokens, mask, positionIds, truncated, numTokens };
  }
}
