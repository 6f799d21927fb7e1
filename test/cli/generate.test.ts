// `hart generate` end to end on the demo model (random-weight parity model): PNG files with
// metadata, seeds that reproduce, batch images equal to the same seed made alone, clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCommand, outputPaths, type GenerateCliOptions } from '../../src/cli/generate.node.ts';
import { decodePng } from '../../src/io/png.ts';
import { fixtureDir } from '../fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'hart-cli-'));
const base: GenerateCliOptions = { output: '', moreSmooth: true, quiet: true, threads: '2' };

test('generate writes a PNG with its settings; the same seed gives the same image', async () => {
  fixtureDir();
  const a = join(dir, 'a.png'), b = join(dir, 'b.png'), c = join(dir, 'c.png');
  await generateCommand(['a red circle'], { ...base, output: a, seed: '7' });
  await generateCommand(['a red circle'], { ...base, output: b, seed: '7' });
  await generateCommand(['a red circle'], { ...base, output: c, seed: '8' });
  const pa = decodePng(new Uint8Array(readFileSync(a)));
  assert.equal(pa.width, 128);
  assert.equal(pa.text.prompt, 'a red circle');
  assert.equal(pa.text.seed, '7');
  assert.deepEqual(readFileSync(a), readFileSync(b));
  assert.notDeepEqual(decodePng(new Uint8Array(readFileSync(c))).rgb, pa.rgb);
});

test('image b of a batch equals the image made alone with its seed', async () => {
  const out = join(dir, 'batch.png');
  await generateCommand(['two stars'], { ...base, output: out, seed: '3', batch: '2' });
  const [p1, p2] = outputPaths(out, 2);
  const alone = join(dir, 'alone.png');
  await generateCommand(['two stars'], { ...base, output: alone, seed: '4' });
  assert.deepEqual(decodePng(new Uint8Array(readFileSync(p2))).rgb, decodePng(new Uint8Array(readFileSync(alone))).rgb);
  assert.ok(existsSync(p1));
});

test('bad input gives a clear error and writes nothing', async () => {
  const out = join(dir, 'bad.png');
  await assert.rejects(generateCommand([' '], { ...base, output: out }), /give a prompt/);
  await assert.rejects(generateCommand(['x'], { ...base, output: out, cfg: 'abc' }), /--cfg must be a number/);
  await assert.rejects(generateCommand(['x'], { ...base, output: out, cfg: '-1' }), /cfg -1 must be/);
  await assert.rejects(generateCommand(['x'], { ...base, output: out, batch: '0' }), /--batch must be in/);
  await assert.rejects(generateCommand(['x'], { ...base, output: out, seed: '1.5' }), /--seed must be an integer/);
  await assert.rejects(generateCommand(['x'], { ...base, output: out, model: dir }), /not a HART model folder/);
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), []);
});
