// The one eviction rule of the prompt caches (the pipeline's text encodings, src/pipeline/prompt-cache.ts,
// and the transformer's step-0 results, src/models/transformer/prompt-prefix-cache.ts): entries
// keyed by K, least recently used dropped first until both a byte budget and a prompt count hold;
// an entry larger than the whole budget is not stored, and the newest entry is never the one dropped.

/** At most this many prompts whatever their size (a small model's entries would otherwise fill the budget by the hundred). */
export const PROMPT_CACHE_MAX_PROMPTS = 32;

export class PromptLru<K, V> {
  /** Least recently used first (Map insertion order). */
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private total = 0;

  /**
   * `what` names the cache in errors; `onDrop` hears of every entry that leaves by eviction or
   * delete() (not clear()), for an index kept beside the cache.
   */
  constructor(
    readonly maxBytes: number, readonly maxPrompts: number, what: string, private readonly onDrop?: (key: K) => void,
  ) {
    if (!(maxBytes >= 0)) throw new Error(`${what}: the byte budget must be ≥ 0, got ${maxBytes}`);
    if (!(Number.isInteger(maxPrompts) && maxPrompts >= 1)) throw new Error(`${what}: the prompt count must be an integer ≥ 1, got ${maxPrompts}`);
  }

  get count(): number { return this.entries.size; }
  get bytes(): number { return this.total; }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /** Stores `value` under `key` (replacing its value); false, storing nothing, when `bytes` alone exceed the budget. */
  set(key: K, value: V, bytes: number): boolean {
    if (bytes > this.maxBytes) return false;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.total -= old.bytes;
    }
    this.entries.set(key, { value, bytes });
    this.total += bytes;
    for (const k of this.entries.keys()) {
      if (this.total <= this.maxBytes && this.entries.size <= this.maxPrompts) break;
      this.delete(k); // never the new entry: it alone fits
    }
    return true;
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.total -= e.bytes;
    this.onDrop?.(key);
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }
}
