// Sharded checkpoints: `model.safetensors.index.json` (or `pytorch_model.bin.index.json`),
// {"metadata": {...}, "weight_map": {tensor name: shard file}}, read through a caller-supplied
// loader so it works on a file system, over HTTP, or from browser Files. Browser-safe.
import type { Tensor } from './dtypes.ts';
import { safetensorsSource } from './safetensors.ts';
import type { TensorInfo, TensorSource } from './tensor-source.ts';
import { checkJsonLimits, describe, parseJsonText } from './schema.ts';

export interface ShardIndex {
  metadata: Record<string, unknown>;
  weight_map: Record<string, string>;
}

/** A shard file name must stay inside the model folder: relative, no "..", no backslashes. */
export function isSafeShardName(file: string): boolean {
  return file.length > 0 && file.length <= 1024 && !file.startsWith('/') && !file.includes('\\') && !file.includes('\0') && !/^[A-Za-z]:/.test(file) &&
    file.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Parses and validates an index (JSON text or an already-parsed object). */
export function parseShardIndex(json: string | unknown, what = 'shard index'): ShardIndex {
  let v: unknown = json;
  if (typeof json === 'string') v = parseJsonText(json, what, { maxDepth: 32, maxNodes: 1 << 22, maxBytes: Infinity });
  else checkJsonLimits(v, what, { maxDepth: 32, maxNodes: 1 << 22, maxBytes: Infinity });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: not a JSON object`);
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(v, k) ? (v as Record<string, unknown>)[k] : undefined);
  const metadata = own('metadata') ?? {}, weight_map = own('weight_map');
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new Error(`${what}: metadata is not an object`);
  if (typeof weight_map !== 'object' || weight_map === null || Array.isArray(weight_map)) throw new Error(`${what}: weight_map is missing or not an object`);
  for (const [name, file] of Object.entries(weight_map)) {
    if (typeof file !== 'string' || !isSafeShardName(file)) throw new Error(`${what}: tensor ${describe(name)} maps to an unsafe or invalid shard file ${describe(file)}`);
  }
  return { metadata: metadata as Record<string, unknown>, weight_map: weight_map as Record<string, string> };
}

/**
 * One TensorSource over all shards. `openShard(file)` opens one shard (called once per distinct
 * file, in sorted order); every shard must hold exactly the tensors the index maps to it.
 */
export async function openSharded(index: string | unknown, openShard: (file: string) => Promise<TensorSource>, what = 'shard index'): Promise<TensorSource & { metadata: Record<string, unknown> }> {
  const { metadata, weight_map } = parseShardIndex(index, what);
  const byFile = new Map<string, string[]>();
  for (const [name, file] of Object.entries(weight_map)) {
    if (!byFile.has(file)) byFile.set(file, []);
    byFile.get(file)!.push(name);
  }
  const shards = new Map<string, TensorSource>();
  const closeAll = async () => {
    for (const s of shards.values()) await s.close();
  };
  try {
    for (const file of [...byFile.keys()].sort()) {
      const src = await openShard(file);
      shards.set(file, src);
      const has = new Set(src.names());
      const want = byFile.get(file)!;
      const missing = want.filter((n) => !has.has(n));
      if (missing.length) throw new Error(`${what}: shard ${file} lacks ${missing.length} tensor(s) the index maps to it, e.g. ${describe(missing[0])}`);
      const wantSet = new Set(want);
      const extra = [...has].filter((n) => !wantSet.has(n));
      if (extra.length) throw new Error(`${what}: shard ${file} holds ${extra.length} tensor(s) the index does not map to it, e.g. ${describe(extra[0])}`);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  const names = Object.keys(weight_map).sort();
  const shardOf = (name: string): TensorSource => {
    const file = Object.prototype.hasOwnProperty.call(weight_map, name) ? weight_map[name] : undefined;
    if (file === undefined) throw new Error(`${what}: no tensor named ${describe(name)}`);
    return shards.get(file)!;
  };
  return {
    metadata,
    names: () => names.slice(),
    info: (name): TensorInfo => shardOf(name).info(name),
    read: (name) => shardOf(name).read(name),
    close: closeAll,
  };
}

/** Reads every tensor of a sharded safetensors checkpoint whose shards `loadFile` returns as bytes. */
export async function readShardedSafetensors(index: string | unknown, loadFile: (file: string) => Promise<Uint8Array>, what = 'shard index'): Promise<Map<string, Tensor>> {
  const src = await openSharded(index, async (file) => safetensorsSource(await loadFile(file), file), what);
  const out = new Map<string, Tensor>();
  for (const name of src.names()) out.set(name, await src.read(name));
  return out;
}
