// `hart convert <official dir> <out dir>`: the command-line face of convert.node.ts; progress on
// stderr, a summary (per part: tensors, int4 weights, size, seconds) on stdout, or one JSON object
// with --json.
import { convertHart } from './convert.node.ts';
import type { Quantization, StorageDType } from './plan.ts';

export interface ConvertCliOptions {
  textEncoder?: string;
  dtype?: string;
  quantize?: string;
  blockSize?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export async function convertCommand(src: string, out: string, o: ConvertCliOptions): Promise<void> {
  const blockSize = o.blockSize === undefined ? 32 : Number(o.blockSize);
  if (!Number.isInteger(blockSize)) throw new Error(`--block-size must be an integer, got "${o.blockSize}"`);
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`${s}\n`); };
  const command = ['hart convert', src, out, ...(o.textEncoder ? ['--text-encoder', o.textEncoder] : []),
    '--dtype', o.dtype ?? 'float32', '--quantize', o.quantize ?? 'none', ...(o.quantize === 'int4' ? ['--block-size', String(blockSize)] : [])].join(' ');
  const r = await convertHart(src, out, {
    textEncoder: o.textEncoder, dtype: o.dtype as StorageDType | undefined, quantize: o.quantize as Quantization | undefined,
    blockSize, force: o.force, log, command,
  });
  if (o.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  for (const p of r.parts) {
    process.stdout.write(`${p.folder.padEnd(13)} ${String(p.tensors).padStart(5)} tensors  ${String(p.quantized).padStart(4)} int4  ` +
      `${(p.bytes / 2 ** 20).toFixed(1).padStart(9)} MiB  ${p.seconds.toFixed(1).padStart(6)} s   from ${p.source}` +
      (p.dropped.length ? `  (dropped ${p.dropped.join(', ')})` : '') + '\n');
  }
  process.stdout.write(`wrote ${r.out}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s (${r.storage.dtype}` +
    `${r.storage.quantize === 'int4' ? `, int4 block ${r.storage.blockSize}` : ''})\n`);
}
