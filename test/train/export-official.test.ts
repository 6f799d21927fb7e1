// `hart export --official`: a model folder written by training becomes the official layout
// (llm/config.json, llm/model.safetensors, llm/ema_model.bin as torch.save writes it, tokenizer/),
// which our own official-layout loader reads back bitwise (the torch zip equals the safetensors,
// the weights equal the source folder's) and which generates the same image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecipe } from '../../src/train/recipe.ts';
import { buildTokenizerTrainGraph } from '../../src/train/tokenizer-train.ts';
import { buildTransformerTrainGraph } from '../../src/train/transformer-train.ts';
import { InitWeightStore } from '../../src/train/init.ts';
import { writeModelFolder } from '../../src/train/model-folder.node.ts';
import { exportOfficial } from '../../src/train/export-official.node.ts';
import { buildCaptionTokenizer } from '../../src/train/data/caption-tokenizer.ts';
import { parseQwen2Config } from '../../src/models/text/config.ts';
import { readTensorFile } from '../../src/io/files.node.ts';
import { crc32 } from '../../src/io/torch-save.ts';
import { toFloat32, type Tensor } from '../../src/io/dtypes.ts';
import { diskFiles, HartPipeline, nodeRuntime } from '../../src/index.node.ts';
import { hostTensor } from '../../src/runtime/host-tensor.ts';

const recipe = parseRecipe({
  name: 'export-test', seed: 4, resolution: 32, patch_nums: [1, 2, 4],
  data: { emoji: 0, scenes: 1 },
  tokenizer: { config: { quantizer_type: 'var_hybrid', vocab_size: 16, z_channels: 4, ch: 32, ch_mult: [1, 2, 2, 2] }, steps: 1, batch: 1, lr: 1e-3 },
  text_encoder: { config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2 } },
  transformer: {
    config: { context_token: 6, depth: 1, embed_dim: 32, num_heads: 2, attn_type: 'llama', mlp_type: 'llama', disable_aln: true, use_timestep_embed: true, use_context_norm: true, diff_width: 32, diff_depth: 1, num_sampling_steps: '3' },
    steps: 1, batch: 1, lr: 1e-3,
  },
  sample_prompts: [],
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('export --official: torch zip = safetensors, weights = the source folder, same image from both layouts', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hart-export-'));
  try {
    const cap = buildCaptionTokenizer(['a red circle', 'a blue square']);
    const textConfig = parseQwen2Config({ ...recipe.text_encoder.config, model_type: 'qwen2', vocab_size: cap.vocab.size });
    const tokStore = new InitWeightStore(1), trStore = new InitWeightStore(2, { depth: 1 });
    buildTokenizerTrainGraph(recipe.tokenizer.config, tokStore, { resolution: 32, patchNums: recipe.patch_nums });
    buildTransformerTrainGraph(recipe.transformer.config, textConfig, trStore, { Cvae: 4, vocabSize: 16, keptLast: 16 });
    const asIo = (m: Map<string, { dtype: string; shape: number[]; data: unknown }>) => m as unknown as Map<string, Tensor>;
    const src = join(root, 'model');
    await writeModelFolder(src, {
      recipe, textConfig, tokenizerWeights: asIo(tokStore.created), transformerWeights: asIo(trStore.created),
      tokenizerJson: cap.tokenizerJson, tokenizerConfig: cap.tokenizerConfig, modelCard: '# test\n', dtype: 'float16',
    });
    const out = join(root, 'official');
    // A tokenizer with HART.js's norm_groups extension has no official equivalent: refused, nothing written.
    const grouped = join(root, 'grouped');
    await writeModelFolder(grouped, {
      recipe: { ...recipe, tokenizer: { ...recipe.tokenizer, config: { ...recipe.tokenizer.config, norm_groups: 8 } } }, textConfig,
      tokenizerWeights: asIo(tokStore.created), transformerWeights: asIo(trStore.created),
      tokenizerJson: cap.tokenizerJson, tokenizerConfig: cap.tokenizerConfig, modelCard: '# test\n', dtype: 'float16',
    });
    assert.match(await readFile(join(grouped, 'tokenizer', 'config.json'), 'utf8'), /"norm_groups": 8/);
    assert.doesNotMatch(await readFile(join(src, 'tokenizer', 'config.json'), 'utf8'), /norm_groups/);
    await assert.rejects(exportOfficial(grouped, join(root, 'grouped-official')), /norm_groups 8 is a HART\.js extension/);
    await assert.rejects(readFile(join(root, 'grouped-official', 'llm', 'config.json')), /ENOENT/);
    await exportOfficial(src, out);
    await assert.rejects(exportOfficial(src, out), /already exists/);
    const st = await readTensorFile(join(out, 'llm', 'model.safetensors'));
    const bin = await readTensorFile(join(out, 'llm', 'ema_model.bin'));
    assert.deepEqual([...bin.keys()], [...st.keys()]);
    for (const [k, v] of st) {
      const b = bin.get(k)!;
      assert.equal(b.dtype, v.dtype, k);
      assert.deepEqual(b.shape, v.shape, k);
      assert.ok(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength)), `${k} differs between ema_model.bin and model.safetensors`);
    }
    const orig = await readTensorFile(join(src, 'transformer', 'model.safetensors'));
    for (const [k, v] of orig) assert.deepEqual(Array.from(st.get(k)!.data as Float32Array), Array.from(toFloat32(v.dtype, v.data)), k);
    for (const k of ['lvl_1L', 'attn_bias_for_masking', 'blocks.0.attn.zero_k_bias']) assert.ok(st.has(k), `missing buffer ${k}`);
    const cfg = JSON.parse(await readFile(join(out, 'llm', 'config.json'), 'utf8'));
    assert.equal(cfg.model_type, 'hart_transformer_t2i');
    const tok = await readTensorFile(join(out, 'tokenizer', 'model.safetensors'));
    assert.ok([...tok.keys()].every((k) => k.startsWith('vae.')));

    // both layouts, the same encoded context and settings → the same image, bit for bit
    const runtime = nodeRuntime({ threads: 1 });
    const T = 6, D = 32;
    const ctx = {
      context: hostTensor(Float32Array.from({ length: T * D }, (_, i) => Math.sin(i)), [1, T, D]),
      positionIds: [[0, 1, 2, 2, 2, 2]],
    };
    const settings = { seed: 3, cfg: 2, topK: 5, moreSmooth: false, diffusionSteps: 3 };
    const images: Float32Array[] = [];
    for (const dir of [src, out]) {
      const pipe = await HartPipeline.fromPretrained(diskFiles(dir), { runtime });
      images.push((await pipe.generateFromContext(ctx, settings))[0].data);
    }
    assert.equal(images[0].length, 3 * 32 * 32);
    assert.ok(images[0].every((v, i) => v === images[1][i]), 'the exported folder generates a different image');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
