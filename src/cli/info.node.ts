// `hart info [--model <dir>]`: what a model folder holds, without loading it: its name, layout,
// parameter counts per part (read from the weight files' headers), the configuration that shapes
// generation (resolution, patch_nums, context tokens, widths), the sampling defaults, and its
// model card.
import { readJson } from '../io/file-access.ts';
import { openWeights } from '../io/weights.ts';
import { int4Source } from '../nn/int4.ts';
import { resolveModel, UserError, type ModelRef } from '../pipeline/default-model.node.ts';
import { parseHartConfig, ignoredBuffers } from '../models/transformer/index.ts';
import { parseTokenizerConfig } from '../models/tokenizer/index.ts';
import { modelDefaults } from '../pipeline/options.ts';
import type { FileAccess } from '../io/file-access.ts';

async function countParams(files: FileAccess, name: string | undefined, skip: (n: string) => boolean = () => false): Promise<{ total: number; byPrefix: Map<string, number> }> {
  const src = int4Source(await openWeights(files, name));
  try {
    const byPrefix = new Map<string, number>();
    let total = 0;
    for (const n of src.names()) {
      if (skip(n)) continue;
      const k = src.info(n).shape.reduce((a, b) => a * b, 1);
      total += k;
      const p = n.split('.')[0];
      byPrefix.set(p, (byPrefix.get(p) ?? 0) + k);
    }
    return { total, byPrefix };
  } finally {
    await src.close();
  }
}

export interface ModelInfo {
  name: string;
  folder: string;
  layout: 'hart-js' | 'official';
  demo: boolean;
  parameters: { transformer: number; diffusion_head: number; tokenizer: number; text_encoder: number | null; total: number };
  config: Record<string, unknown>;
  defaults: Record<string, unknown>;
  model_card: string | null;
}

export async function modelInfo(model: ModelRef): Promise<ModelInfo> {
  const { files, layout } = model;
  const tdir = files.sub(layout.transformerDir), kdir = files.sub(layout.tokenizerDir);
  const tcfg = parseHartConfig(await readJson(tdir, 'config.json'));
  const kcfg = parseTokenizerConfig(await readJson(kdir, 'config.json'));
  let weights: string | undefined;
  for (const w of layout.weights) if (await tdir.exists(w)) { weights = w; break; }
  if (!weights) throw new UserError(`${tdir.describe('')} has none of ${layout.weights.join(', ')}`);
  const buffers = ignoredBuffers(tcfg);
  const t = await countParams(tdir, weights, (n) => buffers.has(n));
  const diffusion = t.byPrefix.get('diffloss') ?? 0;
  const k = await countParams(kdir, undefined);
  let te: number | null = null;
  const teDir = model.textEncoderDir ? undefined : files.sub(layout.hartJson?.parts.text_encoder ?? 'text_encoder');
  if (teDir && await teDir.exists('config.json')) te = (await countParams(teDir, undefined)).total;
  const card = await files.exists('MODEL_CARD.md') ? await files.readText('MODEL_CARD.md') : null;
  const hj = layout.hartJson;
  return {
    name: model.name,
    folder: model.dir,
    layout: hj ? 'hart-js' : 'official',
    demo: model.demo,
    parameters: { transformer: t.total - diffusion, diffusion_head: diffusion, tokenizer: k.total, text_encoder: te, total: t.total + k.total + (te ?? 0) },
    config: {
      resolution: hj?.resolution ?? 16 * tcfg.patch_nums[tcfg.patch_nums.length - 1],
      patch_nums: tcfg.patch_nums,
      context_token: tcfg.context_token,
      context_dim: tcfg.context_dim,
      depth: tcfg.depth,
      embed_dim: tcfg.embed_dim,
      num_heads: tcfg.num_heads,
      diff_width: tcfg.diff_width,
      diff_depth: tcfg.diff_depth,
      codebook_size: kcfg.vocab_size,
      latent_channels: kcfg.z_channels,
    },
    // what generation will use: hart.json's, else the transformer config's steps, else sample.py's (the pipeline's own resolution)
    defaults: modelDefaults(hj?.defaults, tcfg),
    model_card: card,
  };
}

const fmt = (n: number) => n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n);

export async function infoCommand(o: { model?: string; textEncoder?: string; json?: boolean }): Promise<void> {
  const model = await resolveModel(o.model, o.textEncoder, { requireTextEncoder: false });
  const info = await modelInfo(model);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(info)}\n`);
    return;
  }
  const p = info.parameters;
  const lines = [
    `model        ${info.name}${info.demo ? '  (random-weight parity model: a stand-in until the embedded model exists)' : ''}`,
    `folder       ${info.folder}  (${info.layout === 'hart-js' ? 'HART.js layout' : 'official layout'})`,
    `parameters   ${fmt(p.total)} in all: transformer ${fmt(p.transformer)}, diffusion head ${fmt(p.diffusion_head)}, `
      + `tokenizer ${fmt(p.tokenizer)}, text encoder ${p.text_encoder === null ? (info.demo ? 'random stand-in' : 'separate') : fmt(p.text_encoder)}`,
    `config       ${Object.entries(info.config).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : v}`).join(', ')}`,
    `defaults     ${Object.entries(info.defaults).map(([k, v]) => `${k} ${v === null ? '600/300' : v}`).join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (info.model_card) process.stdout.write(`\n${info.model_card.trimEnd()}\n`);
  else process.stdout.write('\n(no MODEL_CARD.md in this folder)\n');
}
