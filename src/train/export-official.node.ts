// `hart export <model> <dir> --official`: a HART.js model folder → the official checkpoint layout,
// so the official PyTorch code (sample.py / HARTForT2I.from_pretrained + load_state_dict(strict))
// loads a model trained here:
//   llm/config.json          HARTForT2IConfig fields + model_type "hart_transformer_t2i"
//   llm/model.safetensors    the transformer + diffloss state dict, buffers included
//                            (lvl_1L, attn_bias_for_masking, blocks.*.attn.zero_k_bias)
//   llm/ema_model.bin        the same tensors as torch.save writes them (zip + pickle)
//   tokenizer/config.json    HARTAutoEncoderWithDiscConfig fields (model_type "hart_autoencoder_with_disc")
//   tokenizer/model.safetensors  vae.* (+ the vae.quantize.ema_vocab_hit_SV buffer); no disc.*
//                            (HF from_pretrained tolerates the missing discriminator)
//   text_encoder/            the Qwen2 text encoder folder as it is (HF layout)
// Weights are written in float32 (half-precision folders are widened exactly). The folder is
// built beside its destination and renamed into place.
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { diskFiles } from '../io/file-access.node.ts';
import { readJson } from '../io/file-access.ts';
import { atomicWriteFile, readTensorFile, writeSafetensorsFile } from '../io/files.node.ts';
import { toFloat32, type Tensor as IoTensor } from '../io/dtypes.ts';
import { torchSave } from '../io/torch-save.ts';
import { parseHartJson } from '../pipeline/hart-json.ts';
import { hartDims, parseHartConfig } from '../models/transformer/config.ts';
import { levelIds } from '../models/transformer/sequence.ts';
import { parseTokenizerConfig } from '../models/tokenizer/config.ts';

function f32(t: IoTensor): IoTensor {
  if (t.dtype === 'float32' || !(t.dtype === 'float16' || t.dtype === 'bfloat16')) return t;
  return { dtype: 'float32', shape: t.shape, data: toFloat32(t.dtype, t.data) };
}

export async function exportOfficial(modelDir: string, outDir: string, o: { force?: boolean } = {}): Promise<void> {
  const files = diskFiles(modelDir);
  if (!(await files.exists('hart.json'))) throw new Error(`${modelDir} is not a HART.js model folder (no hart.json)`);
  const hj = parseHartJson(await readJson(files, 'hart.json'), join(modelDir, 'hart.json'));
  const tdir = join(modelDir, hj.parts.transformer), kdir = join(modelDir, hj.parts.tokenizer);
  const cfg = parseHartConfig(await readJson(files.sub(hj.parts.transformer), 'config.json'));
  const tokCfg = parseTokenizerConfig(await readJson(files.sub(hj.parts.tokenizer), 'config.json'));
  if (tokCfg.norm_groups !== 32) {
    throw new Error(`${join(kdir, 'config.json')}: norm_groups ${tokCfg.norm_groups} is a HART.js extension; the official code always uses 32 GroupNorm groups, so this tokenizer cannot be exported in the official layout`);
  }
  const d = hartDims(cfg);

  const llm = new Map<string, IoTensor>();
  for (const [k, v] of await readTensorFile(join(tdir, 'model.safetensors'))) llm.set(k, f32(v));
  const C = cfg.embed_dim;
  for (let i = 0; i < cfg.depth; i++) if (!llm.has(`blocks.${i}.attn.zero_k_bias`)) llm.set(`blocks.${i}.attn.zero_k_bias`, { dtype: 'float32', shape: [C], data: new Float32Array(C) });
  const S = d.seqLen;
  const lvl = levelIds(d);
  llm.set('lvl_1L', { dtype: 'int64', shape: [1, S], data: BigInt64Array.from(lvl, (v) => BigInt(v)) });
  const bias = new Float32Array(S * S);
  for (let q = 0; q < S; q++) for (let k = 0; k < S; k++) bias[q * S + k] = lvl[q] >= lvl[k] ? 0 : -Infinity;
  llm.set('attn_bias_for_masking', { dtype: 'float32', shape: [1, 1, S, S], data: bias });
  const sorted = new Map([...llm].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

  const tok = new Map<string, IoTensor>();
  for (const [k, v] of await readTensorFile(join(kdir, 'model.safetensors'))) tok.set(k.startsWith('vae.') ? k : `vae.${k}`, f32(v));
  const SV = [tokCfg.v_patch_nums.length, tokCfg.vocab_size];
  if (!tok.has('vae.quantize.ema_vocab_hit_SV')) tok.set('vae.quantize.ema_vocab_hit_SV', { dtype: 'float32', shape: SV, data: new Float32Array(SV[0] * SV[1]) });

  const tmp = join(dirname(outDir), `.${basename(outDir)}.${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await mkdir(join(tmp, 'llm'), { recursive: true });
    await mkdir(join(tmp, 'tokenizer'), { recursive: true });
    const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;
    await writeFile(join(tmp, 'llm', 'config.json'), json({ architectures: ['HARTForT2I'], model_type: 'hart_transformer_t2i', ...cfg, vae_path: null }));
    await writeSafetensorsFile(join(tmp, 'llm', 'model.safetensors'), sorted, { format: 'pt' });
    const chunks = torchSave(sorted, 'ema_model');
    await atomicWriteFile(join(tmp, 'llm', 'ema_model.bin'), async (write) => { for (const c of chunks) await write(c); });
    const { model_type: _m, norm_groups: _g, ...tokRest } = tokCfg;
    await writeFile(join(tmp, 'tokenizer', 'config.json'), json({ architectures: ['HARTAutoEncoderWithDisc'], model_type: 'hart_autoencoder_with_disc', ...tokRest }));
    await writeSafetensorsFile(join(tmp, 'tokenizer', 'model.safetensors'), tok, { format: 'pt' });
    if (hj.parts.text_encoder) await cp(join(modelDir, hj.parts.text_encoder), join(tmp, 'text_encoder'), { recursive: true });
    try {
      await rename(tmp, outDir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && o.force) {
        await rm(outDir, { recursive: true, force: true });
        await rename(tmp, outDir);
      } else if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new Error(`${outDir} already exists (use --force to replace it)`);
      } else throw e;
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The `hart export` command. */
export async function exportCommand(model: string, out: string, opts: { official?: boolean; force?: boolean }): Promise<void> {
  if (!opts.official) throw new Error('hart export writes the official layout: pass --official');
  await exportOfficial(model, out, { force: opts.force });
  process.stderr.write(`hart: wrote ${out} (llm/, tokenizer/${''}, text_encoder/) in the official layout\n`);
}
