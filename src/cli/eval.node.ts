// `hart eval [--model <dir>] [--json] [--n <count>] [--seed <s>]`: the default model's figures
// (src/eval/evaluate.node.ts) as human-readable lines on stderr-free stdout, and with --json one
// JSON object as the last line. Flags are checked here, before any model loads.
import { existsSync } from 'node:fs';
import { UserError } from '../pipeline/default-model.node.ts';
import type { EmojiSet } from '../train/data/emoji-join.ts';

export interface EvalCommandOptions {
  model?: string;
  json?: boolean;
  n?: string;
  seed?: string;
  threads?: string;
  latencyThreads?: string;
  batch?: string;
  features?: string;
  emojiSets?: string;
  quiet?: boolean;
}

function intFlag(name: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(x) || x < lo || x > hi) throw new UserError(`--${name} ${v}: expected an integer in [${lo}, ${hi}]`);
  return x;
}

export async function evalCommand(opts: EvalCommandOptions): Promise<void> {
  const n = intFlag('n', opts.n, 4, 10000);
  const seed = intFlag('seed', opts.seed, 0, 2 ** 31);
  const threads = intFlag('threads', opts.threads, 1, 256);
  const batch = intFlag('batch', opts.batch, 1, 256);
  const latencyThreads = intFlag('latency-threads', opts.latencyThreads, 1, 256);
  const sets = opts.emojiSets?.split(',').map((x) => x.trim());
  for (const x of sets ?? []) if (x !== 'twitter' && x !== 'google') throw new UserError(`--emoji-sets ${opts.emojiSets}: expected twitter, google or both (comma-separated)`);
  if (opts.model !== undefined && !existsSync(opts.model)) throw new UserError(`model folder ${opts.model} does not exist`);
  const { evaluate } = await import('../eval/evaluate.node.ts');
  const log = opts.quiet ? undefined : (l: string) => console.log(l);
  const r = await evaluate({ model: opts.model, n, seed, threads, latencyThreads, batch, features: opts.features, emojiSets: sets as EmojiSet[] | undefined, log });
  if (opts.json) console.log(JSON.stringify(r));
  else if (opts.quiet) console.log(`all goals ${r.all_goals_pass ? 'pass' : 'not met'}`);
}
