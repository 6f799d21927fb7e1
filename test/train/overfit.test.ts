// A tiny HART (16 px, 8×8 latent) trained by `hart train` on two captioned scenes memorises them:
// generating from each caption (arg-max tokens) reproduces its own picture — nearer to it than to
// the other one, and close in PSNR. This checks the whole training path end to end: the
// tokenizer's VQ and straight-through gradients, the transformer's cross-entropy under the
// block-causal mask, the diffusion loss, the jointly trained text encoder and the model folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../src/train/train.node.ts';
import { loadHartPipeline } from '../../src/index.node.ts';
import { makeScene, sceneSpec } from '../../src/train/data/scenes.ts';

const R = 16;

/** Scene i of the train split, box-averaged from 64 px to 16 px, as [3, 16, 16] in [−1, 1]. */
function scene16(i: number): { image: Float32Array; caption: string } {
  const s = makeScene(5, 'train', i);
  const out = new Float32Array(3 * R * R);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < R; y++)
      for (let x = 0; x < R; x++) {
        let acc = 0;
        for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) acc += s.rgb[((y * 4 + dy) * 64 + x * 4 + dx) * 3 + c];
        out[c * R * R + y * R + x] = acc / 16 / 127.5 - 1;
      }
  return { image: out, caption: s.caption };
}

test('a tiny HART trained on two captioned scenes generates each one back from its caption', async () => {
  // two single-object scenes of different colours
  const picks: number[] = [];
  for (let i = 0; picks.length < 2 && i < 400; i++) {
    const sc = sceneSpec(5, 'train', i);
    if (sc.category === 'single' && (picks.length === 0 || !sc.caption.includes(sceneSpec(5, 'train', picks[0]).objects[0].colour))) picks.push(i);
  }
  const data = picks.map(scene16);
  const recipe = {
    name: 'overfit', seed: 11, resolution: R, patch_nums: [1, 2, 4, 8],
    data: { emoji: 0, scenes: 1 },
    tokenizer: {
      config: { quantizer_type: 'var_hybrid', vocab_size: 32, z_channels: 4, ch: 32, ch_mult: [1, 2] },
      steps: 150, batch: 2, lr: 3e-3, warmup: 5, min_lr: 1e-3, skip_continuous_prob: 0.5, dead_code_every: 25,
    },
    text_encoder: { config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2 } },
    transformer: {
      config: {
        context_token: 6, depth: 2, embed_dim: 64, num_heads: 2, attn_type: 'llama', mlp_type: 'llama', disable_aln: true,
        use_timestep_embed: true, use_context_norm: true, diff_width: 64, diff_depth: 2, num_sampling_steps: '4',
      },
      steps: 300, batch: 2, lr: 3e-3, warmup: 5, min_lr: 1e-3, cond_drop: 0, kept_last: 64, ema: 0,
    },
    checkpoint_every: 1000, sample_every: 0, sample_prompts: [],
    defaults: { cfg: 1, temperature: 0, more_smooth: false },
  };
  const root = await mkdtemp(join(tmpdir(), 'hart-overfit-'));
  try {
    const batches = (_stage: string, step: number, size: number) => {
      const images = new Float32Array(size * 3 * R * R);
      const captions: string[] = [];
      for (let b = 0; b < size; b++) {
        const d = data[(step + b) % 2];
        images.set(d.image, b * 3 * R * R);
        captions.push(d.caption);
      }
      return { images, captions };
    };
    const r = await runTraining(recipe, JSON.stringify(recipe), {
      run: join(root, 'run'), quiet: true, threads: 2, emoji: null, batches, captions: data.map((d) => d.caption),
    });
    const pipe = await loadHartPipeline(r.modelDir!, { threads: 2 });
    const { images } = await pipe.generate(data.map((d) => d.caption), { seed: 1 });
    await pipe.dispose();
    const mse = (img: Float32Array, ref: Float32Array) => {
      let s = 0;
      for (let k = 0; k < ref.length; k++) s += (img[k] - (ref[k] + 1) / 2) ** 2;
      return s / ref.length;
    };
    for (let i = 0; i < 2; i++) {
      const own = mse(images[i].data, data[i].image), other = mse(images[i].data, data[1 - i].image);
      const psnr = -10 * Math.log10(own);
      console.log(`  "${data[i].caption}": PSNR vs its scene ${psnr.toFixed(1)} dB, MSE own ${own.toFixed(4)} vs other ${other.toFixed(4)}`);
      assert.ok(own < other / 2, `"${data[i].caption}" is not nearer its own scene (${own} vs ${other})`);
      assert.ok(psnr > 15, `"${data[i].caption}": PSNR ${psnr.toFixed(1)} dB`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
