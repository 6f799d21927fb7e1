// The unconditional context prefix of a HartTransformer (its cond_BD and step-0 input rows, and
// step 0's K/V, logits and hidden states for that one row) as bytes, so it can be persisted beside
// the model cache and read by later processes instead of being recomputed (at the released size:
// 300 tokens through 24 blocks, ≈ 0.36 TFLOP, for ≈ 90 MB of float32).
// Layout: "HARTUP1\n", a uint32 (little-endian) header length, the header JSON (sizes), padding
// to 4 bytes, then float32 arrays in order: cond [T·C], x [T·C], key and value per block
// [T·H·hd] each, logits [T·V], hidden [T·C]. decode() returns undefined for anything else.
import type { UncondPrefix } from './hart-transformer.ts';

export interface PrefixShape { T: number; C: number; V: number; depth: number }

const MAGIC = 'HARTUP1\n';

export function encodeUncondPrefix(u: UncondPrefix, s: PrefixShape): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(s));
  const start = Math.ceil((MAGIC.length + 4 + header.length) / 4) * 4;
  const arrays = [u.cond_TC, u.x_TC, ...u.step0.key.flatMap((k, i) => [k, u.step0.value[i]]), u.step0.logits, u.step0.hidden];
  const floats = arrays.reduce((a, x) => a + x.length, 0);
  const out = new Uint8Array(start + 4 * floats);
  out.set(new TextEncoder().encode(MAGIC));
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  const f = new Float32Array(out.buffer, start, floats);
  let o = 0;
  for (const x of arrays) { f.set(x, o); o += x.length; }
  return out;
}

export function decodeUncondPrefix(bytes: Uint8Array, s: PrefixShape): UncondPrefix | undefined {
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = view.getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + hl > bytes.length) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + hl)));
  } catch {
    return undefined;
  }
  if (JSON.stringify(header) !== JSON.stringify(s)) return undefined;
  const start = Math.ceil((MAGIC.length + 4 + hl) / 4) * 4;
  const { T, C, V, depth } = s;
  const floats = 2 * T * C + 2 * depth * T * C + T * V + T * C;
  if (bytes.length !== start + 4 * floats) return undefined;
  // a copy: aligned, and independent of the caller's buffer
  const f = new Float32Array(floats);
  new Uint8Array(f.buffer).set(bytes.subarray(start));
  let o = 0;
  const take = (n: number) => f.subarray(o, (o += n));
  const cond_TC = take(T * C), x_TC = take(T * C);
  const key: Float32Array[] = [], value: Float32Array[] = [];
  for (let i = 0; i < depth; i++) { key.push(take(T * C)); value.push(take(T * C)); }
  const logits = take(T * V), hidden = take(T * C);
  return { cond_TC, x_TC, step0: { U: 1, key, value, logits, hidden } };
}
