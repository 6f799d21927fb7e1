// HartPipeline: prompts → images. Loads a model folder (HART.js or official layout) and a Qwen2
// text encoder, then runs the generation loop; the text encoder can be released after encoding
// to bound memory (the 1.5B encoder and the 0.7B transformer need not be resident together).
import type { FileAccess } from '../io/file-access.ts';
import type { ImageCHW } from '../io/png.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { MatmulPrecision } from '../models/transformer/precision.ts';
import { loadHart, type LoadedHart, type LoadProgress } from './load.ts';
import { runGeneration, type EncodedContext, type LoopHooks } from './generate-loop.ts';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from './options.ts';
import { makePreviewer } from './preview.ts';
import { joinEncoded, PromptEncodingCache, splitEncoded, type EncodedBatch } from './prompt-cache.ts';
import { DEFAULT_PROMPT_PREFIX_CACHE_BYTES } from '../models/transformer/prompt-prefix-cache.ts';

/** What the pipeline needs from a text encoder (src/models/text implements it). */
export interface PromptEncoder {
  encodePrompts(prompts: readonly string[], options: { maxLength: number; useSystemPrompt?: boolean }): Promise<{
    context: HostTensor; mask: HostTensor; positionIds: HostTensor; truncated: boolean[];
    /** Per prompt: words the model's vocabulary has no whole token for (optional). */
    missingWords?: string[][];
  }>;
  release?(): Promise<void>;
}

export interface PipelineOptions {
  runtime: Runtime;
  /** Loads the text encoder on demand (kept, or released after each encoding: see keepTextEncoder). */
  textEncoder?: () => Promise<PromptEncoder>;
  /** Keep the text encoder resident between generations (default true; the CLI releases it). */
  keepTextEncoder?: boolean;
  /**
   * One generation only (the CLI): the transformer and diffusion sessions are freed before the
   * decoder runs, so their memory arenas and the decoder's activations are never resident together.
   */
  singleShot?: boolean;
  /** Matrix precision of the transformer blocks (float32, int8, int4, dynq8); default the model's (hart.json), else float32. */
  precision?: MatmulPrecision;
  /** Loading milestones (weights read, graphs compiled); the text encoder loads on the first prompt. */
  onLoadProgress?: (e: LoadProgress) => void;
  /**
   * Prompts generated again reuse their work (exact, bitwise the same images): the transformer's
   * conditional step 0 is kept per prompt within this many bytes (default 256 MiB: two prompts at the
   * released 0.7B size) and at most 32 prompts, the text encoder's output within a quarter of it;
   * least recently used prompts go first. 0 keeps nothing; a single-shot pipeline keeps nothing.
   */
  promptCacheBytes?: number;
}

export interface GenerateResult {
  images: ImageCHW[];
  /** Per prompt: it had more tokens than the model reads and was cut (the official code does so silently). */
  truncated: boolean[];
  /** Per prompt: words its tokenizer's whole-word vocabulary lacks (models trained by hart train spell them in characters: words they never read); [] for BPE tokenizers. */
  missingWords: string[][];
  seeds: number[];
  /** The settings every image was made with (defaults filled in). */
  settings: ResolvedOptions;
}

/** The prompt caches' budget: none for a single-shot pipeline (it never generates again). */
function promptCacheBytes(opts: PipelineOptions): number {
  return opts.singleShot ? 0 : opts.promptCacheBytes ?? DEFAULT_PROMPT_PREFIX_CACHE_BYTES;
}

export class HartPipeline {
  /** The text encoder's load, shared by concurrent calls (one load, however many arrive first). */
  private encoder?: Promise<PromptEncoder>;
  /** Calls encoding right now: a pipeline that releases its encoder does so when the last one ends. */
  private encoderUsers = 0;
  private consumed = false;
  private readonly encodings: PromptEncodingCache;
  private constructor(readonly model: LoadedHart, private opts: PipelineOptions) {
    this.encodings = new PromptEncodingCache(Math.floor(promptCacheBytes(opts) / 4));
  }

  static async fromPretrained(files: FileAccess, opts: PipelineOptions): Promise<HartPipeline> {
    return new HartPipeline(await loadHart(files, opts.runtime, {
      precision: opts.precision, onProgress: opts.onLoadProgress, promptCacheBytes: promptCacheBytes(opts),
    }), opts);
  }

