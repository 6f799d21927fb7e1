// The analytic FLOP counts of `hart bench generate` (bench/generate-flops.ts) against counts made
// by hand for the tiny fixture configuration (C 64, 2 blocks, 2 heads, SwiGLU hidden 256, T 8,
// context_dim 32, patch_nums 1,2,3,4,5,6,8, V 64, Cvae 8; diffusion width 64, depth 2; VQGAN ch 32,
// ch_mult 1,1,2,2,4, z 8) and a one-layer Qwen2; every product written out below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cachedTokens, decoderFlops, diffusionFlops, generationFlops, textEncoderFlops, tokenizerUpdateFlops, transformerStepFlops,
} from '../../bench/generate-flops.ts';
import { qwen2_1_5bConfig } from '../../src/models/text/index.ts';

const tiny = { C: 64, depth: 2, heads: 2, ffnHidden: 256, T: 8, contextDim: 32, patchNums: [1, 2, 3, 4, 5, 6, 8], V: 64, Cvae: 8 };

test('transformer step FLOPs: hand count for the tiny config', () => {
  // step 0: R = 2 rows, l = T = 8 tokens, S = 8 cached keys
  //   per block: linear 2·2·8·64·(3·64 + 64 + 3·256) = 2,097,152; attention 4·2·8·8·64 = 32,768
  //   2 blocks: 4,259,840; head 2·2·8·64·64 = 131,072; head_nm 2·2·64·128 = 32,768;
  //   context_embed 2·2·8·32·64 = 65,536
  assert.equal(transformerStepFlops(tiny, 0, 1), 4_259_840 + 131_072 + 32_768 + 65_536);
  // step 2 (pn 3): l = 9, S = 8 + 4 + 9 = 21
  //   per block: 2·2·9·64·1024 = 2,359,296 + 4·2·9·21·64 = 96,768 → ×2 = 4,912,128
  //   head 2·2·9·64·64 = 147,456; head_nm 32,768; word_embed 2·1·9·8·64 = 9,216
  assert.equal(cachedTokens(tiny, 2), 21);
  assert.equal(transformerStepFlops(tiny, 2, 1), 4_912_128 + 147_456 + 32_768 + 9_216);
});

test('tokenizer update FLOPs: φ conv, bicubic up, area down', () => {
  // si = 2: 8 planes; bicubic 3→8: 2·8·(3·3·8 + 8·3·8) = 4,224; φ 3×3 conv 8→8 at 8×8: 2·9·8·8·64 = 73,728;
  // area 8→4: 2·8·(8·8·4 + 4·8·4) = 6,144
  assert.equal(tokenizerUpdateFlops(tiny, 2, 1), 4_224 + 73_728 + 6_144);
  assert.equal(tokenizerUpdateFlops(tiny, 6, 1), 0, 'no update after the last scale');
});

test('diffusion FLOPs: 8 steps of the MLP on both CFG halves', () => {
  // per row and step: input_proj 2·8·64 = 1,024; time_embed 2·256·64 + 2·64·64 = 40,960;
  // cond_embed 2·64·64 = 8,192; 2 res blocks × (2·64·192 + 4·64·64) = 81,920; final 2·64·128 + 2·64·16 = 18,432
  const perRow = 1_024 + 40_960 + 8_192 + 81_920 + 18_432;
  // rows 2·64 = 128, 8 steps; condition word_embed 2·2·64·8·64 = 131,072
  assert.equal(diffusionFlops(tiny, { in_channels: 8, width: 64, depth: 2, z_channels: 64 }, 1, 8), 8 * 128 * perRow + 131_072);
});

test('VAE decoder FLOPs: hand count at 8×8 → 128×128', () => {
  const c3 = (cin: number, cout: number, hw: number) => 2 * 9 * cin * cout * hw;
  const c1 = (cin: number, cout: number, hw: number) => 2 * cin * cout * hw;
  const res = (cin: number, cout: number, hw: number) => c3(cin, cout, hw) + c3(cout, cout, hw) + (cin === cout ? 0 : c1(cin, cout, hw));
  const attn = (c: number, hw: number) => c1(c, 3 * c, hw) + 4 * hw * hw * c + c1(c, c, hw);
  const want = c3(8, 8, 64) // post_quant_conv
    + c3(8, 128, 64) + 2 * res(128, 128, 64) + attn(128, 64) // conv_in, mid
    + 3 * (res(128, 128, 64) + attn(128, 64)) + c3(128, 128, 256) // up.4 at 8×8, upsample to 16×16
    + res(128, 64, 256) + 2 * res(64, 64, 256) + c3(64, 64, 1024) // up.3, upsample to 32×32
    + 3 * res(64, 64, 1024) + c3(64, 64, 4096) // up.2, to 64×64
    + res(64, 32, 4096) + 2 * res(32, 32, 4096) + c3(32, 32, 16384) // up.1, to 128×128
    + 3 * res(32, 32, 16384) + c3(32, 3, 16384); // up.0, conv_out
  assert.equal(want, 3_961_724_928);
  assert.equal(decoderFlops({ ch: 32, ch_mult: [1, 1, 2, 2, 4], z_channels: 8, quant_conv_ks: 3 }, 8, 8, 1), want);
});

test('text encoder FLOPs: one Qwen2 layer by hand', () => {
  const q = { ...qwen2_1_5bConfig(), hidden_size: 16, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, intermediate_size: 32, num_hidden_layers: 1 };
  // L = 4: q 2·4·16·16 = 2,048; k+v 2·4·16·16 = 2,048; o 2,048; mlp 6·4·16·32 = 12,288; scores+values 4·16·2·8 = 1,024
  assert.equal(textEncoderFlops(q, 4, 1), 19_456);
  assert.equal(textEncoderFlops(q, 4, 3), 3 * 19_456);
  // after a 6-token cached prefix: the projections and MLP on the 4 tokens, their scores and values over 10 keys
  assert.equal(textEncoderFlops(q, 4, 1, 6), 19_456 - 1_024 + 4 * 4 * 10 * 2 * 8);
});

test('generation total is the sum of its stages; the released model is ~57 TFLOP per image', () => {
  const g = generationFlops({
    transformer: tiny, diffusion: { in_channels: 8, width: 64, depth: 2, z_channels: 64 },
    decoder: { ch: 32, ch_mult: [1, 1, 2, 2, 4], z_channels: 8, quant_conv_ks: 3 }, B: 1, diffusionSteps: 8,
  });
  assert.equal(g.total, g.text_encoder + g.scales.reduce((a, b) => a + b, 0) + g.diffusion + g.decode);
  const full = { C: 1536, depth: 24, heads: 24, ffnHidden: 4096, T: 300, contextDim: 1536, patchNums: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64], V: 4096, Cvae: 32 };
  const f = generationFlops({
    transformer: full, diffusion: { in_channels: 32, width: 1024, depth: 6, z_channels: 1536 },
    decoder: { ch: 160, ch_mult: [1, 1, 2, 2, 4], z_channels: 32, quant_conv_ks: 3 }, B: 1, diffusionSteps: 8,
    text: { config: qwen2_1_5bConfig(), tokens: 432 },
  });
  // the last scale: 24 blocks × (linear 2·8192·1536·18432 + attention 4·8192·9750·1536) + head 2·8192·1536·4096 + …
  assert.ok(Math.abs(f.scales_transformer[13] - 23.014e12) < 0.001e12, String(f.scales_transformer[13]));
  assert.ok(f.total > 56e12 && f.total < 58e12, String(f.total));
});
