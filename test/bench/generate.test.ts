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

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('hart bench generate --config tiny --json: the last line is the JSON report', () => {
  const r = spawnSync(process.execPath, ['bin/hart.mjs', 'bench', 'generate', '--config', 'tiny', '--json', '--threads', '1', '--repeat', '1'],
    { cwd: repo, encoding: 'utf8', timeout: 120_000 });
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
