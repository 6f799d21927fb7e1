// Smoke test of `hart bench generate --config tiny`: the command runs the fixture model end to end
// and ends with one JSON line holding every stage's seconds, GFLOP/s, ratio to the MatMul peak,
// the FLOP floor and memory; --scales stops early and still times diffusion and decode (standalone),
// labelling the skipped scales as extrapolated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { measureGenerate } from '../../bench/generate.ts';
import { SIZE_PATCH_NUMS } from '../../bench/generate-setup.ts';
import { generationFlops } from '../../bench/generate-flops.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('hart bench generate --config tiny --json: the last line is the JSON report', () => {
  const r = spawnSync(process.execPath, ['bin/hart.mjs', 'bench', 'generate', '--config', 'tiny', '--json', '--threads', '1', '--repeat', '1', '--precision', 'float32,int8', '--prompt-repeat'],
    { cwd: repo, encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length > 5, 'human-readable lines come first');
  const j = JSON.parse(lines.at(-1)!);
  assert.equal(j.config, 'tiny');
  assert.equal(j.complete, true);
  assert.equal(j.seconds.scales.length, 7);
  for (const k of ['text_encoder', 'diffusion', 'decode', 'total']) assert.ok(j.seconds[k] > 0, `seconds.${k}`);
  for (const k of ['text_encoder', 'diffusion', 'decode', 'transformer', 'total']) assert.ok(j.ratio_to_peak[k] > 0, `ratio_to_peak.${k}`);
  assert.ok(j.ratio_to_peak.scales.every((v: number) => v > 0));
  assert.ok(j.matmul_gflops > 0 && j.floor_seconds > 0);
  // (the printed seconds are rounded to ms: the tiny floor is only a few of them)
  assert.ok(Math.abs(j.pipeline_vs_floor - j.seconds.total / j.floor_seconds) < 0.05 * j.pipeline_vs_floor);
  assert.ok(j.rss_gib.peak > 0 && j.rss_gib.scales.length === 7 && j.rss_gib.decode.peak_gib > 0);
  assert.equal(j.extrapolated, undefined);
  // cold (compiled, written to a fresh model cache) and warm (from it) loads
  // (rounded to 0.1 s: a warm load of the tiny model can print 0)
  for (const k of ['hart_cold', 'hart_warm', 'text_encoder_cold', 'text_encoder_warm', 'text_encoder_prefix']) assert.ok(Number.isFinite(j.load_seconds[k]) && j.load_seconds[k] >= 0, `load_seconds.${k}`);
  assert.ok(j.load_events.from_disk_cache > 0, 'the warm load came from the disk cache');
  // precision modes: the first is the reference; the other generates the same image once
  assert.deepEqual(Object.keys(j.precision), ['float32', 'int8']);
  assert.equal(j.precision.float32.image_max_abs_diff, 0);
  assert.ok(j.precision.int8.seconds > 0 && j.precision.int8.image_max_abs_diff >= 0 && j.precision.int8.image_max_abs_diff <= 1);
  assert.ok(j.precision.int8.psnr_db === null || j.precision.int8.psnr_db > 0);
  assert.equal(j.size, 128);
  // the first prompt again (the prompt cache's hit): timed beside the new prompt, whose text encoder it skips
  const pr = j.prompt_repeat;
  assert.ok(pr.new_prompt_seconds > pr.text_encoder_seconds && pr.same_prompt_seconds > 0);
  assert.ok(Math.abs(pr.ratio - pr.same_prompt_seconds / pr.new_prompt_seconds) < 0.01);
  for (const k of ['scale0_transformer_seconds_new', 'scale0_transformer_seconds_same']) assert.ok(pr[k] >= 0, k);
});

test('--size: the official 256 / 512 px schedules of the 0.7B configuration', () => {
  for (const [size, pns] of Object.entries(SIZE_PATCH_NUMS)) assert.equal(pns.at(-1)! * 16, Number(size));
  const shape = (pns: number[]) => ({ C: 1536, depth: 24, heads: 24, ffnHidden: 4096, T: 300, contextDim: 1536, patchNums: pns, V: 4096, Cvae: 32 });
  const total = (pns: number[]) => generationFlops({
    transformer: shape(pns), diffusion: { in_channels: 32, width: 1024, depth: 6, z_channels: 1536 },
    decoder: { ch: 160, ch_mult: [1, 1, 2, 2, 4], z_channels: 32, quant_conv_ks: 3 }, B: 1, diffusionSteps: 8, guided: true,
  }).total;
  // the FLOP floor at 256 px ("3.6 TFLOP", text encoder excluded): the official schedule, not a prefix of the 1024 one
  assert.ok(Math.abs(total(SIZE_PATCH_NUMS[256]) / 1e12 - 3.55) < 0.01, String(total(SIZE_PATCH_NUMS[256])));
  assert.ok(total(SIZE_PATCH_NUMS[512]) / 1e12 > 10 && total(SIZE_PATCH_NUMS[512]) / 1e12 < 11.5);
});

test('--scales stops the loop; diffusion and decode run standalone; the rest is labelled as extrapolated', async () => {
  const j = await measureGenerate({ config: 'tiny', threads: '1', repeat: '1', scales: '3', quiet: true }) as Record<string, any>;
  assert.equal(j.complete, false);
  assert.equal(j.scales_run, 3);
  assert.equal(j.seconds.scales.length, 3);
  assert.deepEqual(j.standalone, { diffusion: true, decode: true });
  assert.ok(j.seconds.diffusion > 0 && j.seconds.decode > 0);
  assert.equal(j.extrapolated.scales_seconds.length, 4);
  assert.match(j.extrapolated.method, /NOT measured/);
});
