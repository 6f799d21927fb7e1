// Session creation from the on-disk model cache with and without ONNX Runtime's weight prepacking
// (LoadOptions.prepack), and what it costs the products afterwards. A stack of Llama-sized
// MLPs (C → 4C → C, --layers of them, ~0.9 GB of float32 weights at the defaults) is compiled once
// into a fresh cache; then, alternating, fresh child processes create a session from that cache
// entry, prepack on and off, and run it with few rows (--rows-small, a transformer's first scales)
// and many rows (--rows-large, a text encoder's prompt): seconds to create the session, RSS after
// it, median seconds per run, and the ratios no-prepack / prepack measured in this run.
//   npx tsx bench/prepack.ts [--C 1536] [--layers 12] [--rounds 2] [--threads 2] [--json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Graph, type Tensor } from '../src/graph/index.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import type { LoadEvent } from '../src/runtime/runtime.ts';
import { median } from './timing.ts';

const { values } = parseArgs({
  options: {
    C: { type: 'string', default: '1536' }, layers: { type: 'string', default: '12' }, rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' }, 'rows-small': { type: 'string', default: '2' }, 'rows-large': { type: 'string', default: '432' },
    json: { type: 'boolean', default: false }, child: { type: 'string' }, dir: { type: 'string' },
  },
});
const C = Number(values.C), layers = Number(values.layers), threads = Number(values.threads);
const rowsSmall = Number(values['rows-small']), rowsLarge = Number(values['rows-large']);

function mlpStack(): Record<string, Tensor> {
  const g = new Graph();
  let x = g.input('x', 'float32', ['M', C]);
  for (let i = 0; i < layers; i++) {
    const w1 = new Float32Array(C * 4 * C).map((_, k) => Math.sin(k * 0.37 + i) * 0.02);
    const w2 = new Float32Array(4 * C * C).map((_, k) => Math.cos(k * 0.41 + i) * 0.02);
    x = x.add(x.matmul(g.param(`l${i}.w1`, [C, 4 * C], w1)).tanh().matmul(g.param(`l${i}.w2`, [4 * C, C], w2)));
  }
  return { y: x };
}

interface ChildResult { create_s: number; rss_gib: number; run_small_s: number; run_large_s: number; source: string }

async function child(dir: string, prepack: boolean): Promise<ChildResult> {
  const events: LoadEvent[] = [];
  const rt = nodeRuntime({ threads, modelCache: { dir, minBytes: 0 }, onLoad: (e) => events.push(e) });
  const outputs = mlpStack(); // the weights are made before the clock starts, as a loader's would be read
  const t = performance.now();
  const m = await rt.loadGraph(outputs, { prepack });
  const create = (performance.now() - t) / 1000;
  const rss = process.memoryUsage().rss / 2 ** 30;
  const time = async (M: number) => {
    const x = { dtype: 'float32' as const, shape: [M, C], data: Float32Array.from({ length: M * C }, (_, k) => Math.sin(k)) };
    const ts: number[] = [];
    for (let r = 0; r < 5; r++) { const t0 = performance.now(); await m.run({ x }); ts.push((performance.now() - t0) / 1000); }
    return median(ts);
  };
  const small = await time(rowsSmall), large = await time(rowsLarge);
  await rt.dispose();
  return { create_s: create, rss_gib: rss, run_small_s: small, run_large_s: large, source: events.map((e) => e.source).join(',') };
}

function runChild(dir: string, mode: 'compile' | 'prepack' | 'no-prepack'): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode, '--dir', dir,
    '--C', String(C), '--layers', String(layers), '--threads', String(threads), '--rows-small', String(rowsSmall), '--rows-large', String(rowsLarge)],
  { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child ${mode} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

if (values.child) {
  const res = await child(values.dir!, values.child !== 'no-prepack');
  console.log(JSON.stringify(res));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'hart-bench-prepack-'));
  try {
    const say = values.json ? () => {} : (s: string) => console.log(s);
    const gb = (2 * layers * 4 * C * C * 4) / 1e9;
    say(`${layers} MLPs ${C}→${4 * C}→${C}: ${gb.toFixed(2)} GB of float32 weights; ${threads} threads; rows ${rowsSmall} and ${rowsLarge}`);
    const compiled = runChild(dir, 'compile');
    say(`compiled and cached in ${compiled.create_s.toFixed(2)} s (${compiled.source})`);
    const runs: Record<'prepack' | 'no-prepack', ChildResult[]> = { prepack: [], 'no-prepack': [] };
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const mode of ['prepack', 'no-prepack'] as const) {
        const c = runChild(dir, mode);
        if (c.source !== 'disk-cache') throw new Error(`${mode}: expected a disk-cache hit, got ${c.source}`);
        runs[mode].push(c);
        say(`${mode.padEnd(10)} create ${c.create_s.toFixed(2)} s, RSS ${c.rss_gib.toFixed(2)} GiB, ${rowsSmall} rows ${c.run_small_s.toFixed(3)} s, ${rowsLarge} rows ${c.run_large_s.toFixed(3)} s`);
      }
    }
    // per mode, the median over rounds of each figure
    const summary = (mode: 'prepack' | 'no-prepack') => {
      const rs = runs[mode];
      return { create_s: median(rs.map((c) => c.create_s)), rss_gib: median(rs.map((c) => c.rss_gib)), run_small_s: median(rs.map((c) => c.run_small_s)), run_large_s: median(rs.map((c) => c.run_large_s)) };
    };
    const on = summary('prepack'), off = summary('no-prepack');
    const result = {
      weights_gb: gb, threads, prepack: on, no_prepack: off,
      ratio_no_prepack: { create: off.create_s / on.create_s, run_small: off.run_small_s / on.run_small_s, run_large: off.run_large_s / on.run_large_s },
    };
    say(`no-prepack / prepack: create ${result.ratio_no_prepack.create.toFixed(3)}, ${rowsSmall} rows ${result.ratio_no_prepack.run_small.toFixed(2)}, ${rowsLarge} rows ${result.ratio_no_prepack.run_large.toFixed(2)}`);
    console.log(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
