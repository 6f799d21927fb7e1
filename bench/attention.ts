// Attention of one block at a large scale, alone: q [2B, H, l, hd] against the token-major K/V
// cache [S, 2B, H, hd] (the step graph's layouts), for each lowering the transformer can use, as
// GFLOP/s (4·R·l·S·C per call) and as a ratio to the constant-weight GEMM rate measured in the
// same run (MatmulPeak.weightGemm). Default shape: the released model's last scale (l 4096 against
// S 9750 keys, H 24, hd 64, CFG batch 2).
//   npx tsx bench/attention.ts [--l 4096] [--S 9750] [--rounds 3] [--threads 2] [--variants a,b]
// Variants:
//   graph-g{G}-q{Q}  plain ops (MatMul, Softmax, MatMul) on G head groups and query chunks of Q
//   shared-g{G}-q{Q} the same in the transformer's layout: queries scaled once, each group's keys
//                    transposed once for all its chunks
//   mha              com.microsoft MultiHeadAttention on all heads, K/V as BNSH (ONNX Runtime's
//                    CPU flash attention when it applies)
//   mha-g{G}         the same per head group (G calls)
//   attn23           ONNX's own Attention (opset 23) on all heads, K/V as BHSD
// Every variant's output is compared with the first (max |Δ|).
import { parseArgs } from 'node:util';
import { concat, defineOp, emitOnnx, Graph, type Tensor } from '../src/graph/index.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import '../src/models/transformer/attention.ts'; // registers HartMHA
import { MatmulPeak } from './matmul-peak.ts';

// ONNX Attention (opset 23): q [B, H, l, hd], k/v [B, H, S, hd] → [B, H, l, hd]
defineOp({
  name: 'BenchAttention23',
  infer: ([q]) => [{ dtype: q.dtype, shape: [...q.shape] }],
  emit: (ctx, node) => {
    ctx.node('Attention', node.inputs.map((t) => ctx.name(t)), [ctx.name(node.outputs[0])], { scale: { f: node.attrs.scale as number } });
  },
});

const { values } = parseArgs({
  options: {
    l: { type: 'string', default: '4096' }, S: { type: 'string', default: '9750' }, rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' }, H: { type: 'string', default: '24' }, hd: { type: 'string', default: '64' },
    variants: { type: 'string', default: 'graph-g24-q1024,graph-g24-q512,graph-g24-q2048,graph-g8-q512,mha,mha-g6' },
    json: { type: 'boolean', default: false },
  },
});
const l = Number(values.l), S = Number(values.S), H = Number(values.H), hd = Number(values.hd), R = 2, C = H * hd;
const scale = 0.25 / Math.sqrt(hd);

function build(variant: string): Graph extends never ? never : { outputs: Record<string, Tensor> } {
  const g = new Graph();
  const q = g.input('q', 'float32', [R, H, 'l', hd]);
  const k = g.input('k', 'float32', ['S', R, H, hd]);
  const v = g.input('v', 'float32', ['S', R, H, hd]);
  const sdpa = (qq: Tensor, kk: Tensor, vv: Tensor) => qq.mul(scale).matmul(kk.mT()).softmax(-1).matmul(vv);
  let out: Tensor;
  let m: RegExpMatchArray | null;
  if ((m = /^graph-g(\d+)-q(\d+)$/.exec(variant))) {
    const G = Number(m[1]), Q = Number(m[2]), hg = H / G;
    const qs = q.split(1, new Array(G).fill(hg));
    const chunks = Math.ceil(l / Q);
    out = concat(qs.map((qg, gi) => {
      const [kg, vg] = [k, v].map((t) => t.slice([2], [gi * hg], [(gi + 1) * hg]).transpose([1, 2, 0, 3]));
      if (chunks === 1) return sdpa(qg, kg, vg);
      return concat(Array.from({ length: chunks }, (_, c) => sdpa(qg.slice([2], [c * Q], [c === chunks - 1 ? Infinity : (c + 1) * Q]), kg, vg)), 2);
    }), 1).transpose([0, 2, 1, 3]).reshape([0, 0, C]);
  } else if ((m = /^shared-g(\d+)-q(\d+)$/.exec(variant))) {
    // the transformer's chunked layout (attention.ts): queries scaled once, chunked, each chunk
    // split into the groups; each group's keys transposed once for all its chunks
    const G = Number(m[1]), Q = Number(m[2]), hg = H / G;
    const chunks = Math.ceil(l / Q), qs = q.mul(scale);
    const qc = Array.from({ length: chunks }, (_, c) => qs.slice([2], [c * Q], [c === chunks - 1 ? Infinity : (c + 1) * Q]).split(1, new Array(G).fill(hg)));
    out = concat(Array.from({ length: G }, (_, gi) => {
      const kT = k.slice([2], [gi * hg], [(gi + 1) * hg]).transpose([1, 2, 3, 0]);
      const vg = v.slice([2], [gi * hg], [(gi + 1) * hg]).transpose([1, 2, 0, 3]);
      return concat(qc.map((c) => c[gi].matmul(kT).softmax(-1).matmul(vg)), 2);
    }), 1).transpose([0, 2, 1, 3]).reshape([0, 0, C]);
  } else if ((m = /^mha(?:-g(\d+))?$/.exec(variant))) {
    const G = m[1] ? Number(m[1]) : 1, hg = H / G;
    const parts = Array.from({ length: G }, (_, gi) => {
      const [kg, vg] = [k, v].map((t) => (G === 1 ? t : t.slice([2], [gi * hg], [(gi + 1) * hg])).transpose([1, 2, 0, 3]));
      const qg = (G === 1 ? q : q.slice([1], [gi * hg], [(gi + 1) * hg])).transpose([0, 2, 1, 3]).reshape([0, 0, hg * hd]);
      return g.apply1('HartMHA', [qg, kg, vg], { heads: hg, scale });
    });
    out = G === 1 ? parts[0] : concat(parts, 2);
  } else if (variant === 'attn23') {
    const [kt, vt] = [k, v].map((t) => t.transpose([1, 2, 0, 3]));
    out = g.apply1('BenchAttention23', [q, kt, vt], { scale }).transpose([0, 2, 1, 3]).reshape([0, 0, C]);
  } else {
    throw new Error(`unknown variant ${variant}`);
  }
  return { outputs: { out } };
}

