// `hart convert`: an official HART checkpoint folder (llm/ with config.json and ema_model.bin or
// model.safetensors, tokenizer/ with config.json and weights; optionally a Qwen2 text-encoder
// folder) → a HART.js model folder (hart.json, transformer/, tokenizer/, text_encoder/,
// MODEL_CARD.md; each part a config.json with the official field names and a model.safetensors).
// Every name and shape is checked against the configs before anything is written; the buffers the
// official files carry (attn_bias_for_masking, lvl_1L, ema_vocab_hit_SV) and the discriminator are
// dropped. Tensors are read, converted (float16, int4) and written one at a time. Every file is
// written atomically into a temp sibling of the output folder, which is renamed into place at the
// end: the output folder is complete or absent.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { FileAccess } from '../io/file-access.ts';
import { readJson } from '../io/file-access.ts';
import { diskFiles } from '../io/file-access.node.ts';
import { atomicWriteFile } from '../io/files.node.ts';
import type { TensorData } from '../io/dtypes.ts';
import type { TensorSource } from '../io/tensor-source.ts';
import { MODEL_FILES, openWeights } from '../io/weights.ts';
import type { Int4Blocks } from '../nn/int4.ts';
import { assertSupported, checkTransformerWeights, hartDims, ignoredBuffers, inferVocabAndCvae, isForeignKey, parseHartConfig } from '../models/transformer/index.ts';
import { downsampleFactor, parseTokenizerConfig } from '../models/tokenizer/index.ts';
import { diffLossConfig } from '../models/diffusion/index.ts';
import { parseQwen2Config, qwen2ParamShapes, selectLanguageModelWeights } from '../models/text/index.ts';
import { checkWeights, expectedDiffusionWeights, expectedTokenizerWeights, isDroppedTokenizerTensor } from './expected.ts';
import { modelCard, type CardPart } from './model-card.ts';
import {
  convertTensor, DIFFUSION_INT4, planBytes, planPart, quantizeTensor, TEXT_ENCODER_INT4, TRANSFORMER_INT4,
  type PartPlan, type PlannedTensor, type StorageOptions,
} from './plan.ts';
import { writeSafetensorsStreaming } from './write.node.ts';
import { modelDefaults } from '../pipeline/options.ts';

export interface ConvertOptions extends Partial<StorageOptions> {
  /** A Qwen2 / Qwen2-VL folder (config.json, tokenizer.json, weights) to include as text_encoder/. */
  textEncoder?: string;
  /** Replace an existing output folder (it is swapped out only once the new one is complete). */
  force?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** The command line, for the model card. */
  command?: string;
  /**
   * Which Linear weights (output names, e.g. "blocks.0.ffn.up_proj.weight") of which part
   * ("transformer", "text_encoder") become int4 under quantize: 'int4'; default `defaultInt4Rule`.
   */
  int4Rule?: (part: string, name: string) => boolean;
}

/** The transformer blocks' qkv/proj/FFN, the logits head, the diffusion MLP's wide linears, every text-encoder projection. */
export function defaultInt4Rule(part: string, name: string): boolean {
  if (part === 'transformer') return TRANSFORMER_INT4.test(name) || DIFFUSION_INT4.test(name);
  if (part === 'text_encoder') return TEXT_ENCODER_INT4.test(name);
  return false;
}

export interface ConvertedPart extends CardPart {
  seconds: number;
  /** Linear weights left in float because K is not a multiple of the block size. */
  keptFloat: string[];
}

export interface ConvertReport {
  out: string;
  storage: StorageOptions;
  parts: ConvertedPart[];
  /** Bytes of every file written. */
  bytes: number;
  seconds: number;
}