  /** Prompts (one image each) → images in [0,1], [3, H, W]. */
  async generate(prompts: string | string[], options: GenerateOptions & { previews?: boolean; hooks?: LoopHooks } = {}): Promise<GenerateResult> {
    const list = typeof prompts === 'string' ? [prompts] : prompts;
    if (list.length === 0) throw new Error('generate: no prompts');
    const { previews, hooks, ...rest } = options;
    const resolved = resolveOptions(list.length, rest, this.model.defaults);
    const enc = await this.encode(list);
    const ctx: EncodedContext = { context: enc.context, positionIds: enc.positionIds, mask: enc.mask };
    const images = await this.generateFromContext(ctx, { ...rest, previews, hooks }, resolved);
    return { images, truncated: enc.truncated, missingWords: enc.missingWords, seeds: resolved.seeds, settings: resolved };
  }

  /** The prompts' encodings: from the cache, the others (once per distinct prompt) from the text encoder. */
  private async encode(list: readonly string[]): Promise<EncodedBatch> {
    if (!this.opts.textEncoder) throw new Error('this pipeline has no text encoder; pass one to fromPretrained or use generateFromContext');
    const maxLength = this.model.transformerConfig.context_token;
    const useSystemPrompt = this.model.hartJson?.prompt?.system_prompt ?? true;
    const key = (p: string) => PromptEncodingCache.key(p, maxLength, useSystemPrompt);
    const rows = list.map((p) => this.encodings.get(key(p)));
    const missing = [...new Set(list.filter((_, b) => !rows[b]))];
    if (missing.length) {
      const fresh = splitEncoded(await this.withEncoder((e) => e.encodePrompts(missing, { maxLength, useSystemPrompt })));
      missing.forEach((p, k) => this.encodings.set(key(p), fresh[k]));
      list.forEach((p, b) => { rows[b] ??= fresh[missing.indexOf(p)]; });
    }
    return joinEncoded(rows as NonNullable<(typeof rows)[number]>[]);
  }

  /**
   * Runs `f` on the text encoder, loading it once for every call that arrives while it loads (a
   * failed load is retried by the next call); a pipeline with keepTextEncoder false releases it
   * when the last call using it ends, never under another.
   */
  private async withEncoder<T>(f: (e: PromptEncoder) => Promise<T>): Promise<T> {
    let load = this.encoder;
    if (!load) {
      const started = this.opts.textEncoder!();
      started.catch(() => { if (this.encoder === started) this.encoder = undefined; }); // the next call loads again
      this.encoder = load = started;
    }
    this.encoderUsers++;
    try {
      return await f(await load);
    } finally {
      this.encoderUsers--;
      // still this pipeline's encoder, so the load succeeded
      if (!(this.opts.keepTextEncoder ?? true) && this.encoderUsers === 0 && this.encoder === load) {
        this.encoder = undefined;
        await (await load).release?.();
      }
    }
  }

  /** The loop on already-encoded text (tests replay the official context; servers may cache encodings). */
  async generateFromContext(ctx: EncodedContext, options: GenerateOptions & { previews?: boolean; hooks?: LoopHooks } = {},
    resolved = resolveOptions(ctx.context.shape[0], (({ previews: _p, hooks: _h, ...r }) => r)(options), this.model.defaults)): Promise<ImageCHW[]> {
    const { tokenizer, transformer, diffusion } = this.model;
    if (this.consumed) throw new Error('this single-shot pipeline has already generated; load it again');
    const runtime = this.opts.runtime;
    const beforeDecode = this.opts.singleShot
      ? async () => {
        this.consumed = true;
        await transformer.release(runtime);
        await diffusion.release(runtime);
      }
      : undefined;
    return runGeneration(this.model, ctx, {
      beforeDecode,
      ...resolved,
      onProgress: options.onProgress,
      signal: options.signal,
      hooks: options.hooks,
      preview: options.previews && options.onProgress ? makePreviewer(tokenizer, 8, this.model.transformer.dims.patchNums) : undefined,
    });
  }

  async dispose(): Promise<void> {
    const load = this.encoder;
    this.encoder = undefined;
    await (await load?.catch(() => undefined))?.release?.();
  }
}
