// The tokenizer's VQGAN encoder and decoder (official hart/modules/networks/basic_vae.py, from VAR
// and taming/LDM): GroupNorm(32, eps 1e-6) + SiLU ResNet blocks with a 1×1 nin_shortcut, single-qkv
// self-attention at the lowest resolution, Downsample2x = pad (0,1,0,1) + conv k3 s2,
// Upsample2x = nearest ×2 + conv k3 p1. Weight names follow the official state dict (`encoder.*`,
// `decoder.*`, relative to the `vae.` scope).
import type { Tensor } from '../../graph/index.ts';
import { conv2d, groupNorm, upsampleNearest2x, type Params } from '../../nn/index.ts';

/** The ddconfig fields the VQGAN needs (num_res_blocks = 2, using_sa = using_mid_sa = True are fixed). */
export interface VqganShape {
  ch: number;
  ch_mult: number[];
  z_channels: number;
  /** GroupNorm group count (official: 32; a HART.js extension for small ch, see config.ts). */
  norm_groups?: number;
}

const NUM_RES_BLOCKS = 2;
const GN_GROUPS = 32;
const GN_EPS = 1e-6;

function channels(x: Tensor): number {
  const c = x.shape[1];
  if (typeof c !== 'number') throw new Error(`${x}: channels must be static`);
  return c;
}

const norm = (p: Params, x: Tensor, s: VqganShape) => groupNorm(p, x, s.norm_groups ?? GN_GROUPS, GN_EPS);

/** ResnetBlock: nin_shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))); dropout is identity at inference. */
export function resnetBlock(p: Params, x_BChw: Tensor, outCh: number, s: VqganShape): Tensor {
  const inCh = channels(x_BChw);
  let h = conv2d(p.scope('conv1'), norm(p.scope('norm1'), x_BChw, s).silu(), outCh, 3, { padding: 1 });
  h = conv2d(p.scope('conv2'), norm(p.scope('norm2'), h, s).silu(), outCh, 3, { padding: 1 });
  const skip = inCh === outCh ? x_BChw : conv2d(p.scope('nin_shortcut'), x_BChw, outCh, 1);
  return skip.add(h);
}

/** AttnBlock: x + proj_out(v·softmax(qᵀk·C^−½)ᵀ) with q, k, v from one 1×1 conv over GroupNorm(x). */
export function attnBlock(p: Params, x_BChw: Tensor, s: VqganShape): Tensor {
  const C = channels(x_BChw);
  const qkv = conv2d(p.scope('qkv'), norm(p.scope('norm'), x_BChw, s), 3 * C, 1).reshape([0, 3, C, -1]); // [B,3,C,HW]
  const [q_BCl, k_BCl, v_BCl] = [0, 1, 2].map((i) => qkv.slice([1], [i], [i + 1]).squeeze([1]));
  const w_Bll = q_BCl.mT().matmul(k_BCl).mul(C ** -0.5).softmax(2); // [B, HW(q), HW(k)]
  const h_BCl = v_BCl.matmul(w_Bll.mT()); // h[c, i] = Σ_j v[c, j]·w[i, j]
  return x_BChw.add(conv2d(p.scope('proj_out'), h_BCl.reshapeAs(x_BChw), C, 1));
}

/** Downsample2x: F.pad(x, (0,1,0,1)) then conv k3 s2 p0. */
export function downsample2x(p: Params, x_BChw: Tensor): Tensor {
  return conv2d(p.scope('conv'), x_BChw.pad([0, 0, 0, 0, 0, 0, 1, 1]), channels(x_BChw), 3, { stride: 2 });
}

/** Upsample2x: nearest ×2 then conv k3 p1. */
export function upsample2x(p: Params, x_BChw: Tensor): Tensor {
  return conv2d(p.scope('conv'), upsampleNearest2x(x_BChw), channels(x_BChw), 3, { padding: 1 });
}

/** Encoder (scope `encoder`): img [B,3,H,W] → [B, z_channels, H/2^(n−1), W/2^(n−1)]. */
export function encoder(p: Params, img_B3HW: Tensor, s: VqganShape): Tensor {
  const n = s.ch_mult.length;
  let h = conv2d(p.scope('conv_in'), img_B3HW, s.ch, 3, { padding: 1 });
  for (let i = 0; i < n; i++) {
    const level = p.scope(`down.${i}`);
    const out = s.ch * s.ch_mult[i];
    for (let b = 0; b < NUM_RES_BLOCKS; b++) {
      h = resnetBlock(level.scope(`block.${b}`), h, out, s);
      if (i === n - 1) h = attnBlock(level.scope(`attn.${b}`), h, s);
    }
    if (i !== n - 1) h = downsample2x(level.scope('downsample'), h);
  }
  const C = channels(h);
  h = resnetBlock(p.scope('mid.block_1'), h, C, s);
  h = attnBlock(p.scope('mid.attn_1'), h, s);
  h = resnetBlock(p.scope('mid.block_2'), h, C, s);
  return conv2d(p.scope('conv_out'), norm(p.scope('norm_out'), h, s).silu(), s.z_channels, 3, { padding: 1 });
}

/** Decoder (scope `decoder`): z [B, z_channels, h, w] → [B, 3, h·2^(n−1), w·2^(n−1)], unclamped. */
export function decoder(p: Params, z_BChw: Tensor, s: VqganShape): Tensor {
  const n = s.ch_mult.length;
  const top = s.ch * s.ch_mult[n - 1];
  let h = conv2d(p.scope('conv_in'), z_BChw, top, 3, { padding: 1 });
  h = resnetBlock(p.scope('mid.block_1'), h, top, s);
  h = attnBlock(p.scope('mid.attn_1'), h, s);
  h = resnetBlock(p.scope('mid.block_2'), h, top, s);
  for (let i = n - 1; i >= 0; i--) {
    const level = p.scope(`up.${i}`);
    const out = s.ch * s.ch_mult[i];
    for (let b = 0; b < NUM_RES_BLOCKS + 1; b++) {
      h = resnetBlock(level.scope(`block.${b}`), h, out, s);
      if (i === n - 1) h = attnBlock(level.scope(`attn.${b}`), h, s);
    }
    if (i !== 0) h = upsample2x(level.scope('upsample'), h);
  }
  return conv2d(p.scope('conv_out'), norm(p.scope('norm_out'), h, s).silu(), 3, 3, { padding: 1 });
}
