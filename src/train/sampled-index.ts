// Token indices sampled inside a training graph, as the official training samples the last scale's
// index for the residual diffusion's target (hart-spec §4.2: from the model's own logits, top-k 600,
// top-p 0.96, under no_grad): top-k keeps the logits ≥ the k-th largest; top-p then keeps, in
// descending order, each token whose predecessors' probability (under the top-k-filtered softmax)
// is below top_p — the official "ascending cumulative probability ≤ 1 − top_p is removed" rule; the
// draw is the Gumbel-max trick, argmax(filtered logits + g), with the Gumbel noise g = −log(−log u)
// fed by the host from Philox, so a step's draw is a pure function of (seed, step).
import type { Tensor } from '../graph/index.ts';

/** Official top-k / top-p of the diffusion target's index (hart-spec §4.2). */
export const DIFF_INDEX_TOP_K = 600;
export const DIFF_INDEX_TOP_P = 0.96;

const BIG = 1e30;

/**
 * logits [..., V] (detached here), gumbel [..., V] → int64 [...]: one index per row drawn from
 * softmax(logits) restricted by top-k (clipped to V) and top-p (0 = off).
 */
export function sampleIndexInGraph(logits: Tensor, gumbel: Tensor, V: number, topK: number, topP: number): Tensor {
  const x = logits.detach();
  const k = Math.min(topK, V);
  const vals = x.topkValues(k); // [..., k], largest first
  // the smallest kept value, which every kept logit reaches (ties with it are kept, as top-k's)
  const threshold = topP > 0
    ? vals.softmax(-1).cumsum(-1, true).lt(topP).where(vals.neg(), -BIG).max([-1], true).neg()
    : vals.slice([-1], [k - 1], [k]);
  const filtered = x.ge(threshold).where(x, -BIG);
  return filtered.add(gumbel).argmax(-1);
}
