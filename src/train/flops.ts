// FLOPs per sample of a training graph, counted from the recorded nodes (forward and backward
// together): 2 per multiply-add of every MatMul, Conv and ConvTranspose, with the batch symbol 'B'
// set to 1. Shapes whose symbols other than B are unknown count as 0 (reported in `unresolved`).
import type { Graph, Tensor } from '../graph/index.ts';
import type { Dim } from '../graph/dims.ts';
import { monomialOf } from '../graph/dims.ts';

function dimValue(d: Dim, symbols: Record<string, number>): number | null {
  if (typeof d === 'number') return d;
  const m = monomialOf(d);
  let v = m.coef;
  for (const s of m.syms) {
    if (!(s in symbols)) return null;
    v *= symbols[s];
  }
  return v;
}

function numelOf(t: Tensor, symbols: Record<string, number>): number | null {
  let n = 1;
  for (const d of t.shape) {
    const v = dimValue(d, symbols);
    if (v === null) return null;
    n *= v;
  }
  return n;
}

export function graphFlops(g: Graph, symbols: Record<string, number> = { B: 1 }): { flops: number; unresolved: number } {
  let flops = 0, unresolved = 0;
  for (const node of g.nodes) {
    const out = node.outputs[0];
    let f: number | null = null;
    if (node.op === 'MatMul') {
      const a = node.inputs[0];
      const k = dimValue(a.shape[a.rank - 1], symbols);
      const n = numelOf(out, symbols);
      f = k === null || n === null ? null : 2 * n * k;
    } else if (node.op === 'Conv') {
      const w = node.inputs[1];
      const n = numelOf(out, symbols);
      const per = (w.shape.slice(1) as Dim[]).map((d) => dimValue(d, symbols));
      f = n === null || per.some((v) => v === null) ? null : 2 * n * (per as number[]).reduce((x, y) => x * y, 1);
    } else if (node.op === 'ConvTranspose') {
      const x = node.inputs[0], w = node.inputs[1];
      const n = numelOf(x, symbols);
      const per = (w.shape.slice(1) as Dim[]).map((d) => dimValue(d, symbols));
      f = n === null || per.some((v) => v === null) ? null : 2 * n * (per as number[]).reduce((a, b) => a * b, 1);
    } else continue;
    if (f === null) unresolved++;
    else flops += f;
  }
  return { flops, unresolved };
}
