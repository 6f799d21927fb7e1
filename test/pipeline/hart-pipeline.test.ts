// HartPipeline behaviour on the parity model: progress events with coarse-to-fine previews,
// cancellation through AbortSignal, the Gumbel-smooth path, and option validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { diskFiles } from '../../src/io/file-access.node.ts';
import { HartPipeline } from '../../src/pipeline/hart-pipeline.ts';
import { resolveOptions } from '../../src/pipeline/options.ts';
import type { PreviewEvent } from '../../src/pipeline/progress.ts';
import { fixtureDir } from '../fixtures.ts';
import { tensor } from '../tables/reference.ts';

const runtime = nodeRuntime({ threads: 2 });
let pipe: HartPipeline | undefined;
async function pipeline() {
  pipe ??= await HartPipeline.fromPretrained(diskFiles(fixtureDir()), { runtime });
  return pipe;
}
function context() {
  const ctx = tensor('ctx.context'), pos = tensor('ctx.context_position_ids');
  const [B, T] = pos.shape;
  return {
    context: { dtype: 'float32' as const, shape: ctx.shape, data: Float32Array.from(ctx.data) },
    positionIds: Array.from({ length: B }, (_, b) => Array.from(pos.data.subarray(b * T, (b + 1) * T))),
  };
}

test('one progress event per scale with previews that grow coarse to fine, then diffusion/decode/done', async () => {
  const events: PreviewEvent[] = [];
  const images = await (await pipeline()).generateFromContext(context(), { previews: true, seed: 5, onProgress: (e) => { events.push(e); } });
  assert.equal(images.length, 2);
  assert.deepEqual(events.map((e) => e.stage), ['scale', 'scale', 'scale', 'scale', 'scale', 'scale', 'diffusion', 'decode', 'done']);
  const sizes = events.filter((e) => e.stage === 'scale').map((e) => e.previews![0].width);
  assert.deepEqual(sizes, [16, 32, 48, 64, 80, 96]); // patch_nums 1..6 × 16, capped at 8 latents
  for (const e of events) for (const p of e.previews ?? []) assert.ok(p.data.every((v) => v >= 0 && v <= 1));
});

test('loading reports each step once, in order, to its total (weights read, each graph compiled)', async () => {
  const own = nodeRuntime({ threads: 1 });
  const seen: { done: number; total: number; what: string }[] = [];
  const p = await HartPipeline.fromPretrained(diskFiles(fixtureDir()), { runtime: own, onLoadProgress: (e) => { seen.push(e); } });
  const total = seen[0].total;
  assert.deepEqual(seen.map((e) => e.done), Array.from({ length: total }, (_, i) => i + 1));
  assert.ok(seen.every((e) => e.total === total && e.what.length > 0));
  assert.equal(total, 2 + 3 + p.model.transformer.segmentCount + 1);
  assert.match(seen[0].what, /^read llm\//);
  await p.dispose();
  await own.dispose();
});

test('an aborted signal stops the generation with an AbortError', async () => {
  const ac = new AbortController();
  let scales = 0;
  await assert.rejects((await pipeline()).generateFromContext(context(), {
    signal: ac.signal, onProgress: (e) => { if (e.stage === 'scale' && ++scales === 2) ac.abort(); },
  }), (e: Error) => e.name === 'AbortError');
  assert.equal(scales, 2);
});

test('the Gumbel-smooth path gives a different, valid image; hard path is seed-deterministic', async () => {
  const p = await pipeline();
  const smooth = await p.generateFromContext(context(), { seed: 9, moreSmooth: true });
  const hard1 = await p.generateFromContext(context(), { seed: 9, moreSmooth: false });
  const hard2 = await p.generateFromContext(context(), { seed: 9, moreSmooth: false });
  assert.deepEqual(hard1[0].data, hard2[0].data);
  assert.notDeepEqual(smooth[0].data, hard1[0].data);
  assert.ok(smooth[0].data.every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
});

test('options are validated with messages naming the option', () => {
  assert.throws(() => resolveOptions(1, { cfg: Number.NaN }), /cfg NaN/);
  assert.throws(() => resolveOptions(2, { seeds: [1] }), /seeds has 1 entries for 2 prompts/);
  assert.throws(() => resolveOptions(1, { seed: -1 }), /seed -1/);
  assert.throws(() => resolveOptions(1, { topK: 0 }), /topK 0/);
  assert.throws(() => resolveOptions(1, { topP: 2 }), /topP 2/);
  assert.throws(() => resolveOptions(1, { diffusionSteps: 0 }), /diffusionSteps 0/);
  assert.throws(() => resolveOptions(1, { steps: 8 } as never), /unknown generate option "steps"/);
  assert.deepEqual(resolveOptions(3, { seed: 10 }).seeds, [10, 11, 12]);
});

test('single-shot frees the transformer before decoding, gives the same image, and refuses a second run', async () => {
  const rt = nodeRuntime({ threads: 2 });
  const once = await HartPipeline.fromPretrained(diskFiles(fixtureDir()), { runtime: rt, singleShot: true });
  const a = await once.generateFromContext(context(), { seed: 11, moreSmooth: false });
  const b = await (await pipeline()).generateFromContext(context(), { seed: 11, moreSmooth: false });
  assert.deepEqual(a[0].data, b[0].data);
  await assert.rejects(once.generateFromContext(context(), { seed: 11 }), /single-shot pipeline has already generated/);
  assert.equal(once.model.transformer.promptCacheUse.maxBytes, 0, 'a single-shot pipeline keeps no prompt');
  await rt.dispose();
});
