// hart.json: validated strictly; a converted folder's patch_nums must agree with its transformer;
// its sampling defaults become the pipeline's defaults (explicit options still win).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHartJson } from '../../src/pipeline/hart-json.ts';
import { resolveOptions } from '../../src/pipeline/options.ts';
import { convertHart } from '../../src/convert/convert.node.ts';
import { diskFiles } from '../../src/io/file-access.node.ts';
import { loadHart } from '../../src/pipeline/load.ts';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { fixtureDir } from '../fixtures.ts';
import { HartPipeline } from '../../src/pipeline/hart-pipeline.ts';
import { demoTextEncoder } from '../../src/pipeline/demo-text-encoder.ts';

const tmp = mkdtempSync(join(tmpdir(), 'hart-json-test-'));
const runtime = nodeRuntime({ threads: 2 });
after(async () => { rmSync(tmp, { recursive: true, force: true }); await runtime.dispose(); });

const valid = {
  format: 'hart-js', format_version: 1, parts: { transformer: 'transformer', tokenizer: 'tokenizer' },
  resolution: 128, patch_nums: [1, 2, 3, 4, 5, 6, 8], context_token: 8, defaults: { cfg: 3 },
};

test('parseHartJson rejects malformed files with the field named', () => {
  assert.equal(parseHartJson(valid).defaults.cfg, 3);
  assert.equal(parseHartJson(valid).defaults.diffusion_steps, undefined); // from the transformer config at load
  assert.throws(() => parseHartJson({ ...valid, colour: 1 }), /unknown field "colour"/);
  assert.throws(() => parseHartJson({ ...valid, format_version: 2 }), /format_version 2 is not supported/);
  assert.throws(() => parseHartJson({ ...valid, parts: { transformer: '../x', tokenizer: 't' } }), /plain folder name/);
  assert.throws(() => parseHartJson({ ...valid, patch_nums: [1, 0] }), /patch_nums/);
  assert.throws(() => parseHartJson({ ...valid, defaults: { cfg: 1, steps: 3 } }), /hart.json: defaults: unknown field "steps"/);
  assert.throws(() => parseHartJson([]), /JSON object/);
  assert.equal(parseHartJson({ ...valid, precision: 'int8' }).precision, 'int8');
  assert.throws(() => parseHartJson({ ...valid, precision: 'bf16' }), /precision/);
});

test('a converted folder loads with its hart.json; its defaults apply, explicit options win', async () => {
  const out = join(tmp, 'conv');
  await convertHart(fixtureDir(), out);
  const hj = JSON.parse(readFileSync(join(out, 'hart.json'), 'utf8'));
  hj.defaults.cfg = 2.5;
  writeFileSync(join(out, 'hart.json'), JSON.stringify(hj));
  const model = await loadHart(diskFiles(out), runtime);
  assert.equal(model.hartJson?.defaults.cfg, 2.5);
  assert.equal(resolveOptions(1, {}, model.hartJson?.defaults).cfg, 2.5);
  assert.equal(resolveOptions(1, { cfg: 6 }, model.hartJson?.defaults).cfg, 6);
  hj.patch_nums = [1, 2, 3];
  writeFileSync(join(out, 'hart.json'), JSON.stringify(hj));
  await assert.rejects(loadHart(diskFiles(out), runtime), /patch_nums\/context_token disagree/);
});

test('hart.json precision is the model\'s default matrix precision; the pipeline option overrides it', async () => {
  const out = join(tmp, 'prec');
  await convertHart(fixtureDir(), out);
  const image = async (precision?: 'float32' | 'dynq8') => {
    const pipe = await HartPipeline.fromPretrained(diskFiles(out), { runtime, textEncoder: () => demoTextEncoder(runtime), precision });
    const r = await pipe.generate('a prompt', { seed: 2 });
    await pipe.dispose();
    return Array.from(r.images[0].data);
  };
  const f32 = await image();
  const q = await image('dynq8');
  assert.notDeepEqual(q, f32, 'dynq8 changes the numbers (else this test proves nothing)');
  const hj = JSON.parse(readFileSync(join(out, 'hart.json'), 'utf8'));
  writeFileSync(join(out, 'hart.json'), JSON.stringify({ ...hj, precision: 'dynq8' }));
  assert.deepEqual(await image(), q, 'the model folder\'s precision is the default');
  assert.deepEqual(await image('float32'), f32, 'an explicit precision wins');
});
