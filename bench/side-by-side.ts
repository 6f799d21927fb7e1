// The 0.7B HART at 256 / 512 px, the official PyTorch code (bench/official-peer.py, run from an
// extracted copy of mit-han-lab/hart) and HART.js one after the other on this machine, text
// encoder excluded, cfg 4.5, the Gumbel-smooth token path, 8 diffusion steps, random weights of
// the released shapes: each side's seconds per image (median of --repeats), and HART.js's time as
// a ratio to the official one (the goal: ≤ 0.5). The official side runs at every
// --official-threads value and the fastest is the baseline (on 2 vCPUs its 1-thread run has been
// the faster one). Run it alone: both sides are timed, nothing else should share the CPU.
//   /usr/bin/python3 bench/make-official-checkpoint.py /tmp/hart-official-full
//   npx tsx bench/side-by-side.ts --official-src /tmp/hart-official-src [--sizes 256,512]
//       [--repeats 3] [--threads 2] [--official-threads 1,2] [--checkpoint /tmp/hart-official-full] [--json]
// (official source: the `fetch` tool's mirror of github:mit-han-lab/hart, `git archive HEAD | tar -x -C DIR`;
// see bench/official-peer.py's docstring for what it patches to run on a CPU.)
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measureGenerate } from './generate.ts';
import { median } from './timing.ts';

const { values } = parseArgs({
  options: {
    'official-src': { type: 'string' }, checkpoint: { type: 'string', default: '/tmp/hart-official-full' },
    sizes: { type: 'string', default: '256,512' }, repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' }, 'official-threads': { type: 'string', default: '1,2' },
    json: { type: 'boolean', default: false },
  },
});
if (!values['official-src']) throw new Error('--official-src DIR is required (an extracted copy of mit-han-lab/hart)');
const sizes = values.sizes!.split(',').map(Number);
const repeats = Number(values.repeats);
const peer = fileURLToPath(new URL('./official-peer.py', import.meta.url));
const r2 = (v: number) => Math.round(v * 100) / 100;

interface OfficialRun { threads: number; median_s: number; seconds: number[]; load_s: number; official_commit?: string; torch_version?: string }

function official(size: number, threads: number): OfficialRun {
  const r = spawnSync('/usr/bin/python3', [peer, '--hart-src', values['official-src']!, '--checkpoint', values.checkpoint!,
    '--size', String(size), '--threads', String(threads), '--repeats', String(repeats)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`official-peer.py failed (${r.status}): ${r.stderr.split('\n').slice(-15).join('\n')}`);
  const last = r.stdout.trim().split('\n').at(-1)!;
  return { threads, ...JSON.parse(last) };
}

const results = [];
for (const size of sizes) {
  const off = values['official-threads']!.split(',').map((t) => {
    const o = official(size, Number(t));
    console.error(`official ${size} px, ${t} thread(s): median ${o.median_s.toFixed(2)} s (${o.seconds.map((s) => s.toFixed(2)).join(', ')}), load ${o.load_s.toFixed(1)} s`);
    return o;
  });
  const best = off.reduce((a, b) => (b.median_s < a.median_s ? b : a));
  const ours = await measureGenerate({
    config: 'full', size: String(size), skipText: true, repeat: String(repeats), threads: values.threads!, moreSmooth: true, quiet: true, warm: false,
  });
  const runs = ours.run_seconds as number[];
  const oursMedian = median(runs);
  console.error(`HART.js ${size} px, ${values.threads} threads: median ${oursMedian.toFixed(2)} s (${runs.map((s) => s.toFixed(2)).join(', ')}); ratio to the official ${r2(oursMedian / best.median_s)}`);
  results.push({
    size, official: off.map((o) => ({ threads: o.threads, median_s: r2(o.median_s), seconds: o.seconds.map(r2), load_s: r2(o.load_s) })),
    official_baseline_s: r2(best.median_s), official_baseline_threads: best.threads,
    hartjs: { threads: Number(values.threads), median_s: r2(oursMedian), seconds: runs, first_includes_uncond_prefix: true,
      matmul_gflops: ours.matmul_gflops, weight_gemm_gflops: ours.weight_gemm_gflops, stages_median_s: ours.seconds },
    ratio: r2(oursMedian / best.median_s), ratio_first_run: r2(runs[0] / best.median_s),
    official_commit: off[0].official_commit, torch: off[0].torch_version,
  });
}
const out = { bench: 'side-by-side', repeats, text_encoder: 'excluded', cfg: 4.5, more_smooth: true, diffusion_steps: 8, results };
if (values.json) console.log(JSON.stringify(out));
else for (const r of results) console.log(`${r.size} px: official ${r.official_baseline_s} s (${r.official_baseline_threads} thread), HART.js ${r.hartjs.median_s} s: ratio ${r.ratio} (first run ${r.ratio_first_run})`);
