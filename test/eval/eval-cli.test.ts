// `hart eval --json` and `hart plot-log` end to end through the real binary, on a model folder
// trained here by a tiny recipe (one step per stage, scenes only), with --n 4 and one emoji set:
// every figure of issue 8 is present and in range, the ablation and the goals are reported, the
// real emoji retrieve themselves (a check of the Lab gallery), and bad flags are one-line errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import { runTraining } from '../../src/train/train.node.ts';

const BIN = resolve(fileURLToPath(new URL('../../bin/hart.mjs', import.meta.url)));
const recipe = {
  name: 'tiny-eval', seed: 3, resolution: 64, patch_nums: [1, 2, 4, 8], data: { emoji: 0, scenes: 1 },
  tokenizer: { config: { quantizer_type: 'var_hybrid', vocab_size: 64, z_channels: 4, ch: 32, ch_mult: [1, 1, 2, 2] }, steps: 1, batch: 2, lr: 1e-3, warmup: 1 },
  text_encoder: { config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 } },
  transformer: {
    config: {
      context_token: 16, depth: 1, embed_dim: 32, num_heads: 2, attn_type: 'llama', mlp_type: 'llama', disable_aln: true,
      use_timestep_embed: true, use_context_norm: true, diff_width: 32, diff_depth: 1, num_sampling_steps: '2',
    },
    steps: 1, batch: 2, lr: 1e-3, warmup: 1, kept_last: 40, ema: 0.5,
  },
  checkpoint_every: 100, sample_every: 0, sample_prompts: [],
};

let root = '', model = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hart-eval-'));
  const r = await runTraining(recipe as never, JSON.stringify(recipe), { quiet: true, emoji: null, threads: 2, run: join(root, 'run') });
  model = r.modelDir!;
});
after(() => rm(root, { recursive: true, force: true }));

function hart(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
}

test('hart eval --json: one JSON object last, with every figure, the ablation, latency and the goals', () => {
  const r = hart(['eval', '--model', model, '--n', '4', '--emoji-sets', 'twitter', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length > 5, 'human-readable lines come first');
  assert.match(r.stdout, /tokenizer on held-out emoji/);
  const j = JSON.parse(lines[lines.length - 1]);
  for (const k of ['tokenizer_psnr_discrete', 'tokenizer_psnr_hybrid', 'tokenizer_ssim_discrete', 'tokenizer_ssim_hybrid']) {
    assert.ok(Number.isFinite(j[k]), `${k} = ${j[k]}`);
  }
  assert.deepEqual(Object.keys(j.tokenizer), ['emoji_heldout', 'scenes_heldout']);
  assert.equal(j.tokenizer.emoji_heldout.n, 4);
  // the checker on the tokenizer's own reconstructions (the ceiling for generated scenes)
  for (const k of ['scenes_accuracy_tokenizer_hybrid', 'scenes_accuracy_tokenizer_discrete']) assert.ok(j[k] >= 0 && j[k] <= 1, `${k} = ${j[k]}`);
  const unit = (v: number) => v >= 0 && v <= 1;
  for (const m of [j, j.ablation]) {
    assert.ok(unit(m.scenes_accuracy));
    assert.deepEqual(Object.keys(m.scenes_accuracy_per_category), ['single', 'counting', 'two_objects', 'position']);
    for (const k of ['emoji_retrieval_top1', 'emoji_retrieval_top5', 'emoji_retrieval_lab_top1', 'emoji_retrieval_lab_top5', 'emoji_retrieval_net_top1', 'emoji_retrieval_net_top5']) assert.ok(unit(m[k]), k);
    assert.ok(m.emoji_retrieval_top5 >= m.emoji_retrieval_top1);
    assert.ok(unit(m.emoji_retrieval_plain_top1) && unit(m.emoji_retrieval_plain_top5) && m.emoji_retrieval_plain_top5 >= m.emoji_retrieval_plain_top1);
    assert.ok(m.emoji_retrieval_plain_n > 0 && m.emoji_retrieval_plain_n <= j.n, `plain n ${m.emoji_retrieval_plain_n}`);
    // binomial standard errors beside the proportions (at most 0.5/√n; a retrieval's is 0 only at 0 or 1)
    for (const k of ['scenes_accuracy', 'emoji_retrieval_top1', 'emoji_retrieval_top5']) assert.ok(m[`${k}_se`] >= 0 && m[`${k}_se`] <= 0.5, `${k}_se = ${m[`${k}_se`]}`);
    for (const k of ['emoji_retrieval_top1', 'emoji_retrieval_top5']) assert.equal(m[`${k}_se`] === 0, m[k] === 0 || m[k] === 1, `${k}_se = ${m[`${k}_se`]} for ${m[k]}`);
    assert.ok(Number.isFinite(m.kid_emoji_train) && Number.isFinite(m.kid_emoji_heldout));
  }
  assert.equal(j.ablation.residual_diffusion, false);
  // the sampling defaults the figures were made with: the trained model's hart.json
  const hj = JSON.parse(readFileSync(join(model, 'hart.json'), 'utf8'));
  assert.equal(j.sampling.cfg, hj.defaults.cfg);
  assert.equal(j.sampling.cfg_schedule, hj.defaults.cfg_schedule ?? 'linear');
  assert.equal(j.sampling.diffusion_steps, hj.defaults.diffusion_steps);
  // the ground-truth emoji are their own nearest neighbours in the RGB 8×8 gallery
  assert.equal(j.retrieval_reference.emoji_retrieval_real_top1, 1);
  assert.ok(j.latency_s > 0);
  const shares = Object.values(j.latency_stage_share as Record<string, number>);
  assert.deepEqual(Object.keys(j.latency_stage_share), ['text', 'scales', 'diffusion', 'decode']);
  assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.deepEqual(Object.keys(j.goals), ['tokenizer_psnr_hybrid', 'tokenizer_psnr_gain', 'scenes_accuracy', 'emoji_retrieval_top5', 'latency_s']);
  for (const g of Object.values(j.goals as Record<string, { goal: string; value: number; pass: boolean }>)) assert.equal(typeof g.pass, 'boolean');
  assert.equal(j.goals.scenes_accuracy.value, j.scenes_accuracy);
  assert.ok(typeof j.feature_spaces.emoji_retrieval === 'string' && typeof j.feature_spaces.kid === 'string');
});

test('hart plot-log renders the run log; bad eval flags are one-line errors', async () => {
  const r = hart(['plot-log', join(root, 'run'), '-o', join(root, 'loss.png')]);
  assert.equal(r.status, 0, r.stderr);
  const png = decode(await readFile(join(root, 'loss.png')));
  assert.ok(png.width > 500 && png.height > 150);
  for (const [args, msg] of [
    [['eval', '--model', model, '--n', 'many'], /--n many: expected an integer/],
    [['eval', '--model', model, '--emoji-sets', 'apple'], /--emoji-sets apple/],
    [['eval', '--model', join(root, 'nope')], /does not exist/],
    [['plot-log', join(root, 'nope'), '-o', join(root, 'x.png')], /no training log/],
  ] as const) {
    const e = hart([...args]);
    assert.notEqual(e.status, 0);
    assert.match(e.stderr, msg);
    assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
  }
});