const rt = nodeRuntime({ threads: Number(values.threads), modelCache: false });
const fill = (n: number, seed: number) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.7 + seed) * 1.5; return a; };
const feeds = {
  q: { dtype: 'float32' as const, shape: [R, H, l, hd], data: fill(R * H * l * hd, 1) },
  k: { dtype: 'float32' as const, shape: [S, R, H, hd], data: fill(S * R * H * hd, 2) },
  v: { dtype: 'float32' as const, shape: [S, R, H, hd], data: fill(S * R * H * hd, 3) },
};
const variants = values.variants!.split(',');
const models = [];
for (const name of variants) models.push({ name, m: await rt.load(emitOnnx({ ...build(name), ...(name === 'attn23' ? { opset: 23 } : {}) }), { memPattern: false }) });
console.log(`${variants.length} variants compiled`);
const gemm0 = await MatmulPeak.weightGemm(rt);
const times: Record<string, number[]> = {};
let ref: Float32Array | undefined;
const diffs: Record<string, number> = {};
for (let r = 0; r < Number(values.rounds); r++) {
  for (const { name, m } of models) {
    const t = performance.now();
    const o = (await m.run(feeds)).out.data as Float32Array;
    (times[name] ??= []).push((performance.now() - t) / 1000);
    if (!values.json) console.log(`  round ${r} ${name}: ${times[name].at(-1)!.toFixed(3)} s`);
    if (r === 0) {
      ref ??= o;
      let d = 0;
      for (let i = 0; i < o.length; i++) d = Math.max(d, Math.abs(o[i] - ref[i]));
      diffs[name] = d;
    }
  }
}
const gemm1 = await MatmulPeak.weightGemm(rt);
const gemm = Math.max(gemm0, gemm1);
const flop = 4 * R * l * S * C;
const result: Record<string, unknown> = { bench: 'attention', l, S, H, hd, R, gflop: flop / 1e9, weight_gemm_gflops: Math.round(gemm), variants: {} };
console.log(`attention l ${l} × S ${S}, H ${H}, hd ${hd}, R ${R}: ${(flop / 1e9).toFixed(1)} GFLOP per call; weight GEMM ${gemm.toFixed(0)} GFLOP/s (before ${gemm0.toFixed(0)}, after ${gemm1.toFixed(0)})`);
for (const name of variants) {
  const s = [...times[name]].sort((a, b) => a - b)[Math.floor(times[name].length / 2)];
  const gf = flop / s / 1e9;
  (result.variants as Record<string, unknown>)[name] = { seconds: Number(s.toFixed(3)), gflops: Math.round(gf), ratio_to_weight_gemm: Number((gf / gemm).toFixed(3)), max_abs_diff: diffs[name] };
  console.log(`${name.padEnd(18)} ${s.toFixed(3)} s  ${gf.toFixed(0).padStart(5)} GFLOP/s  ${(gf / gemm).toFixed(2)}× GEMM  max |Δ| vs ${variants[0]} ${diffs[name].toExponential(1)}`);
}
if (values.json) console.log(JSON.stringify(result));
await rt.dispose();
