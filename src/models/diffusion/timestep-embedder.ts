// The diffusion MLP's TimestepEmbedder (hart/modules/diffusion/diffloss.py, from DiT/GLIDE): the
// sinusoid [cos(t·f) | sin(t·f)] of the ORIGINAL timestep index (0..999), f_i = exp(−ln(10⁴)·i/half),
// then Linear → SiLU → Linear. The frequencies are computed as torch does, in float32, in the
// order (float32(−ln 10⁴) · i) / half, then torch's float32 exp (checked against fixture
// emb.diff_time_sinusoid).
import type { Tensor } from '../../graph/index.ts';
import { concat } from '../../graph/index.ts';
import type { Params } from '../../nn/index.ts';
import { linear } from '../../nn/index.ts';
import { timestepFrequencies } from '../../tables/schedules.ts';

/** timestep_embedding(t, dim): t [N] (int64 or float) → [N, dim] = [cos(t·f) | sin(t·f)] in float32. */
export function timestepEmbedding(t: Tensor, dim = 256, maxPeriod = 10000): Tensor {
  const freqs = timestepFrequencies(dim, maxPeriod);
  const args = t.cast('float32').unsqueeze([1]).mul(t.graph.constant(freqs, [1, freqs.length]));
  const parts = [args.cos(), args.sin()];
  if (dim % 2) parts.push(args.slice([1], [0], [1]).zerosLike());
  return concat(parts, 1);
}

/** TimestepEmbedder(hidden).forward: mlp.0 (256 → hidden), SiLU, mlp.2 (hidden → hidden). p = "…time_embed". */
export function timestepEmbedder(p: Params, t: Tensor, hidden: number, frequencyEmbeddingSize = 256): Tensor {
  const tFreq = timestepEmbedding(t, frequencyEmbeddingSize);
  return linear(p.scope('mlp.2'), linear(p.scope('mlp.0'), tFreq, hidden).silu(), hidden);
}
