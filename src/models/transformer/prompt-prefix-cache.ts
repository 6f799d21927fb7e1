// The conditional half's step-0 work per prompt, kept across generations: a prompt generated again
// (another seed, the next request to a server with the same text) has the same context features,
// position ids and mask, so its context prefix (cond_BD, the step-0 input) and step-0 results (the
// K/V rows every later scale attends to, hidden states, logits) are the same as before. Entries are
// matched on the exact bits of those inputs (a fingerprint picks the candidates, then every value is
// compared), so a hit gives bitwise the results of running step 0 again. Least recently used
// entries are dropped to stay within a byte budget and a prompt count (at the released 0.7B size one
// entry holds ~100 MB: 24 blocks × 300 tokens of keys and values; at the default 64 px model ~0.66 MB).
import type { UncondPrefix } from './hart-transformer.ts';
import { PROMPT_CACHE_MAX_PROMPTS, PromptLru } from '../../runtime/prompt-lru.ts';

/** One prompt's step-0 inputs: context [T·D], position ids [T], mask [T] (AdaLN pooling only). */
export interface PromptPrefixKey {
  context: Float32Array;
  positionIds: readonly number[];
  mask?: Float32Array;
}

/** A stored key (its bits) and the fingerprint it is filed under; the value lives in the LRU. */
interface Entry {
  fp: string;
  context: Uint32Array;
  positionIds: Float64Array;
  mask?: Uint32Array;
}

/** Default budget of HartTransformerOptions.promptCacheBytes: two prompts at the released 0.7B size. */
export const DEFAULT_PROMPT_PREFIX_CACHE_BYTES = 256 * 2 ** 20;

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** FNV-1a over the position ids and a stride of the context's bits: picks candidates, never decides a hit. */
function fingerprint(context: Uint32Array, positionIds: readonly number[]): string {
  let h = 0x811c9dc5;
  const mix = (v: number) => { h = Math.imul(h ^ (v >>> 0), 0x01000193); };
  for (const p of positionIds) mix(p);
  const stride = Math.max(1, Math.floor(context.length / 512));
  for (let i = 0; i < context.length; i += stride) mix(context[i]);
  return `${context.length}:${h >>> 0}`;
}

function prefixBytes(v: UncondPrefix): number {
  let n = v.cond_TC.byteLength + v.x_TC.byteLength + v.step0.logits.byteLength + v.step0.hidden.byteLength;
  for (const k of v.step0.key) n += k.byteLength;
  for (const k of v.step0.value) n += k.byteLength;
  return n;
}

export class PromptPrefixCache {
  /** Entries by fingerprint, for lookup. */
  private readonly buckets = new Map<string, Entry[]>();
  /** The values, by entry, least recently used first. */
  private readonly lru: PromptLru<Entry, UncondPrefix>;

  constructor(readonly maxBytes: number, maxPrompts = PROMPT_CACHE_MAX_PROMPTS) {
    this.lru = new PromptLru(maxBytes, maxPrompts, 'prompt prefix cache', (e) => this.unfile(e));
  }

  /** Bytes held (the stored copies of keys and values). */
  get size(): number { return this.lru.bytes; }

  /** Number of prompts held. */
  get count(): number { return this.lru.count; }

  get(key: PromptPrefixKey): UncondPrefix | undefined {
    const ctx = bitsOf(key.context);
    const e = this.buckets.get(fingerprint(ctx, key.positionIds))?.find((c) => matches(c, ctx, key));
    return e && this.lru.get(e);
  }

  /**
   * Stores a copy of the key and the value itself: the value's arrays then belong to the cache (get()
   * hands them out to be read, never written).
   */
  set(key: PromptPrefixKey, value: UncondPrefix): void {
    const context = bitsOf(Float32Array.from(key.context));
    const bytes = prefixBytes(value) + key.context.byteLength + 8 * key.positionIds.length + (key.mask?.byteLength ?? 0);
    if (bytes > this.maxBytes) return;
    const entry: Entry = {
      fp: fingerprint(context, key.positionIds), context, positionIds: Float64Array.from(key.positionIds),
      mask: key.mask ? bitsOf(Float32Array.from(key.mask)) : undefined,
    };
    const same = this.buckets.get(entry.fp)?.find((c) => matches(c, context, key));
    if (same) this.lru.delete(same);
    this.buckets.set(entry.fp, [...(this.buckets.get(entry.fp) ?? []), entry]);
    this.lru.set(entry, value, bytes);
  }

  clear(): void {
    this.buckets.clear();
    this.lru.clear();
  }

  /** Takes a dropped entry out of its bucket. */
  private unfile(e: Entry): void {
    const rest = (this.buckets.get(e.fp) ?? []).filter((c) => c !== e);
    if (rest.length) this.buckets.set(e.fp, rest);
    else this.buckets.delete(e.fp);
  }
}

function matches(e: Entry, ctx: Uint32Array, key: PromptPrefixKey): boolean {
  if (e.positionIds.length !== key.positionIds.length) return false;
  for (let i = 0; i < e.positionIds.length; i++) if (e.positionIds[i] !== key.positionIds[i]) return false;
  if ((e.mask === undefined) !== (key.mask === undefined)) return false;
  if (e.mask && !sameBits(e.mask, bitsOf(key.mask!))) return false;
  return sameBits(e.context, ctx);
}
