// Sampling defaults come from the model folder (issue 8 item 3), for every layout: an official
// llm/ folder whose config.json says num_sampling_steps "4" runs 4 diffusion steps, and so does
// its converted HART.js folder; a hart.json without diffusion_steps takes the config's; hart.json
// values win; explicit options win over everything. Checked by counting the diffusion sampler's
// noise draws (independent of the resolved settings object).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertHart } from '../../src/convert/convert.node.ts';
import { diskFiles } from '../../src/io/file-access.node.ts';
import { HartPipeline } from '../../src/pipeline/hart-pipeline.ts';
import { modelDefaults } from '../../src/pipeline/options.ts';
import { modelInfo } from '../../src/cli/info.node.ts';
import { resolveModel } from '../../src/pipeline/default-model.node.ts';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { tensor } from '../tables/reference.ts';
import { fixtureDir } from '../fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'model-defaults-test-'));
const runtime = nodeRuntime({ threads: 2 });
after(async () => { rmSync(tmp, { recursive: true, force: true }); await runtime.dispose(); });

/** The fixture as an official folder whose transformer config says `steps` sampling steps. */
function officialFolder(steps: string): string {
  const dir = join(tmp, `official-${steps}`);
  mkdirSync(join(dir, 'llm'), { recursive: true });
  mkdirSync(join(dir, 'tokenizer'), { recursive: true });
  const cfg = JSON.parse(readFileSync(join(fixtureDir(), 'llm', 'config.json'), 'utf8'));
  cfg.num_sampling_steps = steps;
  writeFileSync(join(dir, 'llm', 'config.json'), JSON.stringify(cfg));
  cpSync(join(fixtureDir(), 'llm', 'model.safetensors'), join(dir, 'llm', 'model.safetensors'));
  cpSync(join(fixtureDir(), 'tokenizer', 'config.json'), join(dir, 'tokenizer', 'config.json'));
  symlinkSync(join(fixtureDir(), 'tokenizer', 'model.safetensors'), join(dir, 'tokenizer', 'model.safetensors'));
  return dir;
}

function context() {
  const ctx = tensor('ctx.context'), pos = tensor('ctx.context_position_ids');
  const [B, T] = pos.shape;
  return {
    context: { dtype: 'float32' as const, shape: ctx.shape, data: Float32Array.from(ctx.data) },
    positionIds: Array.from({ length: B }, (_, b) => Array.from(pos.data.subarray(b * T, (b + 1) * T))),
  };
}

/** Noise draws of the residual diffusion in one generation (one initial draw + one per step but the last). */
async function diffusionDraws(p: HartPipeline, options: { diffusionSteps?: number } = {}): Promise<number> {
  const draws = new Set<number>();
  const diffusionNoise = (draw: number, rows: number, channels: number) => { draws.add(draw); return new Float32Array(rows * channels); };
  await p.generateFromContext(context(), { seed: 3, moreSmooth: false, ...options, hooks: { diffusionNoise } });
  return draws.size;
}

test('modelDefaults: hart.json over the transformer config over sample.py', () => {
  assert.deepEqual(modelDefaults(undefined, { num_sampling_steps: '4' }), { cfg: 4.5, cfg_schedule: 'linear', top_k: null, top_p: 0, temperature: 1, diffusion_steps: 4, more_smooth: true });
  assert.equal(modelDefaults({ diffusion_steps: 6, cfg: 2 }, { num_sampling_steps: '4' }).diffusion_steps, 6);
  assert.equal(modelDefaults({ cfg: 2 }, { num_sampling_steps: '4' }).diffusion_steps, 4);
  assert.equal(modelDefaults({ more_smooth: false }, { num_sampling_steps: '8' }).more_smooth, false);
  assert.equal(modelDefaults({ cfg_schedule: 'constant' }, { num_sampling_steps: '8' }).cfg_schedule, 'constant');
});

test('an official folder whose config says 4 sampling steps runs 4 steps, and so does its converted folder', async () => {
  const official = officialFolder('4');
  const p = await HartPipeline.fromPretrained(diskFiles(official), { runtime });
  assert.equal(p.model.defaults.diffusion_steps, 4);
  const four = await diffusionDraws(p);
  // hart info reports the same defaults generation uses
  assert.equal((await modelInfo(await resolveModel(official, undefined, { requireTextEncoder: false }))).defaults.diffusion_steps, 4);
  assert.equal(four, await diffusionDraws(p, { diffusionSteps: 4 }));
  assert.notEqual(four, await diffusionDraws(p, { diffusionSteps: 8 }));

  const converted = join(tmp, 'converted-4');
  await convertHart(official, converted);
  const hj = JSON.parse(readFileSync(join(converted, 'hart.json'), 'utf8'));
  assert.equal(hj.defaults.diffusion_steps, 4);
  const c = await HartPipeline.fromPretrained(diskFiles(converted), { runtime });
  assert.equal(c.model.defaults.diffusion_steps, 4);
  assert.equal(await diffusionDraws(c), four);

  // a hart.json that leaves diffusion_steps out takes the config's; one that sets it wins
  delete hj.defaults.diffusion_steps;
  writeFileSync(join(converted, 'hart.json'), JSON.stringify(hj));
  assert.equal((await HartPipeline.fromPretrained(diskFiles(converted), { runtime })).model.defaults.diffusion_steps, 4);
  hj.defaults.diffusion_steps = 2;
  hj.defaults.more_smooth = false;
  writeFileSync(join(converted, 'hart.json'), JSON.stringify(hj));
  const two = await HartPipeline.fromPretrained(diskFiles(converted), { runtime });
  assert.deepEqual([two.model.defaults.diffusion_steps, two.model.defaults.more_smooth], [2, false]);
  assert.equal(await diffusionDraws(two), await diffusionDraws(p, { diffusionSteps: 2 }));
});

test('hart.json cfg_schedule: the model\'s schedule is used, an explicit option wins, a bad value is refused', async () => {
  const dir = join(tmp, 'converted-schedule');
  await convertHart(officialFolder('8'), dir);
  const hj = JSON.parse(readFileSync(join(dir, 'hart.json'), 'utf8'));
  assert.equal(hj.defaults.cfg_schedule, 'linear');
  const linear = await HartPipeline.fromPretrained(diskFiles(dir), { runtime });
  const image = async (p: HartPipeline, o: { cfgSchedule?: 'linear' | 'constant' } = {}) =>
    Array.from((await p.generateFromContext(context(), { seed: 5, moreSmooth: false, ...o }))[0].data);
  const lin = await image(linear), con = await image(linear, { cfgSchedule: 'constant' });
  assert.notDeepEqual(lin, con, 'the constant schedule changed nothing');
  hj.defaults.cfg_schedule = 'constant';
  writeFileSync(join(dir, 'hart.json'), JSON.stringify(hj));
  const constant = await HartPipeline.fromPretrained(diskFiles(dir), { runtime });
  assert.equal(constant.model.defaults.cfg_schedule, 'constant');
  assert.deepEqual(await image(constant), con);
  assert.deepEqual(await image(constant, { cfgSchedule: 'linear' }), lin);
  hj.defaults.cfg_schedule = 'cosine';
  writeFileSync(join(dir, 'hart.json'), JSON.stringify(hj));
  await assert.rejects(HartPipeline.fromPretrained(diskFiles(dir), { runtime }), /cfg_schedule/);
});
