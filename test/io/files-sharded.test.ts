// Node file adapter (positional reads, model folders, atomic writes) and sharded checkpoints,
// checked against whole-file in-memory parses of the fixtures. Writes only to a temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureDir } from '../fixtures.ts';
import { type Tensor, bytesOf } from '../../src/io/dtypes.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { openSharded, parseShardIndex, readShardedSafetensors } from '../../src/io/sharded.ts';
import { readAll } from '../../src/io/tensor-source.ts';
import { atomicWriteFile, openModelFolder, openTensorFile, readTensorFile, writeSafetensorsFile } from '../../src/io/files.node.ts';

const sameTensors = (a: Map<string, Tensor>, b: Map<string, Tensor>) => {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [n, t] of a) {
    const u = b.get(n)!;
    assert.equal(t.dtype, u.dtype, n);
    assert.deepEqual(t.shape, u.shape, n);
    assert.ok(Buffer.compare(bytesOf(t.data), bytesOf(u.data)) === 0, n);
  }
};
const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: Error) => e instanceof Error && re.test(e.message), String(re));

test('model folders from disk: positional reads agree with whole-file parses', async () => {
  const tok = await openModelFolder(join(fixtureDir(), 'tokenizer'));
  assert.equal(tok.names().length, 346);
  sameTensors(await readAll(tok), readSafetensors(readFileSync(join(fixtureDir(), 'tokenizer/model.safetensors'))));
  await tok.close();
  const llmRef = readSafetensors(readFileSync(join(fixtureDir(), 'llm/model.safetensors')));
  const llm = await openModelFolder(join(fixtureDir(), 'llm'));
  sameTensors(await readAll(llm), llmRef);
  await llm.close();
  sameTensors(await readTensorFile(join(fixtureDir(), 'llm/ema_model.bin')), llmRef);
  await rejects(openModelFolder(fixtureDir()), /no weights found \(looked for model.safetensors, /);
});

test('atomic writes and sharded checkpoints in a temp folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hart-io-'));
  try {
    const llm = readSafetensors(readFileSync(join(fixtureDir(), 'llm/model.safetensors')));
    const p = join(dir, 'model.safetensors');
    await writeSafetensorsFile(p, llm, { format: 'pt' });
    assert.deepEqual(new Uint8Array(readFileSync(p)), new Uint8Array(readFileSync(join(fixtureDir(), 'llm/model.safetensors'))));
    // a failing write leaves the previous file intact and no temp file behind
    await assert.rejects(writeSafetensorsFile(p, { x: { dtype: 'float32', shape: [2], data: new Float32Array(1) } }), /has 2 elements but data has 1/);
    await assert.rejects(atomicWriteFile(p, async (write) => { await write(new Uint8Array(3)); throw new Error('boom'); }), /boom/);
    sameTensors(await readTensorFile(p), llm);
    await atomicWriteFile(join(dir, 'note.txt'), 'hello');
    assert.equal(readFileSync(join(dir, 'note.txt'), 'utf8'), 'hello');
    assert.deepEqual(readdirSync(dir).sort(), ['model.safetensors', 'note.txt']);
    rmSync(p);

    // split into three shards plus an index; read back through the folder and through a byte loader
    const names = [...llm.keys()];
    const shards = [0, 1, 2].map((k) => `model-0000${k + 1}-of-00003.safetensors`);
    const weight_map: Record<string, string> = {};
    const files = new Map<string, Uint8Array>();
    shards.forEach((file, k) => {
      const part = new Map(names.filter((_, i) => i % 3 === k).map((n) => [n, llm.get(n)!]));
      for (const n of part.keys()) weight_map[n] = file;
      files.set(file, writeSafetensors(part));
      writeFileSync(join(dir, file), files.get(file)!);
    });
    const index = JSON.stringify({ metadata: { total_size: 1 }, weight_map });
    writeFileSync(join(dir, 'model.safetensors.index.json'), index);
    const folder = await openModelFolder(dir);
    assert.deepEqual(folder.info('lvl_1L'), { dtype: 'int64', shape: [1, 162] });
    sameTensors(await readAll(folder), llm);
    await folder.close();
    const loaded: string[] = [];
    sameTensors(await readShardedSafetensors(index, async (f) => (loaded.push(f), files.get(f)!)), llm);
    assert.deepEqual(loaded, shards);

    // index errors
    const load = async (f: string) => files.get(f)!;
    await rejects(readShardedSafetensors({ weight_map: { ...weight_map, 'extra.w': shards[0] } }, load), /shard model-00001-of-00003.safetensors lacks 1 tensor\(s\) the index maps to it, e.g. "extra.w"/);
    const { [names[0]]: _dropped, ...fewer } = weight_map;
    await rejects(readShardedSafetensors({ weight_map: fewer }, load), /holds 1 tensor\(s\) the index does not map to it, e.g. "/);
    assert.throws(() => parseShardIndex('{"weight_map": {"a": "../../etc/passwd"}}'), /unsafe or invalid shard file "..\/..\/etc\/passwd"/);
    assert.throws(() => parseShardIndex('{"weight_map": {"a": "/abs.safetensors"}}'), /unsafe/);
    assert.throws(() => parseShardIndex('{"metadata": {}}'), /weight_map is missing/);
    assert.throws(() => parseShardIndex('{'), /not valid JSON/);
    await rejects(openSharded({ weight_map: { a: 'x.safetensors' } }, async () => { throw new Error('x.safetensors: gone'); }), /gone/);
    await rejects(openTensorFile(join(dir, 'missing.safetensors')), /ENOENT/);
    writeFileSync(join(dir, 'short.safetensors'), new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 123]));
    await rejects(openTensorFile(join(dir, 'short.safetensors')), /short.safetensors: header length 200 runs past the end of the 9-byte file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
