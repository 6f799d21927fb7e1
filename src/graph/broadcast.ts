// Numpy broadcasting over symbolic shapes, and its adjoint (summing a gradient back to a shape).
import type { Dim, Shape } from './dims.ts';
import { fmtShape } from './dims.ts';
import type { Tensor } from './tensor.ts';

export function broadcastShapes(...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      const e = s[k];
      if (e === 1 || e === d) continue;
      if (d === 1) { d = e; continue; }
      throw new Error(`shapes ${shapes.map(fmtShape).join(' and ')} do not broadcast (axis ${i - rank}: ${d} vs ${e})`);
    }
    out.push(d);
  }
  return out;
}

/** Sums g (shaped like a broadcast result) back to `shape`. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  const lead = g.rank - shape.length;
  const keepAxes: number[] = [];
  for (let k = 0; k < shape.length; k++) {
    if (shape[k] === 1 && g.shape[k + lead] !== 1) keepAxes.push(k + lead);
  }
  let r = g;
  if (keepAxes.length) r = r.graph.apply1('ReduceSum', [r], { axes: keepAxes, keepdims: true });
  if (lead > 0) r = r.graph.apply1('ReduceSum', [r], { axes: [...Array(lead).keys()], keepdims: false });
  return r;
}
