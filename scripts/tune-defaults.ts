// Sampling defaults for a trained model, chosen on TRAINING-split scene prompts only (never the
// held-out prompts `hart eval` scores): for each (cfg schedule, cfg, top-k, temperature, more_smooth) in a grid,
// the scenes checker's accuracy on images generated for n training-split prompts (more_smooth is
// false unless --more-smooth lists true; the cfg schedule linear unless --cfg-schedule lists constant).
// With --emoji N, also the RGB emoji retrieval (top-1 / top-5, the evaluation's primary space) of N
// training-split emoji captions drawn by a sample of their own (not the evaluation's), and the KID of
// those images against the real emoji of the same captions (the evaluation's feature network) and the
// RGB retrieval of the same emoji prompted plainly ("a red apple", evaluate.node.ts rgbRetrievalPlain), so
// that a setting can be weighed on all three of the evaluation's kinds of figure. Prints one JSON object last.
//   npx tsx scripts/tune-defaults.ts <model> [--n 48] [--emoji 0] [--cfg 3,5,8] [--top-k 1,10,20,50] [--temperature 1] [--more-smooth false,true] [--cfg-schedule linear,constant] [--threads 2]
import { parseArgs } from 'node:util';
import { loadHartPipeline } from '../src/index.node.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { scenePrompts } from '../src/train/data/scenes.ts';
import { checkScene, scoreVerdicts } from '../src/eval/scenes-check.ts';
import { emojiSample, generateAll, rgbGalleries, rgbRetrieval, rgbRetrievalPlain } from '../src/eval/evaluate.node.ts';
import { loadEmojiDataset } from '../src/train/data/emoji.node.ts';
import { emojiImage, FEATURE_NET_PATH, loadFeatureNet } from '../src/eval/feature-net.node.ts';
import { kid } from '../src/eval/metrics.ts';
import { CFG_SCHEDULES, type CfgSchedule } from '../src/tables/schedules.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string', default: '48' }, cfg: { type: 'string', default: '3,5,8' }, 'top-k': { type: 'string', default: '1,10,20,50' }, temperature: { type: 'string', default: '1' }, 'more-smooth': { type: 'string', default: 'false' }, 'cfg-schedule': { type: 'string', default: 'linear' }, threads: { type: 'string', default: '2' }, seed: { type: 'string', default: '777' }, emoji: { type: 'string', default: '0' } },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: tune-defaults.ts <model folder>');
const n = Number(values.n), threads = Number(values.threads), seed = Number(values.seed);
const runtime = nodeRuntime({ threads });
const pipe = await loadHartPipeline(dir, { threads, runtime });
// the training split: attribute combinations the model was trained on, never the evaluation's held-out ones
const scenes = scenePrompts(seed, n, 'train');
// training-split emoji for --emoji: a Philox purpose of this script's own, so never the evaluation's sample
const TUNE_EMOJI_PURPOSE = 0x210;
const nEmoji = Number(values.emoji);
const ds = nEmoji > 0 ? loadEmojiDataset() : undefined;
const emojiIdx = ds ? emojiSample(ds, false, nEmoji, seed, TUNE_EMOJI_PURPOSE) : [];
const galleries = ds ? rgbGalleries(ds, emojiIdx.map((i) => ds.records[i].set)) : new Map();
const fnet = ds ? await loadFeatureNet(runtime) : null;
if (ds && !fnet) throw new Error(`--emoji needs the evaluation's feature network (${FEATURE_NET_PATH}); hart eval trains it when absent`);
const realFeatures = ds && fnet ? await fnet.extractor.features(emojiIdx.map((i) => emojiImage(ds, i))) : undefined;
const smooths = values['more-smooth']!.split(',').map((v) => {
  if (v !== 'true' && v !== 'false') throw new Error(`--more-smooth takes true and/or false, not ${JSON.stringify(v)}`);
  return v === 'true';
});
const schedules = values['cfg-schedule']!.split(',').map((v) => {
  if (!CFG_SCHEDULES.includes(v as CfgSchedule)) throw new Error(`--cfg-schedule takes ${CFG_SCHEDULES.join(' and/or ')}, not ${JSON.stringify(v)}`);
  return v as CfgSchedule;
});
const rows: { cfg_schedule: CfgSchedule; cfg: number; top_k: number; temperature: number; more_smooth: boolean; accuracy: number; per_category: Record<string, number>; emoji_top1?: number; emoji_top5?: number; emoji_kid?: number; emoji_plain_top5?: number }[] = [];
for (const cfgSchedule of schedules) for (const cfg of values.cfg!.split(',').map(Number)) {
  for (const topK of values['top-k']!.split(',').map(Number)) {
    for (const temperature of values.temperature!.split(',').map(Number)) for (const moreSmooth of smooths) {
      const images = await generateAll(pipe, scenes.map((x) => x.caption), seed, 16, { cfg, cfgSchedule, topK, temperature, moreSmooth });
      const score = scoreVerdicts(images.map((im, k) => checkScene(im, scenes[k].caption)));
      const emoji = ds ? await rgbRetrieval(pipe, ds, emojiIdx, galleries, seed + 100_000, 16, { cfg, cfgSchedule, topK, temperature, moreSmooth }) : undefined;
      const emojiKid = emoji && fnet && realFeatures ? kid(await fnet.extractor.features(emoji.images), realFeatures).mean : undefined;
      const plain = ds ? await rgbRetrievalPlain(pipe, ds, emojiIdx, galleries, seed + 300_000, 16, { cfg, cfgSchedule, topK, temperature, moreSmooth }) : undefined;
      rows.push({
        cfg_schedule: cfgSchedule, cfg, top_k: topK, temperature, more_smooth: moreSmooth, accuracy: +score.overall.toFixed(3), per_category: Object.fromEntries(Object.entries(score.accuracy).map(([k, v]) => [k, +v.toFixed(3)])),
        ...(emoji ? { emoji_top1: +emoji.top1.toFixed(3), emoji_top5: +emoji.top5.toFixed(3), emoji_kid: +emojiKid!.toFixed(4), emoji_plain_top5: +plain!.top5.toFixed(3) } : {}),
      });
      process.stderr.write(`cfg ${cfgSchedule} ${cfg} top-k ${topK} temperature ${temperature} more_smooth ${moreSmooth}: ${score.overall.toFixed(3)} ${JSON.stringify(rows.at(-1)!.per_category)}${emoji ? ` emoji top-1 ${emoji.top1.toFixed(3)} top-5 ${emoji.top5.toFixed(3)} KID ${emojiKid!.toFixed(4)} plain top-5 ${plain!.top5.toFixed(3)}` : ''}\n`);
    }
  }
}
await pipe.dispose();
await runtime.dispose();
const best = rows.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
process.stdout.write(`${JSON.stringify({ model: dir, split: 'train', n, seed, rows, best })}\n`);
