// stageClock (src/pipeline/progress.ts): a generation's progress events become the seconds of each
// stage, as `hart eval`'s latency and bench/latency-stages.ts report them; coarseStages sums them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coarseStages, stageClock, type PreviewEvent } from '../../src/pipeline/progress.ts';

test('stageClock: each event ends the stage before it; text is what precedes the loop', () => {
  const c = stageClock();
  const ev = (stage: PreviewEvent['stage'], step: number, elapsed: number): PreviewEvent => ({ stage, step, total: 3, elapsed });
  // three scales end at 0.1, 0.3 (step 1's event) … the diffusion event ends scale 2, then decode, then done
  for (const e of [ev('scale', 0, 0.1), ev('scale', 1, 0.3), ev('diffusion', 3, 0.6), ev('decode', 3, 0.7), ev('done', 3, 0.75)]) c.onProgress(e);
  const s = c.stages(0.8);
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  assert.deepEqual(Object.keys(s), ['text', 'scale_0', 'scale_1', 'scale_2', 'diffusion', 'decode']);
  near(s.text, 0.05); near(s.scale_0, 0.1); near(s.scale_1, 0.2); near(s.scale_2, 0.3); near(s.diffusion, 0.1); near(s.decode, 0.05);
  const coarse = coarseStages(s);
  near(coarse.scales, 0.6); near(coarse.text + coarse.scales + coarse.diffusion + coarse.decode, 0.8);
});
