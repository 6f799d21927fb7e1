// The hybrid tokenizer's training step as one graph (HART §3.1 "alternating training", VAR's
// VectorQuantizer2.forward, hart-spec §2.5): img → encoder → quant_conv → f; the multi-scale
// residual quantizer runs on f.detach() (indices by nearest code, φ at every scale, the last one
// included, as the official training forward does) and accumulates the VQ loss
//   mean over scales of β·MSE(f_hat.detach(), f) [commitment: moves the encoder]
//                     + MSE(f_hat, f.detach())   [codebook + φ: moves the codes];
// the decoder then sees, per sample, either the continuous latent f (skip = 0: f_hat + f_rest = f)
// or the discrete-only f_hat (skip = 1), both straight-through to the encoder:
//   dec_in = f + stopgrad(skip·(f_hat − f)).
// Reconstruction loss: MSE + l1Weight·L1 on [−1, 1] pixels, reported per path. Perceptual and GAN
// terms are not used (see the model card: nothing here to pre-train a perceptual network on).
// Graph inputs: img [B, 3, H, W] in [−1, 1], skip [B] (1 = discrete-only). Outputs: the loss, its
// parts, the indices of every scale (codebook usage) and the f tokens (dead-code restarts).
import { Graph, type Tensor } from '../graph/index.ts';
import { conv2d, Params, type WeightStore } from '../nn/index.ts';
import { areaResize, bicubicResize, Quantizer, toTokens } from '../models/tokenizer/quant.ts';
import { decoder, encoder } from '../models/tokenizer/vqgan.ts';
import { downsampleFactor, type HartTokenizerConfig } from '../models/tokenizer/config.ts';

export interface TokenizerTrainOptions {
  /** Image side in pixels (static: the conv gradients need static spatial sizes). */
  resolution: number;
  /** Scale schedule; its last entry must be the latent side (resolution / downsample). */
  patchNums: number[];
  /** Weight of the L1 term beside the MSE (default 0.5). */
  l1Weight?: number;
  /** Weight of the VQ loss (default 1). */
  vqWeight?: number;
  /** Weight-name prefix of the autoencoder in the store ('vae' for the official file; default none). */
  prefix?: string;
  /** Also output the reconstruction `rec` [B, 3, H, W] (tests, samples). */
  withReconstruction?: boolean;
}

export interface TokenizerTrainGraph {
  graph: Graph;
  loss: Tensor;
  /** Reported beside the loss: rec_cont, rec_disc (per-path MSE), vq, idx.s{si}, f_tokens. */
  extras: Record<string, Tensor>;
  /** Every trainable parameter (all of the graph's). */
  params: Tensor[];
}

/** Mean over the samples selected by w_B (0/1) of the per-sample mean of x_B… ; 0 when none is. */
function weightedMean(perSample_B: Tensor, w_B: Tensor): Tensor {
  return perSample_B.mul(w_B).sum([0]).div(w_B.sum([0]).maximum(1));
}

export function buildTokenizerTrainGraph(cfg: HartTokenizerConfig, store: WeightStore, o: TokenizerTrainOptions): TokenizerTrainGraph {
  const R = o.resolution, hw = R / downsampleFactor(cfg);
  if (!Number.isInteger(hw)) throw new Error(`tokenizer training: resolution ${R} is not a multiple of ${downsampleFactor(cfg)}`);
  const SN = o.patchNums.length;
  if (o.patchNums[SN - 1] !== hw) throw new Error(`tokenizer training: the last patch num ${o.patchNums[SN - 1]} must equal the latent side ${hw}`);
  const g = new Graph();
  const p = new Params(g, store, o.prefix ?? '');
  const img = g.input('img', 'float32', ['B', 3, R, R]);
  const skip_B = g.input('skip', 'float32', ['B']);

  const ks = cfg.quant_conv_ks;
  const f = conv2d(p.scope('quant_conv'), encoder(p.scope('encoder'), img, cfg), cfg.z_channels, ks, { padding: ks >> 1 });
  const fd = f.detach();
  const q = new Quantizer(p.scope('quantize'), cfg);
  let f_rest = fd;
  let f_hat: Tensor | null = null;
  let vq: Tensor | null = null;
  const extras: Record<string, Tensor> = {};
  for (let si = 0; si < SN; si++) {
    const pn = o.patchNums[si];
    const idx = q.lookup(areaResize(f_rest, pn, pn), cfg.using_znorm);
    extras[`idx.s${si}`] = idx;
    const h = q.phi(si, SN, bicubicResize(q.embed(idx, pn), hw, hw));
    f_hat = f_hat ? f_hat.add(h) : h;
    f_rest = f_rest.sub(h);
    const commit = f_hat.detach().sub(f), book = f_hat.sub(fd);
    const term = commit.mul(commit).mean([0, 1, 2, 3]).mul(cfg.beta).add(book.mul(book).mean([0, 1, 2, 3]));
    vq = vq ? vq.add(term) : term;
  }
  const vqLoss = vq!.mul(1 / SN);
  const skip_B111 = skip_B.reshape([-1, 1, 1, 1]);
  const decIn = f.add(f_hat!.sub(f).mul(skip_B111).detach());
  const post = conv2d(p.scope('post_quant_conv'), decIn, cfg.z_channels, ks, { padding: ks >> 1 });
  const rec = decoder(p.scope('decoder'), post, cfg);
  const d = rec.sub(img);
  const mse_B = d.mul(d).mean([1, 2, 3]);
  const l1_B = d.abs().mean([1, 2, 3]);
  const recLoss = mse_B.add(l1_B.mul(o.l1Weight ?? 0.5)).mean([0]);
  const loss = recLoss.add(vqLoss.mul(o.vqWeight ?? 1));
  extras.rec_cont = weightedMean(mse_B, skip_B.neg().add(1));
  extras.rec_disc = weightedMean(mse_B, skip_B);
  extras.vq = vqLoss;
  extras.f_tokens = toTokens(fd);
  if (o.withReconstruction) extras.rec = rec;
  return { graph: g, loss, extras, params: [...g.params] };
}
