// Encoded prompts kept across generations: the text encoder's output for a prompt depends only on
// the prompt, the context length and whether the system prompt is prepended (each row is padded to
// the context length on its own), so a prompt generated again (another seed, a server's next
// request) reuses its rows instead of running the encoder (at the released size the 1.5B Qwen2,
// seconds per prompt). Least recently used prompts are dropped to stay within a byte budget.
import type { DType, TypedArray } from '../graph/dtype.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import { PROMPT_CACHE_MAX_PROMPTS, PromptLru } from '../runtime/prompt-lru.ts';

/** One prompt's encoding: its rows of the encoder's outputs. */
export interface EncodedPrompt {
  /** [T·D] context features. */
  context: Float32Array;
  /** [T] mask row (the encoder's dtype and values). */
  mask: TypedArray;
  maskDtype: DType;
  /** [T] context position ids. */
  positionIds: number[];
  truncated: boolean;
  missingWords: string[];
}

/** What the pipeline gives the generation loop for a batch of prompts. */
export interface EncodedBatch {
  context: HostTensor;
  mask: HostTensor;
  positionIds: number[][];
  truncated: boolean[];
  missingWords: string[][];
}

const bytesOf = (e: EncodedPrompt, key: string) => e.context.byteLength + e.mask.byteLength + 8 * e.positionIds.length
  + 2 * key.length + e.missingWords.reduce((n, w) => n + 2 * w.length, 0);

export class PromptEncodingCache {
  private readonly lru: PromptLru<string, EncodedPrompt>;

  constructor(readonly maxBytes: number, maxPrompts = PROMPT_CACHE_MAX_PROMPTS) {
    this.lru = new PromptLru(maxBytes, maxPrompts, 'prompt encoding cache');
  }

  static key(prompt: string, maxLength: number, useSystemPrompt: boolean): string {
    return `${maxLength}|${useSystemPrompt ? 1 : 0}|${prompt}`;
  }

  get count(): number { return this.lru.count; }
  get size(): number { return this.lru.bytes; }

  get(key: string): EncodedPrompt | undefined {
    return this.lru.get(key);
  }

  /** Keeps `value` itself (its arrays then belong to the cache). */
  set(key: string, value: EncodedPrompt): void {
    this.lru.set(key, value, bytesOf(value, key));
  }
}

/** Splits a batch the encoder returned into per-prompt rows (copies). */
export function splitEncoded(enc: {
  context: HostTensor; mask: HostTensor; positionIds: HostTensor; truncated: boolean[]; missingWords?: string[][];
}): EncodedPrompt[] {
  const [B, T, D] = enc.context.shape;
  const ctx = enc.context.data as Float32Array;
  const pos = Array.from(enc.positionIds.data as ArrayLike<number | bigint>, Number);
  const mask = enc.mask.data;
  return Array.from({ length: B }, (_, b) => ({
    context: ctx.slice(b * T * D, (b + 1) * T * D),
    mask: mask.slice(b * T, (b + 1) * T),
    maskDtype: enc.mask.dtype,
    positionIds: pos.slice(b * T, (b + 1) * T),
    truncated: enc.truncated[b],
    missingWords: enc.missingWords?.[b] ?? [],
  }));
}

/** Stacks per-prompt rows (all of one context length) into the batch the generation loop reads. */
export function joinEncoded(rows: EncodedPrompt[]): EncodedBatch {
  const B = rows.length, TD = rows[0].context.length, T = rows[0].positionIds.length;
  const context = new Float32Array(B * TD);
  const mask = new (rows[0].mask.constructor as new (n: number) => TypedArray)(B * T);
  rows.forEach((r, b) => {
    if (r.context.length !== TD || r.positionIds.length !== T) throw new Error('joinEncoded: prompts of different context lengths');
    context.set(r.context, b * TD);
    (mask as Float32Array).set(r.mask as Float32Array, b * T); // one typed-array kind throughout
  });
  return {
    context: { dtype: 'float32', shape: [B, T, TD / T], data: context },
    mask: { dtype: rows[0].maskDtype, shape: [B, T], data: mask },
    // copies: the cached rows stay the cache's
    positionIds: rows.map((r) => [...r.positionIds]),
    truncated: rows.map((r) => r.truncated),
    missingWords: rows.map((r) => [...r.missingWords]),
  };
}