/** The llm/ weight files, in order of preference: sample.py generates with the EMA weights. */
export const LLM_WEIGHT_FILES = ['ema_model.bin', 'model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];

type Rule = (part: string, name: string) => boolean;

interface PartJob {
  folder: string;
  source: string;
  src: TensorSource;
  plan: PartPlan;
  dropped: string[];
  files: Record<string, string>;
  metadata: Record<string, string>;
}

function storageOptions(o: ConvertOptions): StorageOptions {
  const dtype = o.dtype ?? 'float32';
  const quantize = o.quantize ?? 'none';
  const blockSize = o.blockSize ?? 32;
  if (dtype !== 'float32' && dtype !== 'float16') throw new Error(`--dtype must be float32 or float16, got ${JSON.stringify(dtype)}`);
  if (quantize !== 'none' && quantize !== 'int4') throw new Error(`--quantize must be none or int4, got ${JSON.stringify(quantize)}`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0 || blockSize > 256) {
    throw new Error(`--block-size must be a power of two in [16, 256] (MatMulNBits), got ${blockSize}`);
  }
  return { dtype, quantize, blockSize };
}

async function exists(path: string): Promise<boolean> {
  try { await stat(path); return true; } catch { return false; }
}

/** Short description of dropped names: "attn_bias_for_masking, lvl_1L, disc.* (12)". */
function summarizeDropped(names: string[]): string[] {
  const groups = new Map<string, number>();
  for (const n of names) {
    const key = n.startsWith('disc.') ? 'disc.*' : n.startsWith('visual.') || n.startsWith('model.visual.') ? 'visual.*' : n;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([k, c]) => (c > 1 ? `${k} (${c})` : k));
}

const infoEntries = (src: TensorSource, names: string[]) => names.map((n) => [n, src.info(n).shape] as [string, number[]]);

async function openFirst(files: FileAccess, candidates: string[]): Promise<{ src: TensorSource; name: string }> {
  for (const name of candidates) if (await files.exists(name)) return { src: await openWeights(files, name), name };
  throw new Error(`${files.describe('')} has none of ${candidates.join(', ')}`);
}

/** Plans the transformer part (llm/): checks every tensor, drops the recomputed buffers. */
async function transformerJob(root: FileAccess, storage: StorageOptions, tokCfg: ReturnType<typeof parseTokenizerConfig>, int4Rule: Rule) {
  const llm = root.sub('llm');
  const configJson = await readJson(llm, 'config.json');
  const cfg = parseHartConfig(configJson);
  assertSupported(cfg);
  const { src, name } = await openFirst(llm, LLM_WEIGHT_FILES);
  try {
    const names = src.names();
    const { V, Cvae } = inferVocabAndCvae((n) => (names.includes(n) ? src.info(n).shape : undefined));
    if (V !== tokCfg.vocab_size) throw new Error(`llm/: head.weight predicts ${V} tokens, tokenizer/config.json has vocab_size ${tokCfg.vocab_size}`);
    if (Cvae !== tokCfg.z_channels) throw new Error(`llm/: word_embed.weight reads ${Cvae} latent channels, tokenizer/config.json has z_channels ${tokCfg.z_channels}`);
    checkTransformerWeights(cfg, names.map((n) => [n, src.info(n)] as [string, { shape: number[] }]), V, Cvae);
    checkWeights('llm/ diffusion weights (diffloss.*)', expectedDiffusionWeights(diffLossConfig(cfg, tokCfg)), infoEntries(src, names.filter(isForeignKey)));
    const buffers = ignoredBuffers(cfg);
    const kept = names.filter((n) => !buffers.has(n));
    const plan = planPart(kept.map((n) => [n, n, src.info(n)]), storage, (n) => int4Rule('transformer', n));
    return { cfg, configJson, job: { folder: 'transformer', source: `llm/${name}`, src, plan, dropped: names.filter((n) => buffers.has(n)), files: {}, metadata: {} } as PartJob };
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Plans the tokenizer part: the autoencoder's weights without the `vae.` prefix, the discriminator dropped. */
async function tokenizerJob(root: FileAccess, storage: StorageOptions) {
  const tdir = root.sub('tokenizer');
  const configJson = (await readJson(tdir, 'config.json')) as Record<string, unknown>;
  const cfg = parseTokenizerConfig(configJson);
  let weightsName = MODEL_FILES[0];
  for (const f of MODEL_FILES) if (await tdir.exists(f)) { weightsName = f; break; }
  const src = await openWeights(tdir);
  try {
    const names = src.names();
    const prefix = names.includes('vae.quantize.embedding.weight') ? 'vae.' : '';
    const expected = new Map([...expectedTokenizerWeights(cfg)].map(([k, v]) => [prefix + k, v]));
    checkWeights('tokenizer weights', expected, infoEntries(src, names), isDroppedTokenizerTensor);
    const kept = names.filter((n) => !isDroppedTokenizerTensor(n));
    const plan = planPart(kept.map((n) => [n.slice(prefix.length), n, src.info(n)]), storage);
    // Without the discriminator the file is a HARTAutoEncoder's state dict.
    const outConfig = { ...configJson, model_type: 'hart_autoencoder', architectures: ['HARTAutoEncoder'] };
    return { cfg, outConfig, job: { folder: 'tokenizer', source: `tokenizer/${weightsName}`, src, plan, dropped: names.filter(isDroppedTokenizerTensor), files: {}, metadata: {} } as PartJob };
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Plans the text encoder: the Qwen2 language model under canonical names, plus its config and tokenizer files. */
async function textEncoderJob(dir: string, storage: StorageOptions, int4Rule: Rule) {
  const files = diskFiles(dir);
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!(await files.exists(f))) throw new Error(`${files.describe('')} is not a text-encoder folder: ${f} is missing`);
  }
  const configJson = await readJson(files, 'config.json');
  const cfg = parseQwen2Config(configJson, files.describe('config.json'));
  const src = await openWeights(files);
  try {
    const lm = selectLanguageModelWeights(src.names(), cfg);
    const shapes = qwen2ParamShapes(cfg);
    checkWeights('text encoder weights', shapes, [...lm.names].map(([canon, full]) => [canon, src.info(full).shape]));
    const plan = planPart([...lm.names].map(([canon, full]) => [canon, full, src.info(full)]), storage, (n) => int4Rule('text_encoder', n));
    const used = new Set(lm.names.values());
    const dropped = src.names().filter((n) => !used.has(n));
    const copies: Record<string, string> = {
      'config.json': JSON.stringify(configJson, null, 2) + '\n',
      'tokenizer.json': await files.readText('tokenizer.json'),
    };
    if (await files.exists('tokenizer_config.json')) copies['tokenizer_config.json'] = await files.readText('tokenizer_config.json');
    return { cfg, job: { folder: 'text_encoder', source: basename(resolve(dir)), src, plan, dropped, files: copies, metadata: {} } as PartJob };
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Streams one part's model.safetensors. */
async function writePart(dir: string, job: PartJob, storage: StorageOptions): Promise<number> {
  // int4 blocks of the source weight being written (its three parts are consecutive in name order)
  let cached: { source: string; q: Int4Blocks; left: number } | null = null;
  const produce = async (t: PlannedTensor): Promise<TensorData> => {
    if (t.kind === 'copy') return convertTensor(t.name, await job.src.read(t.source), t.dtype);
    if (cached?.source !== t.source) cached = { source: t.source, q: quantizeTensor(await job.src.read(t.source), storage.blockSize), left: 3 };
    const q = cached.q;
    if (--cached.left === 0) cached = null;
    return t.kind === 'qweight' ? q.qweight : t.kind === 'scales' ? q.scales : q.zeros;
  };
  const metadata: Record<string, string> = {
    format: 'pt',
    'hart_js.part': job.folder,
    'hart_js.source': job.source,
    'hart_js.dtype': storage.dtype,
    ...job.metadata,
  };
  if (job.plan.quantized.length) {
    metadata['hart_js.quantization'] = JSON.stringify({ method: 'MatMulNBits', bits: 4, block_size: storage.blockSize, zero_points: true, weights: job.plan.quantized.length });
  }
  return writeSafetensorsStreaming(join(dir, 'model.safetensors'), job.plan.tensors, produce, metadata);
}

/** Converts an official HART folder into a HART.js model folder at `outDir`; see the file header. */
export async function convertHart(officialDir: string, outDir: string, options: ConvertOptions = {}): Promise<ConvertReport> {
  const t0 = performance.now();
  const log = options.log ?? (() => {});
  const storage = storageOptions(options);
  const out = resolve(outDir);
  const root = diskFiles(officialDir);
  if (await root.exists('hart.json')) throw new Error(`${resolve(officialDir)} is already a HART.js model folder (it has hart.json)`);
  if (!(await root.exists('llm/config.json'))) throw new Error(`${resolve(officialDir)} is not an official HART folder: llm/config.json is missing`);
  if (!(await root.exists('tokenizer/config.json'))) throw new Error(`${resolve(officialDir)} is not an official HART folder: tokenizer/config.json is missing`);
  if (resolve(officialDir) === out) throw new Error('the output folder must differ from the source folder');
  if ((await exists(out)) && !options.force) throw new Error(`${out} already exists; remove it or pass --force to replace it`);

  const jobs: PartJob[] = [];
  try {
    // Everything is checked before anything is written.
    const tok = await tokenizerJob(root, storage);
    jobs.push(tok.job);
    const int4Rule = options.int4Rule ?? defaultInt4Rule;
    const tr = await transformerJob(root, storage, tok.cfg, int4Rule);
    jobs.unshift(tr.job);
    tr.job.files['config.json'] = JSON.stringify(tr.configJson, null, 2) + '\n';
    tok.job.files['config.json'] = JSON.stringify(tok.outConfig, null, 2) + '\n';
    const te = options.textEncoder ? await textEncoderJob(options.textEncoder, storage, int4Rule) : null;
    if (te) {
      jobs.push(te.job);
      const dims = hartDims(tr.cfg);
      if (te.cfg.hidden_size !== dims.contextDim) throw new Error(`text encoder hidden_size ${te.cfg.hidden_size} != the transformer's context_dim ${dims.contextDim}`);
    }
    for (const j of jobs) {
      if (j.plan.keptFloat.length) log(`hart convert: ${j.folder}: ${j.plan.keptFloat.length} Linear weight(s) kept in float (K not a multiple of ${storage.blockSize}), e.g. ${j.plan.keptFloat[0]}`);
    }

    const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    const onSignal = () => { rmSync(tmp, { recursive: true, force: true }); process.exit(130); };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const parts: ConvertedPart[] = [];
    let bytes = 0;
    try {
      await mkdir(dirname(out), { recursive: true });
      await mkdir(tmp);
      for (const j of jobs) {
        const t1 = performance.now();
        const dir = join(tmp, j.folder);
        await mkdir(dir);
        log(`hart convert: ${j.folder}/ from ${j.source}: ${j.plan.tensors.length} tensors, ${(planBytes(j.plan.tensors) / 2 ** 20).toFixed(1)} MiB` +
          (j.plan.quantized.length ? `, ${j.plan.quantized.length} int4 Linear weights` : ''));
        let partBytes = await writePart(dir, j, storage);
        for (const [name, text] of Object.entries(j.files)) {
          await atomicWriteFile(join(dir, name), text);
          partBytes += new TextEncoder().encode(text).byteLength;
        }
        bytes += partBytes;
        parts.push({
          folder: j.folder, source: j.source, tensors: j.plan.tensors.length, bytes: partBytes, quantized: j.plan.quantized.length,
          dropped: summarizeDropped(j.dropped), keptFloat: j.plan.keptFloat, seconds: (performance.now() - t1) / 1000,
        });
      }
      const dims = hartDims(tr.cfg);
      const hartJson = {
        format: 'hart-js',
        format_version: 1,
        parts: Object.fromEntries(jobs.map((j) => [j.folder, j.folder])),
        resolution: dims.patchNums[dims.numScales - 1] * downsampleFactor(tok.cfg),
        patch_nums: dims.patchNums,
        context_token: tr.cfg.context_token,
        // sample.py's sampling defaults with the config's num_sampling_steps (modelDefaults), official names
        defaults: modelDefaults(undefined, tr.cfg),
        storage: {
          dtype: storage.dtype,
          quantization: storage.quantize === 'int4' ? { method: 'MatMulNBits', bits: 4, block_size: storage.blockSize, zero_points: true } : null,
        },
        sources: Object.fromEntries(jobs.map((j) => [j.folder, j.source])),
      };
      const hartText = JSON.stringify(hartJson, null, 2) + '\n';
      await atomicWriteFile(join(tmp, 'hart.json'), hartText);
      const card = modelCard({
        name: `HART ${basename(resolve(officialDir))} (HART.js)`, parts, storage,
        resolution: hartJson.resolution, patchNums: dims.patchNums,
        command: options.command ?? `hart convert ${officialDir} ${outDir} --dtype ${storage.dtype} --quantize ${storage.quantize}`,
      });
      await atomicWriteFile(join(tmp, 'MODEL_CARD.md'), card);
      bytes += hartText.length + new TextEncoder().encode(card).byteLength;

      if (await exists(out)) {
        // --force: swap the complete new folder in, then delete the old one
        const old = join(dirname(out), `.${basename(out)}.old-${process.pid}-${randomBytes(4).toString('hex')}`);
        await rename(out, old);
        await rename(tmp, out);
        await rm(old, { recursive: true, force: true });
      } else {
        await rename(tmp, out);
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    return { out, storage, parts, bytes, seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const j of jobs) await j.src.close().catch(() => {});
  }
}
