// Scaled dot-product attention on [B, H, L, hd] tensors, and rotate-half RoPE application.
import type { Tensor } from '../graph/index.ts';
import { concat } from '../graph/index.ts';

/** softmax(q·kᵀ·scale + bias)·v; q [B,H,Lq,hd], k/v [B,H,Lk,hd], bias broadcastable to [B,H,Lq,Lk]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale: number, bias?: Tensor): Tensor {
  let s = q.mul(scale).matmul(k.mT());
  if (bias) s = s.add(bias);
  return s.softmax(-1).matmul(v);
}

/** (−x2, x1) where x1, x2 are the halves of the last dim (HF Llama rotate_half). */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.rank - 1] as number;
  const [x1, x2] = x.split(-1, [d / 2, d / 2]);
  return concat([x2.neg(), x1], -1);
}

/** x·cos + rotate_half(x)·sin, cos/sin broadcastable to x. */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return x.mul(cos).add(rotateHalf(x).mul(sin));
}
