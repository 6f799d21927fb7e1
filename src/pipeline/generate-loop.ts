// The HART generation loop (autoregressive_infer_cfg, hart-spec §1.3): scale by scale, the
// transformer predicts logits for cond and uncond halves, CFG mixes them (the official ramp by default),
// tokens are sampled (hard or Gumbel-smooth), f_hat accumulates φ(bicubic(h)); at the last scale
// the residual diffusion adds the continuous remainder; the tokenizer decodes f_hat to pixels.
// Randomness comes from one Philox generator per image (its seed), addressed by purpose and scale.
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { HartTransformer } from '../models/transformer/index.ts';
import type { HartTokenizer } from '../models/tokenizer/index.ts';
import type { DiffusionSampler, NoiseSource } from '../models/diffusion/index.ts';
import { philoxNoise } from '../models/diffusion/index.ts';
import { Philox, stream } from '../random/philox.ts';
import { PURPOSE } from '../random/purposes.ts';
import { cfgRamp, diffusionCfg, scaleRatio, topKPerScale } from '../tables/schedules.ts';
import type { ImageCHW } from '../io/png.ts';
import { cfgMix, gumbelSmoothMix, sampleTokens } from './sampling.ts';
import type { ResolvedOptions } from './options.ts';
import type { PreviewEvent } from './progress.ts';

export interface HartParts {
  transformer: HartTransformer;
  tokenizer: HartTokenizer;
  diffusion: DiffusionSampler;
}

/** Encoded text: context [B, T, context_dim] (pads included), position ids [B][T], mask [B, T]. */
export interface EncodedContext {
  context: HostTensor;
  positionIds: number[][];
  mask?: HostTensor;
}

/** Replacement random sources (replaying the official code's recorded draws in tests) and diagnostic overrides. */
export interface LoopHooks {
  diffusionNoise?: NoiseSource;
  /**
   * Teacher forcing, for diagnoses (scripts/forced-scales.ts): scale si's token indices [B·l] to use
   * instead of the sampled ones (hard tokens, whatever more_smooth says), or undefined to sample.
   */
  forceTokens?: (si: number) => Int32Array | undefined;
  /** Scale si's token temperature instead of the options' (0 = arg-max), or undefined to keep it; for diagnoses. */
  temperatureAt?: (si: number) => number | undefined;
  /**
   * Guidance t of scale si's logits ((1+t)·cond − t·uncond: 0 the conditional half alone, −1 the
   * unconditional) instead of the cfg schedule's, or undefined to keep it; si = N (one past the last
   * scale) is the residual diffusion's t (the same mix of its ε, but t = 1 is the conditional half
   * alone, as t = 0 is); for diagnoses.
   */
  guidanceAt?: (si: number) => number | undefined;
}

export interface LoopOptions extends ResolvedOptions {
  onProgress?: (e: PreviewEvent) => void | Promise<void>;
  signal?: AbortSignal;
  /** Preview maker called with the current f_hat after each scale (when onProgress is set). */
  preview?: (f_hat_BChw: HostTensor) => Promise<ImageCHW[]>;
  hooks?: LoopHooks;
  /** Runs after the residual diffusion, before the decoder (the pipeline frees the transformer here in single-shot mode). */
  beforeDecode?: () => Promise<void>;
}

function abortIfNeeded(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new DOMException('generation aborted', 'AbortError');
}

/** [B, l, C] token rows → [B, C, pn, pn]. */
export function tokensToNchw(x: Float32Array, B: number, l: number, C: number): Float32Array {
  const out = new Float32Array(B * C * l);
  for (let b = 0; b < B; b++) for (let t = 0; t < l; t++) for (let c = 0; c < C; c++) out[(b * C + c) * l + t] = x[(b * l + t) * C + c];
  return out;
}

