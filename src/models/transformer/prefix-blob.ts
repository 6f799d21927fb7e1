// The unconditional context prefix of a HartTransformer (its cond_BD and step-0 input rows, and
// step 0's K/V, logits and hidden states for that one row) as bytes, so it can be persisted beside
// the model cache and read by later processes instead of being recomputed (at the released size:
// 300 tokens through 24 blocks, ≈ 0.36 TFLOP, for ≈ 90 MB of float32).
// Layout (io/float-blob.ts): "HARTUP1\n", the header JSON (sizes), then float32 arrays in order:
// cond [T·C], x [T·C], key and value per block [T·H·hd] each, logits [T·V], hidden [T·C].
// decode() returns undefined for anything else.
import { decodeFloatBlob, encodeFloatBlob } from '../../io/float-blob.ts';
import type { UncondPrefix } from './hart-transformer.ts';

export interface PrefixShape { T: number; C: number; V: number; depth: number }

const MAGIC = 'HARTUP1\n';

export function encodeUncondPrefix(u: UncondPrefix, s: PrefixShape): Uint8Array {
  return encodeFloatBlob(MAGIC, s, [u.cond_TC, u.x_TC, ...u.step0.key.flatMap((k, i) => [k, u.step0.value[i]]), u.step0.logits, u.step0.hidden]);
}

export function decodeUncondPrefix(bytes: Uint8Array, s: PrefixShape): UncondPrefix | undefined {
  const { T, C, V, depth } = s;
  const a = decodeFloatBlob(bytes, MAGIC, s, [T * C, T * C, ...new Array<number>(2 * depth).fill(T * C), T * V, T * C]);
  if (!a) return undefined;
  const key = a.slice(2, 2 + 2 * depth).filter((_, i) => i % 2 === 0);
  const value = a.slice(2, 2 + 2 * depth).filter((_, i) => i % 2 === 1);
  return { cond_TC: a[0], x_TC: a[1], step0: { U: 1, key, value, logits: a[2 + 2 * depth], hidden: a[3 + 2 * depth] } };
}
