// An independent float64 reference of one HART inference step written from the official code's
// semantics in plain TypeScript loops (basic_hart.py: AdaLNSelfAttn in its three paths,
// LlamaAttention with optional l2-norm, rotate-half RoPE, KV cache, AdaLNBeforeHead, head), for
// checking the config variants the fixture does not cover.
import type { HARTForT2IConfig } from '../../../src/models/transformer/config.ts';

type W = (name: string) => Float64Array;
export type Mat = Float64Array; // row-major

export interface RefStepInputs {
  B: number; l: number; P: number;
  x: Mat; // [B, l, C]
  cond: Mat; // [B, T, C]
  mask?: Mat; // [B, T]
  cos: Mat; sin: Mat; // [B, l, hd]
  past: { k: Mat; v: Mat }[]; // per block [B, H, P, hd]
}

const silu = (v: number) => v / (1 + Math.exp(-v));

function linear(w: W, name: string, x: Mat, rows: number, inF: number, outF: number, bias = true): Mat {
  const Wt = w(`${name}.weight`), b = bias ? w(`${name}.bias`) : undefined;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * Wt[o * inF + i];
      y[r * outF + o] = s;
    }
  return y;
}

function rms(x: Mat, rows: number, C: number, weight: Float64Array, eps: number): Mat {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[r * C + c] ** 2;
    const k = 1 / Math.sqrt(s / C + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * k * weight[c];
  }
  return y;
}

function pool(cond: Mat, B: number, T: number, C: number, mode: 'max' | 'avg', mask?: Mat): Mat {
  const out = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    let n = 0;
    if (mode === 'avg') for (let t = 0; t < T; t++) n += mask![b * T + t];
    for (let c = 0; c < C; c++) {
      let acc = mode === 'max' ? -Infinity : 0;
      for (let t = 0; t < T; t++) {
        const v = cond[(b * T + t) * C + c];
        acc = mode === 'max' ? Math.max(acc, v) : acc + v * mask![b * T + t];
      }
      out[b * C + c] = mode === 'max' ? acc : acc / Math.max(n, 1);
    }
  }
  return out;
}

