// Sampling defaults for a trained model, chosen on TRAINING-split scene prompts only (never the
// held-out prompts `hart eval` scores): for each (cfg schedule, cfg, top-k, temperature, more_smooth) in a grid,
// the scenes checker's accuracy on images generated for n training-split prompts (more_smooth is
// false unless --more-smooth lists true; the cfg schedule linear unless --cfg-schedule lists constant). Prints one JSON object last.
//   npx tsx scripts/tune-defaults.ts <model> [--n 48] [--cfg 3,5,8] [--top-k 1,10,20,50] [--temperature 1] [--more-smooth false,true] [--cfg-schedule linear,constant] [--threads 2]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { scenePrompts } from '../src/train/data/scenes.ts';
import { checkScene, scoreVerdicts } from '../src/eval/scenes-check.ts';
import { generateAll } from '../src/eval/evaluate.node.ts';
import { CFG_SCHEDULES, type CfgSchedule } from '../src/tables/schedules.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string', default: '48' }, cfg: { type: 'string', default: '3,5,8' }, 'top-k': { type: 'string', default: '1,10,20,50' }, temperature: { type: 'string', default: '1' }, 'more-smooth': { type: 'string', default: 'false' }, 'cfg-schedule': { type: 'string', default: 'linear' }, threads: { type: 'string', default: '2' }, seed: { type: 'string', default: '777' } },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: tune-defaults.ts <model folder>');
const n = Number(values.n), threads = Number(values.threads), seed = Number(values.seed);
const runtime = nodeRuntime({ threads });
const pipe = await loadHartPipeline(dir, { threads, runtime });
// the training split: attribute combinations the model was trained on, never the evaluation's held-out ones
const scenes = scenePrompts(seed, n, 'train');
const smooths = values['more-smooth']!.split(',').map((v) => {
  if (v !== 'true' && v !== 'false') throw new Error(`--more-smooth takes true and/or false, not ${JSON.stringify(v)}`);
  return v === 'true';
});
const schedules = values['cfg-schedule']!.split(',').map((v) => {
  if (!CFG_SCHEDULES.includes(v as CfgSchedule)) throw new Error(`--cfg-schedule takes ${CFG_SCHEDULES.join(' and/or ')}, not ${JSON.stringify(v)}`);
  return v as CfgSchedule;
});
const rows: { cfg_schedule: CfgSchedule; cfg: number; top_k: number; temperature: number; more_smooth: boolean; accuracy: number; per_category: Record<string, number> }[] = [];
for (const cfgSchedule of schedules) for (const cfg of values.cfg!.split(',').map(Number)) {
  for (const topK of values['top-k']!.split(',').map(Number)) {
    for (const temperature of values.temperature!.split(',').map(Number)) for (const moreSmooth of smooths) {
      const images = await generateAll(pipe, scenes.map((x) => x.caption), seed, 16, { cfg, cfgSchedule, topK, temperature, moreSmooth });
      const score = scoreVerdicts(images.map((im, k) => checkScene(im, scenes[k].caption)));
      rows.push({ cfg_schedule: cfgSchedule, cfg, top_k: topK, temperature, more_smooth: moreSmooth, accuracy: +score.overall.toFixed(3), per_category: Object.fromEntries(Object.entries(score.accuracy).map(([k, v]) => [k, +v.toFixed(3)])) });
      process.stderr.write(`cfg ${cfgSchedule} ${cfg} top-k ${topK} temperature ${temperature} more_smooth ${moreSmooth}: ${score.overall.toFixed(3)} ${JSON.stringify(rows.at(-1)!.per_category)}\n`);
    }
  }
}
await pipe.dispose();
await runtime.dispose();
const best = rows.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
process.stdout.write(`${JSON.stringify({ model: dir, split: 'train', n, seed, rows, best })}\n`);
