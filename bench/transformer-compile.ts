// Cold compile time of the 0.7B transformer's step graph (random weights, empty model cache) per
// attention layout: head groups × query chunks set how many attention subgraphs each block holds
// (the defaults at 1024 px: 24 × 4), and ONNX Runtime's optimizer time grows faster than that
// count. Seconds from emitting to a ready session (drawing the random weights excluded): cold (an
// empty model cache) and warm (a new runtime on that cache: ONNX Runtime's optimized copy).
//   npx tsx bench/transformer-compile.ts [--depth 24] [--size 1024] [--variants g24-q1024,g12-q2048] [--threads 2]
// Run it alone; it is a load benchmark (compare variants within one run).
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { HartTransformer, parseHartConfig } from '../src/models/transformer/index.ts';
import { BenchWeightStore, fullTransformerConfig } from './random-models.ts';
import { SIZE_PATCH_NUMS } from './generate-setup.ts';

const { values } = parseArgs({
  options: {
    depth: { type: 'string', default: '24' }, size: { type: 'string', default: '1024' },
    variants: { type: 'string', default: 'g24-q1024,g12-q2048' }, threads: { type: 'string', default: '2' },
  },
});
const patch_nums = SIZE_PATCH_NUMS[Number(values.size)];
if (!patch_nums) throw new Error(`--size must be one of ${Object.keys(SIZE_PATCH_NUMS).join(', ')}`);
const tc = parseHartConfig({ ...fullTransformerConfig(), depth: Number(values.depth), patch_nums });
console.log(`transformer depth ${values.depth} at ${values.size} px, ${values.threads} threads`);
for (const v of values.variants!.split(',')) {
  const m = /^g(\d+)-q(\d+)$/.exec(v);
  if (!m) throw new Error(`variant ${v}: expected g<head groups>-q<query chunk>`);
  const dir = mkdtempSync(join(tmpdir(), 'hart-compile-'));
  try {
    const times: string[] = [];
    for (const load of ['cold', 'warm']) {
      // warm: a new runtime on the same cache folder, as a second process would load
      const rt = nodeRuntime({ threads: Number(values.threads), modelCache: { dir } });
      const store = new BenchWeightStore(1);
      const t = performance.now();
      await HartTransformer.fromWeights(tc, store, rt, { headGroups: Number(m[1]), queryChunk: Number(m[2]), vocabSize: 4096, Cvae: 32 });
      times.push(`${load} ${((performance.now() - t) / 1000 - store.seconds).toFixed(1)} s`);
      await rt.dispose();
    }
    console.log(`${v.padEnd(12)} ${times.join(', ')} (drawing the weights not included)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
