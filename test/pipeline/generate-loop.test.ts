// The whole generation loop against the official autoregressive_infer_cfg run recorded in the
// fixture: arg-max choices (the fixture forced top-k 1), cfg 4.5 on the official ramp, the
// recorded diffusion noise replayed; final f_hat and image must match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { diskFiles } from '../../src/io/file-access.node.ts';
import { loadHart } from '../../src/pipeline/load.ts';
import { runGeneration } from '../../src/pipeline/generate-loop.ts';
import { resolveOptions } from '../../src/pipeline/options.ts';
import { fixtureDir } from '../fixtures.ts';
import { float32, maxAbsDiff, tensor } from '../tables/reference.ts';

const runtime = nodeRuntime({ threads: 2 });

async function officialRun(weights?: string) {
  const parts = await loadHart(diskFiles(fixtureDir()), runtime);
  const ctx = tensor('ctx.context');
  const pos = tensor('ctx.context_position_ids');
  const [B, T] = pos.shape;
  const positionIds = Array.from({ length: B }, (_, b) => Array.from(pos.data.subarray(b * T, (b + 1) * T)));
  const recordedNoise = (draw: number, rows: number, channels: number) =>
    float32(`rng.infer.${String(2 + draw).padStart(2, '0')}.randn`).slice(0, rows * channels);
  const steps: number[] = [];
  const images = await runGeneration(parts, {
    context: { dtype: 'float32', shape: ctx.shape, data: Float32Array.from(ctx.data) }, positionIds,
  }, {
    ...resolveOptions(B, { cfg: 4.5, temperature: 0, moreSmooth: false }),
    hooks: { diffusionNoise: recordedNoise },
    onProgress: (e) => { if (e.stage === 'scale') steps.push(e.step); },
  });
  void weights;
  return { parts, images, steps };
}

test('generation loop reproduces the official inference run (EMA weights from llm/ema_model.bin)', async () => {
  const { parts, images, steps } = await officialRun();
  assert.equal(parts.transformerWeights, 'llm/ema_model.bin');
  assert.deepEqual(steps, [0, 1, 2, 3, 4, 5]);
  const want = float32('infer.image');
  const got = new Float32Array(want.length);
  images.forEach((im, b) => got.set(im.data, b * im.data.length));
  const err = maxAbsDiff(got, want);
  assert.ok(err < 1e-3, `image max |Δ| ${err}`);
  console.log(`# infer.image max |Δ| = ${err.toExponential(2)}`);
});
