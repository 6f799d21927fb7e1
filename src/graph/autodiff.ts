// Reverse-mode automatic differentiation on the recorded graph: walks the nodes between the
// parameters and the loss backwards, calling each op's vector-Jacobian rule (written with the
// same ops), and accumulates gradients. The result is more graph, emitted with the forward pass.
import type { Node, Tensor } from './tensor.ts';
import { opDef } from './tensor.ts';
import { fmtShape } from './dims.ts';

/**
 * Gradients of `loss` with respect to each tensor of `wrt`. `loss` must be a scalar unless
 * `seed` (the gradient flowing into loss, shaped like it) is given. Tensors that do not affect the
 * loss get a zero gradient.
 */
export function grad(loss: Tensor, wrt: Tensor[], seed?: Tensor): Tensor[] {
  const graph = loss.graph;
  if (!seed && loss.rank !== 0) throw new Error(`grad: loss ${loss} is not a scalar; pass a seed gradient`);
  if (seed && seed.shape.join() !== loss.shape.join()) {
    throw new Error(`grad: seed ${fmtShape(seed.shape)} does not match loss ${fmtShape(loss.shape)}`);
  }
  // Tensors that depend on some wrt tensor.
  const dependent = new Set<Tensor>(wrt);
  const nodes: Node[] = [];
  for (const n of graph.nodes) {
    if (n.inputs.some((t) => dependent.has(t))) {
      for (const o of n.outputs) dependent.add(o);
      nodes.push(n);
    }
    if (n === loss.node) break;
  }
  const grads = new Map<Tensor, Tensor>();
  grads.set(loss, seed ?? graph.scalar(1, 'float32').cast(loss.dtype));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const gys = n.outputs.map((o) => grads.get(o) ?? null);
    if (gys.every((g) => g === null)) continue;
    const def = opDef(n.op);
    if (!def.vjp) throw new Error(`grad: op ${n.op} has no vector-Jacobian rule`);
    const gxs = def.vjp(n, gys);
    n.inputs.forEach((x, k) => {
      const gx = gxs[k];
      if (!gx || !dependent.has(x)) return;
      if (gx.shape.join() !== x.shape.join()) {
        throw new Error(`grad: ${n.op} rule gave ${fmtShape(gx.shape)} for input ${x} (internal error)`);
      }
      const prev = grads.get(x);
      grads.set(x, prev ? prev.add(gx) : gx);
    });
  }
  return wrt.map((p) => grads.get(p) ?? p.zerosLike());
}
