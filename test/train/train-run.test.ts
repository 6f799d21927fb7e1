// `hart train` end to end on a tiny recipe (scenes only): both stages run, a model folder comes
// out that the pipeline loads and generates from, and a run stopped part-way (in the transformer
// stage) and resumed ends bitwise equal to the uninterrupted run (with self-correction's swaps, so
// their draws resume too); recipe errors name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../src/train/train.node.ts';
import { parseRecipe, stageFingerprint } from '../../src/train/recipe.ts';
import { loadHartPipeline } from '../../src/index.node.ts';

const recipe = {
  name: 'tiny-test',
  seed: 3,
  resolution: 64,
  patch_nums: [1, 2, 4, 8],
  data: { emoji: 0, scenes: 1 },
  tokenizer: {
    config: { quantizer_type: 'var_hybrid', vocab_size: 64, z_channels: 4, ch: 32, ch_mult: [1, 1, 2, 2] },
    steps: 2, batch: 2, lr: 1e-3, warmup: 1, dead_code_every: 1,
  },
  text_encoder: { config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 } },
  transformer: {
    config: {
      context_token: 10, depth: 1, embed_dim: 32, num_heads: 2, attn_type: 'llama', mlp_type: 'llama', disable_aln: true,
      use_timestep_embed: true, use_context_norm: true, diff_width: 32, diff_depth: 1, num_sampling_steps: '2',
    },
    steps: 3, batch: 2, lr: 1e-3, warmup: 1, kept_last: 40, ema: 0.5, self_correction: 0.5,
  },
  decoder: { steps: 2, batch: 2, lr: 1e-3 },
  checkpoint_every: 100,
  sample_every: 0,
  sample_prompts: [],
};
const text = JSON.stringify(recipe);

