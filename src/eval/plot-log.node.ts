// `hart plot-log <run-dir> -o <png>`: a run's training curves (runs/<name>/log.jsonl) as a PNG
// (plot.ts draws; fast-png encodes). Lines that do not parse (a log being written) are skipped.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { encode } from 'fast-png';
import { atomicWriteFile } from '../io/files.node.ts';
import { plotLog, type LogRecord } from './plot.ts';

/** Records of a log.jsonl text (incomplete or foreign lines skipped). */
export function parseLogJsonl(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as LogRecord;
      if (r && typeof r.stage === 'string' && typeof r.step === 'number') out.push(r);
    } catch { /* a partial last line */ }
  }
  return out;
}

/** Renders <runDir>/log.jsonl (or a .jsonl file) to a PNG; returns the records plotted. */
export async function plotRunLog(runDir: string, outPng: string): Promise<{ records: number; width: number; height: number }> {
  const path = existsSync(runDir) && statSync(runDir).isDirectory() ? join(runDir, 'log.jsonl') : runDir;
  if (!existsSync(path)) {
    const err = new Error(`no training log at ${path}`);
    err.name = 'UserError';
    throw err;
  }
  const records = parseLogJsonl(readFileSync(path, 'utf8'));
  const name = basename(resolve(path === runDir ? resolve(runDir, '..') : runDir));
  const r = plotLog(records, { title: `${name}: training curves (${records.length} steps logged)` });
  await atomicWriteFile(outPng, encode({ width: r.width, height: r.height, data: r.rgb, channels: 3, depth: 8 }));
  return { records: records.length, width: r.width, height: r.height };
}

export async function plotLogCommand(runDir: string, opts: { output: string }): Promise<void> {
  const r = await plotRunLog(runDir, opts.output);
  console.log(`${opts.output}: ${r.width}×${r.height}, ${r.records} log records`);
}