export async function runGeneration(parts: HartParts, ctx: EncodedContext, o: LoopOptions): Promise<ImageCHW[]> {
  const { transformer, tokenizer, diffusion } = parts;
  const d = transformer.dims;
  const patchNums = d.patchNums, N = patchNums.length, G = patchNums[N - 1];
  const B = ctx.context.shape[0];
  if (o.seeds.length !== B) throw new Error(`${o.seeds.length} seeds for ${B} images`);
  const V = d.V, Cv = d.Cvae;
  if (tokenizer.Cvae !== Cv) throw new Error(`tokenizer latent channels ${tokenizer.Cvae} != transformer ${Cv}`);
  const rngs = o.seeds.map((s) => new Philox(s));
  const ramp = cfgRamp(o.cfg, N, o.cfgSchedule);
  const codebook = tokenizer.codebook;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;

  const gen = await transformer.begin(ctx.context, ctx.positionIds, ctx.mask);
  let f_hat: HostTensor = { dtype: 'float32', shape: [B, Cv, G, G], data: new Float32Array(B * Cv * G * G) };
  let next: HostTensor | undefined;
  for (let si = 0; si < N; si++) {
    abortIfNeeded(o.signal);
    const out = await transformer.step(gen, next);
    const pn = patchNums[si], l = pn * pn;
    let logits = cfgMix(out.logits_BlV.data as Float32Array, B, o.hooks?.guidanceAt?.(si) ?? ramp[si]);
    if (si === 0) {
      // the last context position predicts the 1×1 token
      const T = out.logits_BlV.shape[1];
      const last = new Float32Array(B * V);
      for (let b = 0; b < B; b++) last.set(logits.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
      logits = last;
    }
    const uniforms = rngs.map((r) => r.uniform(stream(PURPOSE.tokenSampling, si), 0, l));
    const topK = o.topK ?? topKPerScale(si, V);
    const forced = o.hooks?.forceTokens?.(si);
    if (forced && forced.length !== B * l) throw new Error(`forceTokens: scale ${si} needs ${B * l} indices, got ${forced.length}`);
    if (forced?.some((v) => !(v >= 0 && v < V))) throw new Error(`forceTokens: scale ${si} has an index outside the codebook's [0, ${V})`);
    const temperature = o.hooks?.temperatureAt?.(si) ?? o.temperature;
    const idx = forced ?? sampleTokens(logits, B, l, V, { topK, topP: o.topP, temperature }, (b, t) => uniforms[b][t]);
    const hard = new Float32Array(B * l * Cv);
    for (let r = 0; r < B * l; r++) hard.set(codebook.subarray(idx[r] * Cv, (idx[r] + 1) * Cv), r * Cv);
    const h = !forced && o.moreSmooth && temperature !== 0
      ? gumbelSmoothMix(logits, B, l, V, scaleRatio(si, N), codebook, Cv,
        (b, t) => rngs[b].gumbel(stream(PURPOSE.gumbel, si), t * V, V))
      : hard;
    if (si < N - 1) {
      const r = await tokenizer.nextAutoregressiveInput(si, f_hat,
        { dtype: 'float32', shape: [B, Cv, pn, pn], data: tokensToNchw(h, B, l, Cv) }, { patchNums });
      f_hat = r.f_hat;
      next = r.next;
      if (o.onProgress) {
        await o.onProgress({ stage: 'scale', step: si, total: N, elapsed: elapsed(), previews: o.preview ? await o.preview(f_hat) : undefined });
      }
      continue;
    }
    // last scale: residual diffusion on decoder_norm(hidden + word_embed(codebook[idx_hard]))
    await o.onProgress?.({ stage: 'diffusion', step: N, total: N, elapsed: elapsed() });
    // (residualDiffusion false: the discrete-only ablation, the last scale's tokens h alone)
    let resid: Float32Array | undefined;
    if (o.residualDiffusion !== false) {
      const z = (await transformer.diffusionCondition(out.hidden_BlC, { dtype: 'float32', shape: [B, l, Cv], data: hard })).data as Float32Array;
      const half = B * l * d.C;
      const noise = o.hooks?.diffusionNoise ?? philoxNoise(rngs, l);
      resid = await diffusion.sample(z.subarray(0, half), {
        cfg: o.hooks?.guidanceAt?.(N) ?? diffusionCfg(o.cfg, N, o.cfgSchedule), zUncond: z.subarray(half), noise, steps: String(o.diffusionSteps),
      });
    }
    abortIfNeeded(o.signal);
    const tokens = new Float32Array(B * l * Cv);
    for (let i = 0; i < tokens.length; i++) tokens[i] = h[i] + (resid ? resid[i] : 0);
    const add = tokensToNchw(tokens, B, l, Cv);
    const fh = f_hat.data as Float32Array;
    const sum = new Float32Array(fh.length);
    for (let i = 0; i < fh.length; i++) sum[i] = fh[i] + add[i];
    f_hat = { dtype: 'float32', shape: f_hat.shape, data: sum };
  }
  await o.beforeDecode?.();
  await o.onProgress?.({ stage: 'decode', step: N, total: N, elapsed: elapsed() });
  const img = await tokenizer.decode(f_hat, { clamp: true });
  const [, , H, W] = img.shape;
  const px = img.data as Float32Array;
  const images: ImageCHW[] = [];
  for (let b = 0; b < B; b++) {
    const data = new Float32Array(3 * H * W);
    for (let i = 0; i < data.length; i++) data[i] = (px[b * 3 * H * W + i] + 1) / 2;
    images.push({ width: W, height: H, data });
  }
  await o.onProgress?.({ stage: 'done', step: N, total: N, elapsed: elapsed() });
  return images;
}
