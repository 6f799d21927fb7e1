// Analytic FLOP counts of one HART generation, per stage, for `hart bench generate`: what the
// graphs compute, counted as 2 FLOPs per multiply-add of every matrix product and convolution
// (elementwise ops, norms, softmax and host-side sampling are not counted). Notation as the code:
// B conditional images, R = 2B CFG rows, C embed_dim, F SwiGLU hidden, V vocab, Cv latent channels,
// T context tokens, l_si = pn_si² tokens of scale si (l_0 = T: step 0 runs on the context prefix),
// S_si = T + Σ_{s=1..si} l_s keys cached after step si (attention over the KV cache).
//   transformer step si   depth·[2·R·l·C·(3C + C + 3F)  (qkv, proj, SwiGLU)  + 4·R·l·S·C  (q·kᵀ and p·v)]
//                         + 2·R·l·C·V (head) + 2·R·C·2C (head_nm AdaLN)
//                         + si = 0: 2·R·T·D·C (context_embed), si ≥ 1: 2·B·l·Cv·C (word_embed)
//   tokenizer update si   φ conv 2·9·Cv²·G²·B + bicubic pn→G and area G→pn_{si+1} (matrix products)
//   diffusion             steps·rows·[2·Cv·W + 2·256·W + 2·W² + 2·C·W + depth·(2·W·3W + 4·W²) + 2·W·2W + 2·W·2Cv]
//                         + 2·R·l·Cv·C (word_embed of the condition); rows = R·l (B·l without CFG)
//   VAE decoder           Σ conv 2·k²·Cin·Cout·Hout·Wout + attention blocks 4·(hw)²·C per image
//   text encoder (Qwen2)  layers·[2·L·C·(H·hd + 2·KV·hd) + 2·L·H·hd·C + 6·L·C·I + 4·L²·H·hd] per prompt
//                         (L = system prompt + 300 tokens; the full L×L scores are computed, then masked)
import type { HartDims } from '../src/models/transformer/config.ts';
import type { Qwen2Config } from '../src/models/text/config.ts';

/** What the transformer counts need: HartDims plus V and Cvae. */
export type TransformerShape = Pick<HartDims, 'C' | 'depth' | 'heads' | 'ffnHidden' | 'T' | 'contextDim' | 'patchNums'> & { V: number; Cvae: number };

export interface DiffusionShape { in_channels: number; width: number; depth: number; z_channels: number }

export interface DecoderShape { ch: number; ch_mult: number[]; z_channels: number; quant_conv_ks: number }

/** Keys cached after each step: S_si = T + Σ_{s=1..si} pn_s². */
export function cachedTokens(t: TransformerShape, si: number): number {
  let S = t.T;
  for (let s = 1; s <= si; s++) S += t.patchNums[s] ** 2;
  return S;
}

/** Tokens the transformer processes per row at step si (T at step 0). */
export function stepTokens(t: TransformerShape, si: number): number {
  return si === 0 ? t.T : t.patchNums[si] ** 2;
}

/** One transformer step (blocks + head + input embedding) at scale si for B conditional images. */
export function transformerStepFlops(t: TransformerShape, si: number, B: number): number {
  const R = 2 * B, C = t.C, l = stepTokens(t, si), S = cachedTokens(t, si);
  const block = 2 * R * l * C * (3 * C + C + 3 * t.ffnHidden) + 4 * R * l * S * C;
  const head = 2 * R * l * C * t.V + 2 * R * C * 2 * C;
  const embed = si === 0 ? 2 * R * t.T * t.contextDim * C : 2 * B * l * t.Cvae * C;
  return t.depth * block + head + embed;
}

/** The tokenizer's f_hat update after scale si < N−1 (φ conv + bicubic up + area down to the next scale). */
export function tokenizerUpdateFlops(t: TransformerShape, si: number, B: number): number {
  const pns = t.patchNums, G = pns[pns.length - 1], Cv = t.Cvae, pn = pns[si];
  if (si >= pns.length - 1) return 0;
  const planes = B * Cv;
  const up = pn === G ? 0 : 2 * planes * (pn * pn * G + G * pn * G);
  const phi = 2 * 9 * Cv * Cv * G * G * B;
  const next = pns[si + 1];
  const down = next === G ? 0 : 2 * planes * (G * G * next + next * G * next);
  return up + phi + down;
}