export function referenceStep(cfg: HARTForT2IConfig, w: W, V: number, inp: RefStepInputs) {
  const C = cfg.embed_dim, H = cfg.num_heads, hd = C / H, T = cfg.context_token, eps = cfg.norm_eps;
  const F = Math.floor(Math.trunc((C * cfg.mlp_ratio * 2) / 3 + 255) / 256) * 256;
  const { B, l, P } = inp, S = P + l, rows = B * l;
  let x = Float64Array.from(inp.x);
  const presents: { k: Mat; v: Mat }[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    const pre = `blocks.${i}`;
    // modulation: [B, 6, C] or none
    let mod: Mat | undefined;
    if (!cfg.disable_aln) {
      const c = pool(inp.cond, B, T, C, cfg.sep_aln_pooling_mode, inp.mask).map(silu);
      mod = linear(w, `${pre}.ada_lin.1`, c, B, C, 6 * C);
    } else if (cfg.shared_aln) {
      const c = pool(inp.cond, B, T, C, 'avg', inp.mask), tab = w(`${pre}.scale_shift_table`);
      mod = new Float64Array(B * 6 * C);
      for (let b = 0; b < B; b++) for (let j = 0; j < 6; j++) for (let k = 0; k < C; k++) mod[(b * 6 + j) * C + k] = tab[j * C + k] + c[b * C + k];
    }
    const m = (b: number, j: number, k: number) => mod![(b * 6 + j) * C + k]; // gamma1, gamma2, scale1, scale2, shift1, shift2
    const lnw = w(`${pre}.ln_wo_grad.weight`);
    const modulate = (h: Mat, sj: number, tj: number) => {
      if (!mod) return h;
      return h.map((v, idx) => { const b = Math.floor(idx / (l * C)), k = idx % C; return v * (1 + m(b, sj, k)) + m(b, tj, k); });
    };
    // attention
    const h = modulate(rms(x, rows, C, lnw, eps), 2, 4);
    const qkvW = w(`${pre}.attn.qkv_proj.weight`);
    const bias = [w(`${pre}.attn.q_bias`), w(`${pre}.attn.zero_k_bias`), w(`${pre}.attn.v_bias`)];
    const q = new Float64Array(B * H * l * hd), kNew = new Float64Array(B * H * l * hd), vNew = new Float64Array(B * H * l * hd);
    for (let b = 0; b < B; b++) for (let t = 0; t < l; t++) for (let j = 0; j < 3; j++) for (let hh = 0; hh < H; hh++) for (let e = 0; e < hd; e++) {
      const o = j * C + hh * hd + e;
      let s = bias[j][hh * hd + e];
      for (let c = 0; c < C; c++) s += h[(b * l + t) * C + c] * qkvW[o * C + c];
      [q, kNew, vNew][j][((b * H + hh) * l + t) * hd + e] = s;
    }
    let scale = 0.25 / Math.sqrt(hd);
    if (cfg.attn_l2_norm) {
      const sm = w(`${pre}.attn.scale_mul_1H11`);
      for (const [arr, isQ] of [[q, true], [kNew, false]] as const) {
        for (let r = 0; r < B * H * l; r++) {
          let n = 0;
          for (let e = 0; e < hd; e++) n += arr[r * hd + e] ** 2;
          const hh = Math.floor(r / l) % H;
          const f = (isQ ? Math.exp(Math.min(sm[hh], Math.log(100))) : 1) / Math.max(Math.sqrt(n), 1e-12);
          for (let e = 0; e < hd; e++) arr[r * hd + e] *= f;
        }
      }
      scale = 1;
    }
    const rope = (arr: Mat) => {
      const out = new Float64Array(arr.length);
      for (let b = 0; b < B; b++) for (let hh = 0; hh < H; hh++) for (let t = 0; t < l; t++) for (let e = 0; e < hd; e++) {
        const base = ((b * H + hh) * l + t) * hd, cs = (b * l + t) * hd + e;
        const rot = e < hd / 2 ? -arr[base + e + hd / 2] : arr[base + e - hd / 2];
        out[base + e] = arr[base + e] * inp.cos[cs] + rot * inp.sin[cs];
      }
      return out;
    };
    const qr = rope(q), kr = rope(kNew);
    const K = new Float64Array(B * H * S * hd), Vv = new Float64Array(B * H * S * hd);
    for (let bh = 0; bh < B * H; bh++) {
      K.set(inp.past[i].k.subarray(bh * P * hd, (bh + 1) * P * hd), bh * S * hd);
      K.set(kr.subarray(bh * l * hd, (bh + 1) * l * hd), (bh * S + P) * hd);
      Vv.set(inp.past[i].v.subarray(bh * P * hd, (bh + 1) * P * hd), bh * S * hd);
      Vv.set(vNew.subarray(bh * l * hd, (bh + 1) * l * hd), (bh * S + P) * hd);
    }
    presents.push({ k: K, v: Vv });
    const o = new Float64Array(rows * C);
    for (let b = 0; b < B; b++) for (let hh = 0; hh < H; hh++) for (let t = 0; t < l; t++) {
      const bh = b * H + hh, sc = new Float64Array(S);
      let mx = -Infinity;
      for (let s = 0; s < S; s++) {
        let a = 0;
        for (let e = 0; e < hd; e++) a += qr[(bh * l + t) * hd + e] * scale * K[(bh * S + s) * hd + e];
        sc[s] = a; mx = Math.max(mx, a);
      }
      let z = 0;
      for (let s = 0; s < S; s++) { sc[s] = Math.exp(sc[s] - mx); z += sc[s]; }
      for (let e = 0; e < hd; e++) {
        let a = 0;
        for (let s = 0; s < S; s++) a += (sc[s] / z) * Vv[(bh * S + s) * hd + e];
        o[(b * l + t) * C + hh * hd + e] = a;
      }
    }
    let attn = linear(w, `${pre}.attn.proj`, o, rows, C, C);
    if (mod) attn = attn.map((v, idx) => v * m(Math.floor(idx / (l * C)), 0, idx % C));
    x = x.map((v, idx) => v + attn[idx]);
    // ffn
    const h2 = modulate(rms(x, rows, C, lnw, eps), 3, 5);
    const gate = linear(w, `${pre}.ffn.gate_proj`, h2, rows, C, F, false);
    const up = linear(w, `${pre}.ffn.up_proj`, h2, rows, C, F, false);
    let f = linear(w, `${pre}.ffn.down_proj`, gate.map((g, k) => silu(g) * up[k]), rows, F, C, false);
    if (mod) f = f.map((v, idx) => v * m(Math.floor(idx / (l * C)), 1, idx % C));
    x = x.map((v, idx) => v + f[idx]);
  }
  // head
  const c = pool(inp.cond, B, T, C, 'max').map(silu);
  const ss = linear(w, 'head_nm.ada_lin.1', c, B, C, 2 * C); // [B, 2, C]: scale, shift
  const hn = rms(x, rows, C, w('head_nm.ln_wo_grad.weight'), eps).map((v, idx) => {
    const b = Math.floor(idx / (l * C)), k = idx % C;
    return v * (1 + ss[b * 2 * C + k]) + ss[b * 2 * C + C + k];
  });
  return { hidden: x, logits: linear(w, 'head', hn, rows, C, V), presents };
}
