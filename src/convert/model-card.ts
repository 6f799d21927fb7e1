// MODEL_CARD.md of a converted model folder: what the model is, where each part came from, how it
// is stored (dtype, int4 layout) and what that costs in accuracy. Deterministic (no dates), so the
// same conversion gives the same folder. Browser-safe.
import type { StorageOptions } from './plan.ts';

export interface CardPart {
  /** Folder name in the model folder (transformer, tokenizer, text_encoder). */
  folder: string;
  /** Where it came from (a path relative to the source folder, or the text-encoder folder's name). */
  source: string;
  tensors: number;
  bytes: number;
  quantized: number;
  /** Source tensors that were not written (buffers, discriminator, vision tower, …). */
  dropped: string[];
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function modelCard(o: { name: string; parts: CardPart[]; storage: StorageOptions; resolution: number; patchNums: number[]; command: string }): string {
  const { storage } = o;
  const q = storage.quantize === 'int4';
  const lines = [
    `# ${o.name}`,
    '',
    'HART (Hybrid Autoregressive Transformer, MIT Han Lab + NVIDIA, ICLR 2025) text-to-image model,',
    `converted to the HART.js model-folder layout: ${o.resolution}×${o.resolution} pixels, ${o.patchNums.length} scales`,
    `(patch_nums ${o.patchNums.join(', ')}). Run it with \`hart generate --model <this folder> "a prompt"\`.`,
    '',
    '## Parts',
    '',
    '| folder | from | tensors | size | int4 Linear weights | not copied |',
    '| --- | --- | --- | --- | --- | --- |',
    ...o.parts.map((p) => `| \`${p.folder}/\` | \`${p.source}\` | ${p.tensors} | ${mb(p.bytes)} | ${p.quantized} | ${p.dropped.length ? p.dropped.join(', ') : '—'} |`),
    '',
    '`transformer/` holds the autoregressive transformer and the residual diffusion MLP (`diffloss.*`) under their',
    'official state-dict names (the EMA weights that the official `sample.py` generates with, when present);',
    '`tokenizer/` the hybrid tokenizer (the official `vae.*` weights without the `vae.` prefix, the discriminator',
    'dropped); `text_encoder/` the Qwen2 language model only (no vision tower, no LM head).',
    '',
    '## Storage',
    '',
    storage.dtype === 'float32'
      ? '- Float tensors are stored in float32, exactly as in the source (float16/bfloat16 sources are widened exactly).'
      : '- Float tensors are stored in float16 (round-to-nearest-even; bfloat16 sources stay bfloat16, which is exact). The model computes in float32: each half-precision weight is cast inside the ONNX graph, and ONNX Runtime (CPU) folds that cast into a float32 weight when it loads the graph, so float16 halves the folder, not the memory.',
    q
      ? `- Linear weights of the transformer blocks (qkv, proj, FFN), the logits head, the diffusion MLP and the text encoder are 4-bit: blockwise along the input dimension (block ${storage.blockSize}), asymmetric with a zero point, in the layout of ONNX Runtime's \`com.microsoft.MatMulNBits\` (\`<m>.qweight\` uint8 [N, K/${storage.blockSize}, ${storage.blockSize / 2}], \`<m>.scales\` float32 [N, K/${storage.blockSize}], \`<m>.zeros\` uint8 [N, ⌈K/${storage.blockSize}/2⌉] in place of \`<m>.weight\`; W = (q − zero)·scale). They run as MatMulNBits nodes, so they stay 4-bit in memory.`
      : '- No weight is quantized.',
    '',
    'What float16 and int4 cost in accuracy against float32 is measured on the parity fixture by',
    '`npx hart bench convert` (image, logits and token choices).',
    '',
    '## Conversion',
    '',
    '```',
    o.command,
    '```',
    '',
    'Licenses are those of the source checkpoints (HART: mit-han-lab/hart-0.7b-1024px; the text encoder: its own repository).',
    '',
  ];
  return lines.join('\n');
}