test('a recipe trains both stages, writes a loadable model folder, and a resumed run equals the uninterrupted one bitwise', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hart-train-'));
  try {
    const quiet = { quiet: true, emoji: null, threads: 2 } as const;
    const a = await runTraining(recipe, text, { ...quiet, run: join(root, 'straight') });
    assert.equal(a.stopped, 'finished');
    // 2 tokenizer steps + 1 transformer step, then stop; resume for the rest
    const b1 = await runTraining(recipe, text, { ...quiet, run: join(root, 'resumed'), maxSteps: 3 });
    assert.deepEqual([b1.stopped, b1.stage, b1.step], ['max-steps', 'transformer', 1]);
    await assert.rejects(runTraining(recipe, text, { ...quiet, run: join(root, 'resumed') }), /--resume/);
    const b2 = await runTraining(recipe, text, { ...quiet, run: join(root, 'resumed'), resume: true });
    assert.equal(b2.stopped, 'finished');
    for (const part of ['transformer', 'tokenizer', 'text_encoder']) {
      const x = await readFile(join(a.modelDir!, part, 'model.safetensors'));
      const y = await readFile(join(b2.modelDir!, part, 'model.safetensors'));
      assert.ok(x.equals(y), `${part} weights differ between the straight and the resumed run`);
    }
    const ck = [await readFile(join(root, 'straight', 'checkpoint-decoder-2.safetensors')), await readFile(join(root, 'resumed', 'checkpoint-decoder-2.safetensors'))];
    assert.ok(ck[0].equals(ck[1]), 'final checkpoints (weights, moments, EMA) differ');
    // the log records every step of both stages
    const lines = (await readFile(join(root, 'straight', 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => `${l.stage}:${l.step}`), ['tokenizer:0', 'tokenizer:1', 'transformer:0', 'transformer:1', 'transformer:2', 'decoder:0', 'decoder:1']);
    // stage 3 trained only the decoder: the encoder and codebook equal the tokenizer stage's
    const { readTensorFile } = await import('../../src/io/files.node.ts');
    const stage1 = await readTensorFile(join(root, 'straight', 'tokenizer.safetensors'));
    const final = await readTensorFile(join(a.modelDir!, 'tokenizer', 'model.safetensors'));
    for (const k of ['quantize.embedding.weight', 'encoder.conv_in.weight']) assert.deepEqual(Array.from(final.get(k)!.data as Float32Array), Array.from(stage1.get(k)!.data as Float32Array), k);
    assert.notDeepEqual(Array.from(final.get('decoder.conv_out.weight')!.data as Float32Array), Array.from(stage1.get('decoder.conv_out.weight')!.data as Float32Array));
    // the model folder generates
    const pipe = await loadHartPipeline(a.modelDir!, { threads: 2 });
    const { images } = await pipe.generate(['a red circle'], { seed: 1 });
    assert.equal(images[0].width, 64);
    assert.ok(images[0].data.every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
    await pipe.dispose();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('recipe errors name the field', () => {
  assert.throws(() => parseRecipe({ ...recipe, extra: 1 }), /unknown field "extra"/);
  assert.throws(() => parseRecipe({ ...recipe, tokenizer: { ...recipe.tokenizer, lr: 'fast' } }), /tokenizer\.lr must be a number/);
  assert.throws(() => parseRecipe({ ...recipe, resolution: 32 }), /last patch num 8 must be resolution/);
  assert.throws(() => parseRecipe({ ...recipe, transformer: { ...recipe.transformer, config: { ...recipe.transformer.config, depht: 2 } } }), /transformer\.config: .*depht/);
  assert.throws(() => parseRecipe({ ...recipe, defaults: { cfg_schedule: 'cosine' } }), /defaults: "cfg_schedule" must be one of "linear", "constant"/);
  // the bounds hart.json is read with (a recipe once accepted a top_k its own model folder refused)
  assert.throws(() => parseRecipe({ ...recipe, defaults: { top_k: 2 ** 31 } }), /defaults: "top_k" must be/);
  assert.throws(() => parseRecipe({ ...recipe, defaults: { cfg: 1, guidance: 2 } }), /defaults: unknown field "guidance"/);
  assert.equal(parseRecipe({ ...recipe, defaults: { cfg: 1, cfg_schedule: 'constant' } }).defaults.cfg_schedule, 'constant');
  assert.equal(parseRecipe({ ...recipe, defaults: {} }).defaults.cfg_schedule, 'linear');
});

test('a non-finite loss stops the run with a clear message and keeps the last good checkpoint', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hart-nan-'));
  try {
    const small = {
      ...recipe, resolution: 16, patch_nums: [1, 2, 4, 8], checkpoint_every: 1,
      tokenizer: { ...recipe.tokenizer, config: { ...recipe.tokenizer.config, ch_mult: [1, 2] }, steps: 5 },
    };
    const batches = (_stage: string, step: number, size: number) => ({
      images: new Float32Array(size * 3 * 16 * 16).fill(step === 2 ? Number.NaN : 0.5),
      captions: new Array(size).fill('a red circle'),
    });
    await assert.rejects(
      runTraining(small, JSON.stringify(small), { run: join(root, 'run'), quiet: true, emoji: null, threads: 1, batches, captions: ['a red circle'] }),
      /tokenizer step 3: the loss is NaN; stopping\. The last good checkpoint \(step 2\) is kept/,
    );
    const state = JSON.parse(await readFile(join(root, 'run', 'checkpoint.json'), 'utf8'));
    assert.deepEqual([state.stage, state.step], ['tokenizer', 2]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a recipe with init starts from a model folder: its tokenizer kept (0 steps), its transformer and text encoder as the starting weights; transformer.trained "text_encoder" keeps the transformer frozen', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hart-init-'));
  try {
    const quiet = { quiet: true, emoji: null, threads: 2 } as const;
    const { decoder: _d, ...noDecoder } = recipe;
    const base = { ...noDecoder, transformer: { ...recipe.transformer, steps: 2 } };
    const a = await runTraining(base, JSON.stringify(base), { ...quiet, run: join(root, 'base'), dtype: 'float16' });
    // lr 0 and no weight decay: one step leaves every weight (and its EMA) where init put it
    const cont = {
      ...noDecoder, name: 'tiny-continued', init: a.modelDir!,
      tokenizer: { ...recipe.tokenizer, steps: 0 },
      transformer: { ...recipe.transformer, steps: 1, lr: 0, warmup: 0, weight_decay: 0 },
    };
    const b = await runTraining(cont, JSON.stringify(cont), { ...quiet, run: join(root, 'cont') });
    assert.equal(b.stopped, 'finished');
    const { readTensorFile } = await import('../../src/io/files.node.ts');
    const { float16ToFloat32Array } = await import('../../src/io/dtypes.ts');
    for (const part of ['tokenizer', 'transformer', 'text_encoder']) {
      const from = await readTensorFile(join(a.modelDir!, part, 'model.safetensors'));
      const to = await readTensorFile(join(b.modelDir!, part, 'model.safetensors'));
      assert.deepEqual([...to.keys()].sort(), [...from.keys()].sort(), part);
      for (const [k, t] of from) {
        assert.equal(t.dtype, 'float16', `${part} ${k} stored as float16`);
        assert.deepEqual(Array.from(to.get(k)!.data as Float32Array), Array.from(float16ToFloat32Array(t.data as Uint16Array)), `${part} ${k}`);
      }
    }
    // transformer.trained "text_encoder": the transformer and its diffusion head stay as init gave them, the text encoder learns
    const initCopy = join(root, 'init-copy');
    await cp(a.modelDir!, initCopy, { recursive: true });
    const textOnly = { ...cont, name: 'tiny-text-only', init: initCopy, transformer: { ...cont.transformer, steps: 2, lr: 1e-2, warmup: 0, ema: 0, trained: 'text_encoder' } };
    const c = await runTraining(textOnly, JSON.stringify(textOnly), { ...quiet, run: join(root, 'text-only') });
    assert.equal(c.stopped, 'finished');
    // stopped and resumed: the same text encoder; resumed after the init folder's transformer changed: refused
    const cut = async (run: string) => {
      const r = await runTraining(textOnly, JSON.stringify(textOnly), { ...quiet, run: join(root, run), maxSteps: 1 });
      assert.deepEqual([r.stopped, r.stage, r.step], ['max-steps', 'transformer', 1]);
    };
    await cut('text-only-resumed');
    const c2 = await runTraining(textOnly, JSON.stringify(textOnly), { ...quiet, run: join(root, 'text-only-resumed'), resume: true });
    const te = async (dir: string) => readFile(join(dir, 'text_encoder', 'model.safetensors'));
    assert.ok((await te(c.modelDir!)).equals(await te(c2.modelDir!)), 'the resumed text-only run differs from the uninterrupted one');
    await cut('text-only-changed');
    const trPath = join(initCopy, 'transformer', 'model.safetensors');
    const changed = await readTensorFile(trPath);
    const w = changed.get('blocks.0.attn.proj.weight')!;
    (w.data as Uint16Array)[0] ^= 1;
    const { writeSafetensorsFile } = await import('../../src/io/files.node.ts');
    await writeSafetensorsFile(trPath, changed);
    // (the run's fingerprint covers the init folder's weights: the frozen ones are re-read from it)
    await assert.rejects(runTraining(textOnly, JSON.stringify(textOnly), { ...quiet, run: join(root, 'text-only-changed'), resume: true }), /was started with a different recipe/);
    const trFrom = await readTensorFile(join(a.modelDir!, 'transformer', 'model.safetensors'));
    const trTo = await readTensorFile(join(c.modelDir!, 'transformer', 'model.safetensors'));
    assert.deepEqual([...trTo.keys()].sort(), [...trFrom.keys()].sort());
    for (const [k, t] of trFrom) assert.deepEqual(Array.from(trTo.get(k)!.data as Float32Array), Array.from(float16ToFloat32Array(t.data as Uint16Array)), `transformer ${k} frozen`);
    const teFrom = await readTensorFile(join(a.modelDir!, 'text_encoder', 'model.safetensors'));
    const teTo = await readTensorFile(join(c.modelDir!, 'text_encoder', 'model.safetensors'));
    const moved = [...teFrom].filter(([k, t]) => {
      const from = float16ToFloat32Array(t.data as Uint16Array);
      return (teTo.get(k)!.data as Float32Array).some((v, i) => v !== from[i]);
    });
    assert.ok(moved.length > 0, 'the text encoder learnt');
    assert.throws(() => parseRecipe({ ...recipe, transformer: { ...recipe.transformer, trained: 'text_encoder' } }), /transformer\.trained "text_encoder" needs init/);
    assert.throws(() => parseRecipe({ ...textOnly, transformer: { ...textOnly.transformer, trained: 'head' } }), /transformer\.trained must be "all" or "text_encoder"/);
    assert.deepEqual(stageFingerprint(parseRecipe({ ...cont, transformer: { ...cont.transformer, trained: 'all' } }), 'transformer'), stageFingerprint(parseRecipe(cont), 'transformer'));
    const sources = JSON.parse(await readFile(join(b.modelDir!, 'hart.json'), 'utf8')).sources;
    assert.deepEqual(sources.init, { from: a.modelDir, lineage: [{ recipe: 'tiny-test', steps: { tokenizer: 2, transformer: 2 } }] });
    // a folder of other sizes is refused before any training, naming the field
    const wider = { ...cont, transformer: { ...cont.transformer, config: { ...cont.transformer.config, embed_dim: 64 } } };
    await assert.rejects(runTraining(wider, JSON.stringify(wider), { ...quiet, run: join(root, 'wider') }), /init: transformer\/config\.json "embed_dim" is 32, the recipe's is 64/);
    // so is a caption tokenizer built from other data
    await assert.rejects(runTraining(cont, JSON.stringify(cont), { ...quiet, run: join(root, 'caps'), captions: ['a red circle'] }), /caption tokenizer differs/);
    await assert.rejects(runTraining({ ...cont, init: join(root, 'nothing') }, '{}', { ...quiet, run: join(root, 'none') }), /init: cannot read .*nothing/);
    assert.throws(() => parseRecipe({ ...cont, init: '' }), /init must be the path of a model folder/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('init_grow "depth": a deeper transformer starts from a shallower folder as the same function (added blocks are identities); "vocab": a larger codebook keeps the old codes and head rows; text_encoder.init "embeddings" zeroes the text layers\' outputs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hart-grow-'));
  try {
    const quiet = { quiet: true, emoji: null, threads: 2 } as const;
    const { decoder: _d, ...noDecoder } = recipe;
    const base = { ...noDecoder, transformer: { ...recipe.transformer, steps: 2 } };
    const a = await runTraining(base, JSON.stringify(base), { ...quiet, run: join(root, 'base') });
    const grown = {
      ...noDecoder, name: 'tiny-grown', init: a.modelDir!, init_grow: 'depth',
      tokenizer: { ...recipe.tokenizer, steps: 0 },
      transformer: { ...recipe.transformer, config: { ...recipe.transformer.config, depth: 3 }, steps: 1, lr: 0, warmup: 0, weight_decay: 0 },
    };
    const b = await runTraining(grown, JSON.stringify(grown), { ...quiet, run: join(root, 'grown') });
    assert.equal(b.stopped, 'finished');
    const { readTensorFile } = await import('../../src/io/files.node.ts');
    const w = await readTensorFile(join(b.modelDir!, 'transformer', 'model.safetensors'));
    const old = await readTensorFile(join(a.modelDir!, 'transformer', 'model.safetensors'));
    assert.deepEqual(Array.from(w.get('blocks.0.attn.qkv_proj.weight')!.data as Float32Array), Array.from(old.get('blocks.0.attn.qkv_proj.weight')!.data as Float32Array));
    for (const j of [1, 2]) {
      assert.ok((w.get(`blocks.${j}.attn.proj.weight`)!.data as Float32Array).every((v) => v === 0), `block ${j} attention output zero`);
      assert.ok((w.get(`blocks.${j}.ffn.down_proj.weight`)!.data as Float32Array).every((v) => v === 0), `block ${j} MLP output zero`);
      assert.ok((w.get(`blocks.${j}.attn.qkv_proj.weight`)!.data as Float32Array).some((v) => v !== 0), `block ${j} attention inputs initialised`);
    }
    // the grown model draws the very same image as the folder it grew from
    const images: Float32Array[] = [];
    for (const dir of [a.modelDir!, b.modelDir!]) {
      const pipe = await loadHartPipeline(dir, { threads: 1 });
      images.push((await pipe.generate(['a red circle'], { seed: 5 })).images[0].data);
      await pipe.dispose();
    }
    assert.deepEqual(Array.from(images[1]), Array.from(images[0]));
    // a shallower recipe than the folder, or init_grow without init, is refused
    const shallow = { ...grown, transformer: { ...base.transformer, config: { ...base.transformer.config, depth: 1 } } };
    await assert.rejects(runTraining({ ...grown, init: b.modelDir!, transformer: shallow.transformer }, '{}', { ...quiet, run: join(root, 'shallow') }),
      /init_grow: .* has depth 3; the recipe's depth 1 must be at least that/);
    const { init: _i, ...noInit } = grown;
    assert.throws(() => parseRecipe(noInit), /init_grow needs init/);
    assert.throws(() => parseRecipe({ ...grown, init_grow: 'width' }), /init_grow must be "depth" or "vocab"/);

    // init_grow "vocab": 64 → 96 codes; the old codebook and head rows are kept, the added head
    // biases start at the least old one, and the run trains on the grown vocabulary
    const wide = {
      ...noDecoder, name: 'tiny-wide', init: a.modelDir!, init_grow: 'vocab',
      tokenizer: { ...recipe.tokenizer, config: { ...recipe.tokenizer.config, vocab_size: 96 }, steps: 0 },
      transformer: { ...recipe.transformer, steps: 1, lr: 0, warmup: 0, weight_decay: 0 },
    };
    const c = await runTraining(wide, JSON.stringify(wide), { ...quiet, run: join(root, 'wide') });
    assert.equal(c.stopped, 'finished');
    const tokOld = await readTensorFile(join(a.modelDir!, 'tokenizer', 'model.safetensors'));
    const tokNew = await readTensorFile(join(c.modelDir!, 'tokenizer', 'model.safetensors'));
    const wNew = await readTensorFile(join(c.modelDir!, 'transformer', 'model.safetensors'));
    const f32 = (t: { data: unknown; dtype: string }) => Array.from(t.data as Float32Array);
    assert.deepEqual(tokNew.get('quantize.embedding.weight')!.shape, [96, 4]);
    assert.deepEqual(f32(tokNew.get('quantize.embedding.weight')!).slice(0, 64 * 4), f32(tokOld.get('quantize.embedding.weight')!));
    assert.deepEqual(wNew.get('head.weight')!.shape, [96, 32]);
    assert.deepEqual(f32(wNew.get('head.weight')!).slice(0, 64 * 32), f32(old.get('head.weight')!));
    const oldBias = f32(old.get('head.bias')!);
    assert.deepEqual(f32(wNew.get('head.bias')!), [...oldBias, ...new Array(32).fill(Math.min(...oldBias))]);
    // a smaller vocabulary than the folder's is refused
    const narrow = { ...wide, tokenizer: { ...wide.tokenizer, config: { ...recipe.tokenizer.config, vocab_size: 32 } } };
    await assert.rejects(runTraining(narrow, '{}', { ...quiet, run: join(root, 'narrow') }),
      /init_grow: .* has vocab_size 64; the recipe's 32 must be at least that/);

    // text_encoder.init "embeddings": the text layers start as identities (output projections zero),
    // the word embeddings and the rest as in the folder; refused without init or with another value
    const words = {
      ...noDecoder, name: 'tiny-words', init: a.modelDir!,
      tokenizer: { ...recipe.tokenizer, steps: 0 },
      text_encoder: { ...recipe.text_encoder, init: 'embeddings' },
      transformer: { ...recipe.transformer, steps: 1, lr: 0, warmup: 0, weight_decay: 0 },
    };
    const e = await runTraining(words, JSON.stringify(words), { ...quiet, run: join(root, 'words') });
    assert.equal(e.stopped, 'finished');
    const teOld = await readTensorFile(join(a.modelDir!, 'text_encoder', 'model.safetensors'));
    const teNew = await readTensorFile(join(e.modelDir!, 'text_encoder', 'model.safetensors'));
    for (const k of ['layers.0.self_attn.o_proj.weight', 'layers.0.mlp.down_proj.weight']) {
      assert.ok(f32(teOld.get(k)!).some((v) => v !== 0), `${k} trained in the folder`);
      assert.ok(f32(teNew.get(k)!).every((v) => v === 0), `${k} zero`);
    }
    for (const k of ['embed_tokens.weight', 'layers.0.self_attn.q_proj.weight', 'layers.0.mlp.up_proj.weight', 'norm.weight']) {
      assert.deepEqual(f32(teNew.get(k)!), f32(teOld.get(k)!), `${k} kept`);
    }
    const { init: _wi, ...wordsNoInit } = words;
    assert.throws(() => parseRecipe(wordsNoInit), /text_encoder.init "embeddings" needs init/);
    assert.throws(() => parseRecipe({ ...words, text_encoder: { ...recipe.text_encoder, init: 'layers' } }), /text_encoder.init must be "all" or "embeddings"/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
