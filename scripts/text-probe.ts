// What the text encoder makes of the held-out colour–shape pairs (a diagnosis, like
// scene-failures.ts; nothing is tuned to it): the context vectors of the 32 single-object captions
// "a {colour} {shape}", read three ways — the last caption token's vector, the final context
// position's (from which the transformer predicts the 1×1 scale) and the mean over the caption's
// tokens. For each:
// ridge linear probes (colour, shape) fitted on the 28 training pairs and applied to the 4 held-out
// ones, and each held-out caption's three nearest training captions by cosine. One JSON object last.
//   npx tsx scripts/text-probe.ts [model folder, default models/default]
import { join } from 'node:path';
import { diskFiles } from '../src/io/file-access.node.ts';
import { readJson } from '../src/io/file-access.ts';
import { parseHartJson } from '../src/pipeline/hart-json.ts';
import { parseHartConfig } from '../src/models/transformer/config.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { loadTextEncoder } from '../src/pipeline/text-encoder-folder.ts';
import { COLOUR_NAMES, SHAPES, isHeldOutPair } from '../src/train/data/scene-vocab.ts';
const dir = process.argv[2] ?? 'models/default';
// the folder's context length and prompt handling, as the pipeline reads them
const files = diskFiles(dir);
const hartJson = parseHartJson(await readJson(files, 'hart.json'));
const { context_token: maxLength } = parseHartConfig(await readJson(files, 'transformer/config.json'));
const runtime = nodeRuntime({});
const enc = await loadTextEncoder(diskFiles(join(dir, 'text_encoder')), runtime);
const pairs = COLOUR_NAMES.flatMap((c) => SHAPES.map((s) => ({ colour: c, shape: s })));
const prompts = pairs.map((p) => `a ${p.colour} ${p.shape}`);
const e = await enc.encodePrompts(prompts, { maxLength, useSystemPrompt: hartJson.prompt?.system_prompt ?? true });
const [B, T, D] = e.context.shape; const ctx = e.context.data as Float32Array; const mask = Array.from(e.mask.data as ArrayLike<number>, Number);
console.error(`context [${B}, ${T}, ${D}]; caption tokens of "${prompts[0]}": ${mask.slice(0, T).reduce((a, b) => a + b, 0)}`);
// 'last': the caption's last token; 'final': context position T − 1 (a pad for short captions, from
// which the transformer predicts the 1×1 scale); 'mean': the mean over the caption's tokens
type Kind = 'last' | 'final' | 'mean';
function feat(b: number, kind: Kind): Float64Array {
  const f = new Float64Array(D + 1); f[D] = 1;
  const valid = [...Array(T).keys()].filter((t) => mask[b * T + t] > 0);
  const rows = kind === 'last' ? [valid[valid.length - 1]] : kind === 'final' ? [T - 1] : valid;
  for (const t of rows) for (let d = 0; d < D; d++) f[d] += ctx[(b * T + t) * D + d] / rows.length;
  return f;
}
// ridge least squares via normal equations (D+1 small)
function fit(X: Float64Array[], Y: number[][], lambda = 1e-2): Float64Array[] {
  const n = X[0].length, k = Y[0].length;
  const A = Array.from({ length: n }, () => new Float64Array(n)), Bm = Array.from({ length: n }, () => new Float64Array(k));
  X.forEach((x, r) => { for (let i = 0; i < n; i++) { for (let j = 0; j < n; j++) A[i][j] += x[i] * x[j]; for (let c = 0; c < k; c++) Bm[i][c] += x[i] * Y[r][c]; } });
  for (let i = 0; i < n; i++) A[i][i] += lambda;
  // Gauss-Jordan
  for (let i = 0; i < n; i++) {
    let p = i; for (let r = i + 1; r < n; r++) if (Math.abs(A[r][i]) > Math.abs(A[p][i])) p = r;
    [A[i], A[p]] = [A[p], A[i]]; [Bm[i], Bm[p]] = [Bm[p], Bm[i]];
    const piv = A[i][i];
    for (let j = 0; j < n; j++) A[i][j] /= piv; for (let c = 0; c < k; c++) Bm[i][c] /= piv;
    for (let r = 0; r < n; r++) if (r !== i && A[r][i] !== 0) { const f = A[r][i]; for (let j = 0; j < n; j++) A[r][j] -= f * A[i][j]; for (let c = 0; c < k; c++) Bm[r][c] -= f * Bm[i][c]; }
  }
  return Bm; // [n][k]
}
const argmax = (v: number[]) => v.indexOf(Math.max(...v));
const report: Record<string, unknown> = { model: dir };
for (const kind of ['last', 'final', 'mean'] as const) {
  const F = pairs.map((_, b) => feat(b, kind));
  const train = pairs.map((p, i) => ({ p, i })).filter(({ p }) => !isHeldOutPair(p));
  const held = pairs.map((p, i) => ({ p, i })).filter(({ p }) => isHeldOutPair(p));
  for (const [attr, names] of [['colour', COLOUR_NAMES], ['shape', SHAPES]] as const) {
    const W = fit(train.map(({ i }) => F[i]), train.map(({ p }) => (names as readonly string[]).map((n) => (p[attr] === n ? 1 : 0))));
    const pred = (i: number) => { const x = F[i]; return (names as readonly string[]).map((_, c) => x.reduce((s, v, j) => s + v * W[j][c], 0)); };
    const res = held.map(({ p, i }) => `${p.colour} ${p.shape} → ${names[argmax(pred(i))]}`);
    report[`${kind}_${attr}_probe`] = res;
    console.error(kind, attr, res.join('; '));
  }
  // nearest training prompt (cosine) of each held-out prompt
  const cos = (a: Float64Array, b: Float64Array) => { let s = 0, na = 0, nb = 0; for (let d = 0; d < D; d++) { s += a[d] * b[d]; na += a[d] ** 2; nb += b[d] ** 2; } return s / Math.sqrt(na * nb); };
  for (const { p, i } of held) {
    const near = train.map(({ p: q, i: j }) => ({ q, c: cos(F[i], F[j]) })).sort((a, b) => b.c - a.c).slice(0, 3);
    const list = near.map(({ q, c }) => `${q.colour} ${q.shape} ${c.toFixed(3)}`);
    (report[`${kind}_nearest`] ??= {} as Record<string, string[]>);
    (report[`${kind}_nearest`] as Record<string, string[]>)[`${p.colour} ${p.shape}`] = list;
    console.error(kind, 'nearest to', `${p.colour} ${p.shape}:`, list.join(', '));
  }
}
console.log(JSON.stringify(report));
await enc.release?.();
await runtime.dispose();
