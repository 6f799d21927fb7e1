// SimpleMLPAdaLN, the residual-diffusion network (HART §4.1; hart/modules/diffusion/diffloss.py, from
// MAR): x_t [N, Cvae] → input_proj; y = time_embed(t) + cond_embed(z); depth × ResBlock (adaLN
// shift/scale/gate around LayerNorm → Linear → SiLU → Linear); FinalLayer (non-affine LayerNorm,
// adaLN shift/scale, Linear) → [N, 2·Cvae] = [eps | variance values]. Weights "diffloss.net.*".
import type { Tensor } from '../../graph/index.ts';
import type { Params } from '../../nn/index.ts';
import { layerNorm, linear } from '../../nn/index.ts';
import type { DiffLossConfig } from './config.ts';
import { timestepEmbedder } from './timestep-embedder.ts';

const LN_EPS = 1e-6;

/** modulate(x, shift, scale) = x·(1 + scale) + shift. */
export function modulate(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return x.mul(scale.add(1)).add(shift);
}

/** adaLN_modulation = Sequential(SiLU, Linear(W, k·W)) split into k chunks (torch .chunk(k, -1)). */
function adaLN(p: Params, y: Tensor, width: number, k: number): Tensor[] {
  return linear(p.scope('adaLN_modulation.1'), y.silu(), k * width).split(-1, Array(k).fill(width));
}

/** ResBlock: x + gate · mlp(modulate(in_ln(x), shift, scale)). p = "…res_blocks.i". */
export function resBlock(p: Params, x_NW: Tensor, y_NW: Tensor, width: number): Tensor {
  const [shift, scale, gate] = adaLN(p, y_NW, width, 3);
  const h = modulate(layerNorm(p.scope('in_ln'), x_NW, LN_EPS), shift, scale);
  const m = linear(p.scope('mlp.2'), linear(p.scope('mlp.0'), h, width).silu(), width);
  return x_NW.add(gate.mul(m));
}

/** FinalLayer: linear(modulate(norm_final(x), shift, scale)); norm_final has no affine parameters. */
export function finalLayer(p: Params, x_NW: Tensor, y_NW: Tensor, width: number, outChannels: number): Tensor {
  const [shift, scale] = adaLN(p, y_NW, width, 2);
  return linear(p.scope('linear'), modulate(layerNorm(null, x_NW, LN_EPS), shift, scale), outChannels);
}

/**
 * SimpleMLPAdaLN.forward(x, t, c). p = "diffloss.net"; x_NCv [N, Cvae], t_N [N] original timesteps
 * (int64), z_NC [N, C] conditions → [N, 2·Cvae] (eps in columns [0, Cvae), variance values after).
 */
export function simpleMLPAdaLN(p: Params, cfg: DiffLossConfig, x_NCv: Tensor, t_N: Tensor, z_NC: Tensor): Tensor {
  const W = cfg.width;
  let x = linear(p.scope('input_proj'), x_NCv, W);
  const y = timestepEmbedder(p.scope('time_embed'), t_N, W).add(linear(p.scope('cond_embed'), z_NC, W));
  for (let i = 0; i < cfg.depth; i++) x = resBlock(p.scope(`res_blocks.${i}`), x, y, W);
  return finalLayer(p.scope('final_layer'), x, y, W, 2 * cfg.in_channels);
}
