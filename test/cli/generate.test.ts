// `hart` end to end through the real binary (bin/hart.mjs in a child process), as a user sees it:
// PNGs with A1111 `parameters` and a UTF-8 iTXt prompt, seeds that reproduce, batch image b equal
// to seed + b alone, --no-metadata; every user error one line on stderr with a non-zero exit and
// nothing written (bad options, bad model folders, unwritable outputs); Ctrl-C stops cleanly.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, readdirSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../../src/io/png.ts';
import { fixtureDir } from '../fixtures.ts';

const BIN = resolve(fileURLToPath(new URL('../../bin/hart.mjs', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'hart-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** The embedded model's sampling defaults (read, not hard-coded: they change when the model is retrained). */
const DEFAULTS = JSON.parse(readFileSync(resolve(fileURLToPath(new URL('../../models/default/hart.json', import.meta.url))), 'utf8')).defaults;

function hart(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: non-zero exit, one line on stderr naming the problem, no stack trace. */
function userError(args: string[], message: RegExp) {
  const r = hart(args);
  assert.notEqual(r.status, 0, `hart ${args.join(' ')} succeeded`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `more than one line for hart ${args.join(' ')}:\n${r.stderr}`);
  assert.match(lines[0], message);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  return r;
}

test('generate: A1111 parameters + UTF-8 prompt; seeds reproduce; batch image b = seed + b alone; --no-metadata', { timeout: 180_000 }, () => {
  fixtureDir();
  // the embedded default model (64 px, 24 context tokens); the prompt is longer than 24 tokens
  const prompt = `a red circle, 猫 “quoted”${' and a blue square'.repeat(5)}`;
  const a = join(dir, 'a.png');
  let r = hart(['generate', prompt, '-o', a, '--seed', '3', '--threads', '2']);
  assert.equal(r.status, 0, r.stderr);
  // one progress line per stage when stderr is not a terminal
  for (const stage of ['load', 'text', 'scales', 'diffusion', 'decode']) assert.match(r.stderr, new RegExp(`^${stage} +\\[#+\\]`, 'm'));
  assert.match(r.stderr, /warning: the prompt is longer than the 24 tokens the model reads/);
  // words outside the model's caption vocabulary are named once, in the tokenizer's lower case
  assert.match(r.stderr, /^hart: note: the model's vocabulary has no "quoted", "猫" \(it reads those words letter by letter/m);
  const pa = decodePng(new Uint8Array(readFileSync(a)));
  assert.equal(pa.width, 64);
  const [first, settings] = pa.text.parameters.split('\n');
  assert.equal(first, prompt);
  assert.match(settings, new RegExp(`^Steps: 8, Sampler: HART, CFG scale: ${DEFAULTS.cfg}, Seed: 3, Size: 64x64, Model: hart-js-default, .*Version: hart-js \\d+\\.\\d+\\.\\d+$`));
  assert.doesNotMatch(pa.text.parameters, /\\u|\/work\//);
  assert.equal(pa.text.prompt, prompt);
  // the prompt chunk is iTXt holding UTF-8 bytes
  const raw = readFileSync(a);
  assert.ok(raw.includes(Buffer.concat([Buffer.from('iTXtprompt\0\0\0\0\0'), Buffer.from(prompt, 'utf8')])));

  const batch = join(dir, 'batch.png');
  r = hart(['generate', prompt, '-o', batch, '--seed', '3', '--batch', '2', '-q']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const alone4 = join(dir, 'alone4.png');
  r = hart(['generate', prompt, '-o', alone4, '--seed', '4', '--no-metadata', '-q']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(decodePng(new Uint8Array(readFileSync(join(dir, 'batch-1.png')))).rgb, pa.rgb, 'seed 3 twice differs');
  const p4 = decodePng(new Uint8Array(readFileSync(alone4)));
  assert.deepEqual(decodePng(new Uint8Array(readFileSync(join(dir, 'batch-2.png')))).rgb, p4.rgb);
  assert.deepEqual(p4.text, {}, '--no-metadata wrote text chunks');
  assert.notDeepEqual(p4.rgb, pa.rgb);
});

test('bad options: one line naming the option as typed, before any model loads', () => {
  const out = join(dir, 'bad.png');
  userError(['generate', 'x', '-o', out, '--cfg', 'abc'], /^hart: error: --cfg must be a number in \[0, 50\], got "abc"$/);
  userError(['generate', 'x', '-o', out, '--cfg', '-1'], /--cfg must be a number in \[0, 50\], got -1/);
  userError(['generate', 'x', '-o', out, '--cfg-schedule', 'ramp'], /^hart: error: --cfg-schedule must be one of linear, constant, got "ramp"$/);
  userError(['generate', 'x', '-o', out, '--top-k', '1.5'], /--top-k must be an integer in \[1, 2\^30\], got 1.5/);
  userError(['generate', 'x', '-o', out, '--top-p', '2'], /--top-p must be a number in \[0, 1\], got 2/);
  userError(['generate', 'x', '-o', out, '--steps', '0'], /--steps must be an integer in \[1, 1000\], got 0/);
  userError(['generate', 'x', '-o', out, '--batch', '0'], /--batch must be an integer in \[1, 64\], got 0/);
  userError(['generate', 'x', '-o', out, '--seed', '1.5'], /--seed must be an integer in \[0, 2\^53\), got 1.5/);
  userError(['generate', 'x', '-o', out, '--threads', 'many'], /--threads must be an integer/);
  userError(['generate', 'x', '-o', out, '--precision', 'bf16'], /^hart: error: --precision must be one of float32, int8, int4, dynq8, got "bf16"$/);
  userError(['generate', ' ', '-o', out], /give a prompt/);
  userError(['generate', 'x', '--bogus'], /^hart: error: unknown option '--bogus'$/);
  userError(['generat', 'x'], /^hart: error: unknown command 'generat' \(Did you mean generate\?\)$/);
  assert.ok(!existsSync(out));
});

test('bad model folders: one line naming the folder', () => {
  const out = join(dir, 'bad-model.png');
  userError(['generate', 'x', '-o', out, '--model', join(dir, 'nope')], /model folder .*nope does not exist/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  userError(['generate', 'x', '-o', out, '--model', empty], /is not a HART model folder: expected hart.json \(HART.js\) or llm\/config.json/);
  const badJson = join(dir, 'bad-json');
  mkdirSync(badJson);
  writeFileSync(join(badJson, 'hart.json'), '{"format": "hart-js",');
  userError(['generate', 'x', '-o', out, '--model', badJson], /hart\.json/);
  // the official layout with its weights missing: found when loading, still one line
  const noWeights = join(dir, 'no-weights');
  cpSync(fixtureDir(), noWeights, { recursive: true, filter: (p) => !p.endsWith('.bin') && !p.endsWith('model.safetensors') });
  userError(['generate', 'x', '-o', out, '--model', noWeights, '--text-encoder', noWeights], /text-encoder folder .* needs config.json and tokenizer.json/);
  userError(['info', '--model', noWeights], /llm.* has none of ema_model.bin/);
  userError(['generate', 'x', '-o', out, '--model', join(dir, 'bad-json', 'hart.json')], /is not a folder/);
  assert.ok(!existsSync(out));
});

test('unwritable outputs are refused before the model loads', () => {
  const folder = join(dir, 'taken.png');
  mkdirSync(folder, { recursive: true });
  userError(['generate', 'x', '-o', folder], /taken.png is a folder/);
  userError(['generate', 'x', '-o', join(dir, 'out.jpg')], /the output must be a .png file/);
  writeFileSync(join(dir, 'file'), 'x');
  userError(['generate', 'x', '-o', join(dir, 'file', 'sub', 'o.png')], /file is not a folder/);
  userError(['generate', 'x', '-o', '/proc/hart-test.png'], /cannot write in \/proc/);
  userError(['generate', 'x', '--preview-dir', '/proc/previews'], /--preview-dir .*cannot write in \/proc/);
});

test('--debug prints the stack trace', () => {
  const r = hart(['generate', 'x', '--model', join(dir, 'nope'), '--debug']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /UserError: model folder/);
  assert.match(r.stderr, /\n\s+at /);
});

test('hart info: name, parameter counts, config, defaults', () => {
  const r = hart(['info', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.name, 'hart-js-default');
  assert.deepEqual(info.config.patch_nums, [1, 2, 3, 4, 5, 6, 8]);
  assert.equal(info.config.resolution, 64);
  assert.equal(info.defaults.cfg, DEFAULTS.cfg);
  assert.ok(info.parameters.transformer > 0 && info.parameters.diffusion_head > 0 && info.parameters.tokenizer > 0);
  assert.ok(info.parameters.text_encoder > 0, 'the embedded model has its own text encoder');
  assert.equal(info.parameters.total, info.parameters.transformer + info.parameters.diffusion_head + info.parameters.tokenizer + info.parameters.text_encoder);
  const t = hart(['info']);
  assert.match(t.stdout, /^model +hart-js-default/m);
  assert.match(t.stdout, /^parameters +[\d.]+ [kMB] in all: transformer/m);
});

test('Ctrl-C: a clean exit (130), a one-line notice, no file and no temp file', { timeout: 120_000 }, async () => {
  const out = join(dir, 'ctrlc', 'o.png');
  const child = spawn(process.execPath, [BIN, 'generate', 'a prompt', '-o', out, '--batch', '6', '--threads', '1'], { cwd: dir });
  let err = '';
  const code = await new Promise<number | null>((done) => {
    child.stderr.on('data', (b) => {
      const before = err;
      err += b;
      // the load stage has ended: the generation is running
      if (!/^load /m.test(before) && /^load /m.test(err)) child.kill('SIGINT');
    });
    child.on('exit', (c) => done(c));
  });
  assert.equal(code, 130, err);
  assert.match(err, /Ctrl-C: stopping/);
  assert.match(err, /hart: cancelled; nothing was written/);
  assert.doesNotMatch(err, /\n\s+at /);
  assert.ok(!existsSync(out));
  assert.deepEqual(existsSync(join(dir, 'ctrlc')) ? readdirSync(join(dir, 'ctrlc')) : [], []);
});
