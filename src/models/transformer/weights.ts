// The transformer's state-dict layout (spec §5.2): every expected key with the shape the config
// implies, and a whole-checkpoint check (missing, unexpected and mis-shaped tensors, each named).
// Buffers attn_bias_for_masking and lvl_1L are recomputed (never read) but their shapes are still
// checked, since they encode patch_nums and context_token; diffloss.* belongs to the diffusion model.
import type { TensorSource } from '../../io/tensor-source.ts';
import { MapWeightStore, type StoredTensor } from '../../nn/index.ts';
import { hartDims, type HARTForT2IConfig } from './config.ts';
import { LEVEL_FREQ_DIM } from './embeddings.ts';

/** Keys read by other models or recomputed here. */
export function isForeignKey(name: string): boolean {
  return name.startsWith('diffloss.');
}

/** The transformer's tensors: name → shape (V = vocabulary, Cvae = latent channels, from the tokenizer). */
export function expectedWeights(cfg: HARTForT2IConfig, V: number, Cvae: number): Map<string, number[]> {
  const d = hartDims(cfg);
  const { C } = d, F = d.ffnHidden, N = d.numScales;
  const m = new Map<string, number[]>();
  const lin = (name: string, o: number, i: number, bias = true) => {
    m.set(`${name}.weight`, [o, i]);
    if (bias) m.set(`${name}.bias`, [o]);
  };
  lin('word_embed', C, Cvae);
  if (cfg.use_context_norm) m.set('context_norm.weight', [d.contextDim]);
  lin('context_embed', C, d.contextDim);
  if (cfg.use_timestep_embed) {
    lin('lvl_embed.mlp.0', C, LEVEL_FREQ_DIM);
    lin('lvl_embed.mlp.2', C, C);
  } else {
    m.set('lvl_embed.weight', [N, C]);
  }
  for (let i = 0; i < d.depth; i++) {
    const b = `blocks.${i}`;
    lin(`${b}.attn.qkv_proj`, 3 * C, C, false);
    for (const k of ['q_bias', 'zero_k_bias', 'v_bias']) m.set(`${b}.attn.${k}`, [C]);
    if (cfg.attn_l2_norm) m.set(`${b}.attn.scale_mul_1H11`, [1, d.heads, 1, 1]);
    lin(`${b}.attn.proj`, C, C);
    lin(`${b}.ffn.gate_proj`, F, C, false);
    lin(`${b}.ffn.up_proj`, F, C, false);
    lin(`${b}.ffn.down_proj`, C, F, false);
    m.set(`${b}.ln_wo_grad.weight`, [C]);
    if (!cfg.disable_aln) lin(`${b}.ada_lin.1`, 6 * C, C);
    else if (cfg.shared_aln) m.set(`${b}.scale_shift_table`, [6, C]);
  }
  m.set('head_nm.ln_wo_grad.weight', [C]);
  lin('head_nm.ada_lin.1', 2 * C, C);
  lin('head', V, C);
  m.set('decoder_norm.weight', [C]);
  return m;
}

/** Buffers present in official checkpoints that are recomputed from the config. */
export function ignoredBuffers(cfg: HARTForT2IConfig): Map<string, number[]> {
  const S = hartDims(cfg).seqLen;
  return new Map([['lvl_1L', [1, S]], ['attn_bias_for_masking', [1, 1, S, S]]]);
}

/** V and Cvae as the checkpoint holds them (head.weight [V, C], word_embed.weight [C, Cvae]). */
export function inferVocabAndCvae(shapeOf: (name: string) => readonly number[] | undefined): { V: number; Cvae: number } {
  const head = shapeOf('head.weight'), word = shapeOf('word_embed.weight');
  if (!head || head.length !== 2) throw new Error('transformer weights: head.weight [V, C] is missing or not 2-D');
  if (!word || word.length !== 2) throw new Error('transformer weights: word_embed.weight [C, Cvae] is missing or not 2-D');
  return { V: head[0], Cvae: word[1] };
}

/**
 * Checks a whole transformer checkpoint against the config: throws one error listing every
 * missing tensor, unexpected tensor and shape mismatch by name.
 */
export function checkTransformerWeights(
  cfg: HARTForT2IConfig, entries: Iterable<[string, { shape: readonly number[] }]>, V: number, Cvae: number,
): void {
  const want = expectedWeights(cfg, V, Cvae);
  const buffers = ignoredBuffers(cfg);
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const [name, t] of entries) {
    if (isForeignKey(name)) continue;
    seen.add(name);
    const shape = want.get(name) ?? buffers.get(name);
    if (!shape) problems.push(`unexpected tensor ${name} [${t.shape}]`);
    else if (shape.join() !== t.shape.join()) problems.push(`${name} has shape [${t.shape}], the config implies [${shape}]`);
  }
  for (const [name, shape] of want) {
    // zero_k_bias is an all-zero buffer; the model substitutes zeros when a checkpoint omits it.
    if (!seen.has(name) && !name.endsWith('.zero_k_bias')) problems.push(`missing tensor ${name} [${shape}]`);
  }
  if (problems.length) throw new Error(`transformer weights do not match the config:\n  ${problems.join('\n  ')}`);
}

/**
 * Reads the transformer's tensors from a checkpoint (model.safetensors, or ema_model.bin through
 * io/torch-bin.ts), checking every name and shape against the config before any data is read;
 * the recomputed buffers and diffloss.* are not read. V and Cvae default to the checkpoint's.
 */
export async function loadTransformerWeights(
  cfg: HARTForT2IConfig, source: TensorSource, sizes?: { V: number; Cvae: number },
): Promise<{ store: MapWeightStore; V: number; Cvae: number }> {
  const names = source.names();
  const { V, Cvae } = sizes ?? inferVocabAndCvae((n) => (names.includes(n) ? source.info(n).shape : undefined));
  checkTransformerWeights(cfg, names.map((n) => [n, source.info(n)] as [string, { shape: number[] }]), V, Cvae);
  const map = new Map<string, StoredTensor>();
  for (const name of expectedWeights(cfg, V, Cvae).keys()) {
    if (names.includes(name)) map.set(name, (await source.read(name)) as StoredTensor);
  }
  return { store: new MapWeightStore(map), V, Cvae };
}