/** The residual diffusion: the condition (word_embed at the last scale) and `steps` MLP passes. */
export function diffusionFlops(t: TransformerShape, d: DiffusionShape, B: number, steps: number, guided = true): number {
  const l = t.patchNums[t.patchNums.length - 1] ** 2, W = d.width;
  const rows = (guided ? 2 : 1) * B * l;
  const perRow = 2 * d.in_channels * W + 2 * 256 * W + 2 * W * W + 2 * d.z_channels * W
    + d.depth * (2 * W * 3 * W + 4 * W * W) + 2 * W * 2 * W + 2 * W * 2 * d.in_channels;
  const condition = 2 * 2 * B * l * t.Cvae * t.C;
  return steps * rows * perRow + condition;
}

/** post_quant_conv + the VQGAN decoder (vqgan.ts) on a [B, Cv, h, w] latent. */
export function decoderFlops(d: DecoderShape, h: number, w: number, B: number): number {
  const conv = (k: number, cin: number, cout: number, hw: number) => 2 * k * k * cin * cout * hw;
  const n = d.ch_mult.length;
  let hw = h * w, total = conv(d.quant_conv_ks, d.z_channels, d.z_channels, hw);
  const resnet = (cin: number, cout: number) => conv(3, cin, cout, hw) + conv(3, cout, cout, hw) + (cin === cout ? 0 : conv(1, cin, cout, hw));
  const attn = (c: number) => conv(1, c, 3 * c, hw) + 4 * hw * hw * c + conv(1, c, c, hw);
  const top = d.ch * d.ch_mult[n - 1];
  total += conv(3, d.z_channels, top, hw) + resnet(top, top) + attn(top) + resnet(top, top);
  let c = top;
  for (let i = n - 1; i >= 0; i--) {
    const out = d.ch * d.ch_mult[i];
    for (let b = 0; b < 3; b++) {
      total += resnet(c, out);
      c = out;
      if (i === n - 1) total += attn(c);
    }
    if (i !== 0) { hw *= 4; total += conv(3, c, c, hw); }
  }
  total += conv(3, c, 3, hw);
  return B * total;
}

/** Qwen2 forward on `prompts` sequences of L tokens (every layer, full L×L attention scores). */
/** Qwen2 on L tokens per prompt that attend to P cached tokens before them (the system prompt) and to themselves. */
export function textEncoderFlops(q: Qwen2Config, L: number, prompts: number, P = 0): number {
  const C = q.hidden_size, hd = q.head_dim, H = q.num_attention_heads, KV = q.num_key_value_heads, I = q.intermediate_size;
  const layer = 2 * L * C * (H * hd + 2 * KV * hd) + 2 * L * H * hd * C + 6 * L * C * I + 4 * L * (P + L) * H * hd;
  return prompts * q.num_hidden_layers * layer;
}

/** Per-stage FLOPs of a whole generation. */
export interface GenerationFlops {
  text_encoder: number;
  /** Transformer step + tokenizer update, per scale. */
  scales: number[];
  /** Of which the transformer step. */
  scales_transformer: number[];
  diffusion: number;
  decode: number;
  total: number;
}

export function generationFlops(o: {
  transformer: TransformerShape; diffusion: DiffusionShape; decoder: DecoderShape;
  B: number; diffusionSteps: number; guided?: boolean; text?: { config: Qwen2Config; tokens: number; prefixTokens?: number };
}): GenerationFlops {
  const t = o.transformer, N = t.patchNums.length, G = t.patchNums[N - 1];
  const scales_transformer = Array.from({ length: N }, (_, si) => transformerStepFlops(t, si, o.B));
  const scales = scales_transformer.map((f, si) => f + tokenizerUpdateFlops(t, si, o.B));
  const text_encoder = o.text ? textEncoderFlops(o.text.config, o.text.tokens, o.B, o.text.prefixTokens) : 0;
  const diffusion = diffusionFlops(t, o.diffusion, o.B, o.diffusionSteps, o.guided ?? true);
  const decode = decoderFlops(o.decoder, G, G, o.B);
  const total = text_encoder + scales.reduce((a, b) => a + b, 0) + diffusion + decode;
  return { text_encoder, scales, scales_transformer, diffusion, decode, total };
}
