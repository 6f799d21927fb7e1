// The tensors each part of a HART checkpoint must hold, with the shapes the configs imply, and a
// whole-checkpoint check that names every missing, unexpected and mis-shaped tensor. The
// transformer's list is models/transformer/weights.ts; the tokenizer's and the diffusion MLP's are
// recorded by building their graphs over a store that only notes what is asked for, so the list
// can never drift from the model code. Browser-safe.
import { Graph } from '../graph/index.ts';
import { conv2d, Params, type StoredTensor, type WeightStore } from '../nn/index.ts';
import { decoder, encoder, phiLayout, type HartTokenizerConfig } from '../models/tokenizer/index.ts';
import { simpleMLPAdaLN, type DiffLossConfig } from '../models/diffusion/index.ts';

/** A WeightStore that records every name and shape asked for and answers with zeros (shared, never emitted). */
class RecordingStore implements WeightStore {
  readonly shapes = new Map<string, number[]>();
  private zeros = new Float32Array(0);
  get(name: string, expectedShape?: readonly number[]): StoredTensor | undefined {
    if (!expectedShape) return undefined;
    const shape = [...expectedShape];
    const prev = this.shapes.get(name);
    if (prev && prev.join() !== shape.join()) throw new Error(`model code asks for ${name} as [${prev}] and [${shape}]`);
    this.shapes.set(name, shape);
    const n = shape.reduce((a, b) => a * b, 1);
    if (this.zeros.length < n) this.zeros = new Float32Array(n);
    return { dtype: 'float32', shape, data: this.zeros.subarray(0, n) };
  }
}

function record(build: (g: Graph, p: Params) => void): Map<string, number[]> {
  const store = new RecordingStore();
  const g = new Graph();
  build(g, new Params(g, store));
  return store.shapes;
}

/** The hybrid tokenizer's tensors (HARTAutoEncoder state-dict names, without the `vae.` prefix). */
export function expectedTokenizerWeights(cfg: HartTokenizerConfig): Map<string, number[]> {
  const size = 2 ** (cfg.ch_mult.length - 1);
  const ks = cfg.quant_conv_ks;
  const m = record((g, p) => {
    const img = g.input('img', 'float32', [1, 3, size, size]);
    conv2d(p.scope('quant_conv'), encoder(p.scope('encoder'), img, cfg), cfg.z_channels, ks, { padding: ks >> 1 });
    const z = g.input('z', 'float32', [1, cfg.z_channels, 1, 1]);
    decoder(p.scope('decoder'), conv2d(p.scope('post_quant_conv'), z, cfg.z_channels, ks, { padding: ks >> 1 }), cfg);
    if (cfg.double_decoder) decoder(p.scope('decoder2'), conv2d(p.scope('post_quant_conv2'), z, cfg.z_channels, ks, { padding: ks >> 1 }), cfg);
    p.scope('quantize').get('embedding.weight', [cfg.vocab_size, cfg.z_channels]);
    const layout = phiLayout(cfg);
    for (let k = 0; k < layout.count; k++) {
      const s = layout.scope(k);
      if (s !== null) conv2d(p.scope('quantize').scope(s), z, cfg.z_channels, 3, { padding: 1 });
    }
  });
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Tensors of the official tokenizer file that HART.js does not use: the discriminator and the VQ usage buffer. */
export function isDroppedTokenizerTensor(name: string): boolean {
  return name.startsWith('disc.') || name === 'vae.quantize.ema_vocab_hit_SV' || name === 'quantize.ema_vocab_hit_SV';
}

/** The residual diffusion MLP's tensors, `<prefix>.net.*` (prefix "diffloss" in the official llm/). */
export function expectedDiffusionWeights(cfg: DiffLossConfig, prefix = 'diffloss'): Map<string, number[]> {
  return record((g, p) => {
    const x = g.input('x', 'float32', ['N', cfg.in_channels]);
    const t = g.input('t', 'int64', ['N']);
    const c = g.input('c', 'float32', ['N', cfg.z_channels]);
    simpleMLPAdaLN(p.scope(prefix).scope('net'), cfg, x, t, c);
  });
}

/**
 * Compares a checkpoint's tensors (name → shape) with the expected ones; `ignore` names tensors
 * that may be present and are dropped. Throws one error listing every problem.
 */
export function checkWeights(what: string, expected: Map<string, number[]>, actual: Iterable<[string, readonly number[]]>, ignore: (name: string) => boolean = () => false): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [name, shape] of actual) {
    seen.add(name);
    if (ignore(name)) continue;
    const want = expected.get(name);
    if (!want) problems.push(`unexpected tensor ${name} [${shape}]`);
    else if (want.join() !== shape.join()) problems.push(`${name} has shape [${shape}], the config implies [${want}]`);
  }
  for (const [name, shape] of expected) if (!seen.has(name)) problems.push(`missing tensor ${name} [${shape}]`);
  if (problems.length) {
    const shown = problems.slice(0, 40);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    throw new Error(`${what} do not match the config:\n  ${shown.join('\n  ')}`);
  }
}
