// QwenTextEncoder: prompts → HART's text conditioning, the official `encode_prompts` (hart/utils/tools.py,
// hart-spec §1.1 and §8 item 2): the system prompt's tokens (alone, truncated to max_length) are
// prepended to each prompt's 300 padded tokens; Qwen2 runs on the concatenation with
// attention_mask = cat([ones, context_mask]) and default positions arange(sys_len + 300); the
// last hidden state (after the final norm) is kept for the 300 prompt positions, pads included,
// as float32 [B, 300, 1536]. Attention being causal, the system prompt's keys/values do not depend
// on the prompts: they are computed once per encoder and the prompts' tokens attend to them. The
// caller releases the encoder when done (it holds ~6 GB for Qwen2-1.5B).
import { gatherRows, type HostTensor } from '../../runtime/host-tensor.ts';
import type { Runtime } from '../../runtime/runtime.ts';
import type { TensorSource } from '../../io/tensor-source.ts';
import { parseQwen2Config, type Qwen2Config } from './config.ts';
import { Qwen2Encoder, type Qwen2EncoderOptions } from './encoder.ts';
import { PromptTokenizer, type TokenizerFiles } from './prompt-tokenizer.ts';
import { LLM_SYSTEM_PROMPT } from './system-prompt.ts';

/** The official text_tokenizer_max_length (= HART's context_token). */
export const TEXT_MAX_LENGTH = 300;

export interface TextEncoderFiles extends TokenizerFiles {
  /** Parsed config.json of the Qwen2 model. */
  config: object;
  /** Its weights: a safetensors file or sharded checkpoint opened through src/io. */
  weights: TensorSource;
}

export interface EncodePromptsOptions {
  /** Tokens per prompt after padding/truncation (official: 300). */
  maxLength?: number;
  /** Prepend the system prompt (official default: true). */
  useSystemPrompt?: boolean;
  /** The system prompt text (default: the official LLM_SYSTEM_PROMPT). */
  systemPrompt?: string;
  /** 'truncate' (official: keep the first maxLength tokens, flagged in `truncated`) or 'error'. */
  overflow?: 'truncate' | 'error';
}

export interface EncodedPrompts {
  /** float32 [B, maxLength, C]: Qwen2's last hidden state at the prompt positions, pads included. */
  context: HostTensor;
  /** bool [B, maxLength] (0/1 bytes): tokens != pad_token_id. */
  mask: HostTensor;
  /** int64 [B, maxLength]: cumsum(mask) − 1. */
  positionIds: HostTensor;
  /** int64 [B, maxLength]: the padded prompt tokens. */
  tokens: HostTensor;
  /** Per prompt: it was longer than maxLength tokens and was cut. */
  truncated: boolean[];
  /** Per prompt: its token count before truncation. */
  numTokens: number[];
  /** Per prompt: words the tokenizer's whole-word vocabulary lacks (PromptTokenizer.missingWords; [] for BPE). */
  missingWords: string[][];
  /** Tokens of the prepended system prompt (0 without one). */
  systemPromptLength: number;
}

const toInt64 = (a: ArrayLike<number>): BigInt64Array => BigInt64Array.from(Array.from(a, (v) => BigInt(v)));

export class QwenTextEncoder {
  private constructor(
    readonly encoder: Qwen2Encoder,
    readonly tokenizer: PromptTokenizer,
  ) {}

  /**
   * Parses the config, builds the tokenizer and loads the Qwen2 language model (skipping e.g.
   * `visual.*`, listed in `skippedWeights`). `files.weights` may be closed once this resolves.
   */
  static async fromPretrained(files: TextEncoderFiles, runtime: Runtime, options: Qwen2EncoderOptions = {}): Promise<QwenTextEncoder> {
    const config = parseQwen2Config(files.config);
    const tokenizer = new PromptTokenizer(files);
    return new QwenTextEncoder(await Qwen2Encoder.load(config, files.weights, runtime, options), tokenizer);
  }

  get config(): Qwen2Config { return this.encoder.config; }
  /** Checkpoint weights outside the language model that were not loaded, per prefix. */
  get skippedWeights(): { prefix: string; count: number }[] { return this.encoder.skippedWeights; }

  async encodePrompts(prompts: readonly string[], options: EncodePromptsOptions = {}): Promise<EncodedPrompts> {
    const maxLength = options.maxLength ?? TEXT_MAX_LENGTH;
    if (prompts.length === 0) throw new Error('encodePrompts: no prompts');
    prompts.forEach((p, i) => {
      if (typeof p !== 'string' || p.trim() === '') throw new Error(`prompt ${i} is empty; HART needs a text prompt`);
    });
    const t = this.tokenizer.tokenizePrompts(prompts, maxLength);
    if (options.overflow === 'error') {
      const i = t.truncated.indexOf(true);
      if (i >= 0) throw new Error(`prompt ${i} has ${t.numTokens[i]} tokens, more than the ${maxLength} the model reads`);
    }
    const sys = (options.useSystemPrompt ?? true)
      ? this.tokenizer.encodeTruncated(options.systemPrompt ?? LLM_SYSTEM_PROMPT, maxLength).ids
      : [];

    // The system prompt comes first and attention is causal, so its keys/values never depend on the
    // prompts: computed once (Qwen2Encoder.prefix) and attended to by each prompt's tokens. Repeated
    // prompts (n images of one prompt) run once and their rows are copied; a prompt an earlier
    // process encoded is read from the disk cache (Qwen2Encoder.forwardPersisted).
    const B = prompts.length, S = sys.length, C = this.config.hidden_size;
    const prefix = S > 0 ? await this.encoder.prefix(sys) : undefined;
    const distinct = [...new Set(prompts)];
    const dedup = distinct.length < B;
    const first = distinct.map((p) => prompts.indexOf(p));
    const rows = <T extends Int32Array | Uint8Array>(a: T): T => (dedup ? gatherRows(a, maxLength, first) : a);
    const hidden = (await this.encoder.forwardPersisted(rows(t.tokens), rows(t.mask), distinct.length, prefix)).data as Float32Array;
    const context = dedup ? gatherRows(hidden, maxLength * C, prompts.map((p) => distinct.indexOf(p))) : hidden;

    return {
      context: { dtype: 'float32', shape: [B, maxLength, C], data: context },
      mask: { dtype: 'bool', shape: [B, maxLength], data: t.mask },
      positionIds: { dtype: 'int64', shape: [B, maxLength], data: toInt64(t.positionIds) },
      tokens: { dtype: 'int64', shape: [B, maxLength], data: toInt64(t.tokens) },
      truncated: t.truncated,
      numTokens: t.numTokens,
      missingWords: t.missingWords,
      systemPromptLength: S,
    };
  }

  /** Frees the Qwen2 sessions and weights; encodePrompts fails afterwards. */
  release(): Promise<void> { return this.encoder.release(); }
}
