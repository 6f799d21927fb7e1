// The on-disk model cache (src/runtime/model-cache.node.ts, Runtime.loadGraph): entries hold the
// weights in their external data file (ONNX Runtime maps it); a second runtime (as a second
// process would) creates its session from the cached file without emitting the weights, with bitwise the same outputs as a compiled session, which themselves
// match a float64 reference computed here; concurrent writers leave one entry; the size bound
// evicts least recently used entries; unreadable entries are dropped and recompiled; the cache
// can be turned off; an unwritable cache runs the model from memory; a compiled optimized copy is reopened from the cache; and a whole fixture generation is bitwise the same from a warm cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '../../src/graph/index.ts';
import { nodeRuntime, defaultCacheDir, nodeModelCache, DiskModelCache } from '../../src/runtime/node.node.ts';
import { Runtime, type LoadEvent } from '../../src/runtime/runtime.ts';
import { diskFiles } from '../../src/io/file-access.node.ts';
import { loadHart } from '../../src/pipeline/load.ts';
import { runGeneration } from '../../src/pipeline/generate-loop.ts';
import { resolveOptions } from '../../src/pipeline/options.ts';
import { fixtureDir } from '../fixtures.ts';
import { tensor } from '../tables/reference.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'hart-cache-test-'));
const entries = (dir: string) => readdirSync(dir).filter((n) => !n.startsWith('tmp-')).sort();

/** y = tanh(x·W1 + b1)·W2 with weights from a seed: [2, 64] → [2, 16]. */
function mlp(seed: number) {
  const r = (k: number) => Math.sin(seed * 1000 + k * 12.9898) * 0.5;
  const W1 = Float32Array.from({ length: 64 * 96 }, (_, k) => r(k) / 8);
  const b1 = Float32Array.from({ length: 96 }, (_, k) => r(k + 7e5));
  const W2 = Float32Array.from({ length: 96 * 16 }, (_, k) => r(k + 9e5) / 10);
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 64]);
  const y = x.matmul(g.param('W1', [64, 96], W1)).add(g.param('b1', [96], b1)).tanh().matmul(g.param('W2', [96, 16], W2));
  const xs = Float32Array.from({ length: 128 }, (_, k) => Math.cos(k * 0.7));
  // float64 reference
  const want = new Float64Array(32);
  for (let i = 0; i < 2; i++) {
    const h = new Float64Array(96);
    for (let j = 0; j < 96; j++) { let s = b1[j]; for (let k = 0; k < 64; k++) s += xs[i * 64 + k] * W1[k * 96 + j]; h[j] = Math.tanh(s); }
    for (let o = 0; o < 16; o++) { let s = 0; for (let j = 0; j < 96; j++) s += h[j] * W2[j * 16 + o]; want[i * 16 + o] = s; }
  }
  return { outputs: { y }, feeds: { x: { dtype: 'float32' as const, shape: [2, 64], data: xs } }, want };
}

async function runOnce(dir: string | false, seed: number, events: LoadEvent[] = [], maxBytes?: number) {
  const rt = nodeRuntime({ threads: 1, modelCache: dir === false ? false : { dir, minBytes: 0, maxBytes }, onLoad: (e) => events.push(e) });
  const { outputs, feeds, want } = mlp(seed);
  const m = await rt.loadGraph(outputs);
  const y = (await m.run(feeds)).y.data as Float32Array;
  await rt.dispose();
  return { y, want };
}

test('model cache: a second runtime loads the cached model from disk, bitwise the same outputs, within float tolerance of float64', async () => {
  const dir = tmp();
  try {
    const ev1: LoadEvent[] = [], ev2: LoadEvent[] = [];
    const cold = await runOnce(dir, 1, ev1);
    assert.deepEqual(ev1.map((e) => [e.source, e.cached]), [['compiled', true]]);
    assert.equal(entries(dir).length, 1);
    // prepacked weights (the default): ONNX Runtime's optimized model, marked
    assert.deepEqual(readdirSync(join(dir, entries(dir)[0])).sort(), ['model.onnx', 'ort-optimized', 'weights.bin']);
    const warm = await runOnce(dir, 1, ev2);
    assert.deepEqual(ev2.map((e) => e.source), ['disk-cache']);
    assert.ok(Buffer.from(cold.y.buffer).equals(Buffer.from(warm.y.buffer)), 'warm outputs differ from cold');
    let err = 0;
    cold.y.forEach((v, k) => { err = Math.max(err, Math.abs(v - cold.want[k])); });
    assert.ok(err < 1e-5, `vs float64 ${err}`);
    // uncached runtime: the same bits
    const plain = await runOnce(false, 1);
    assert.ok(Buffer.from(plain.y.buffer).equals(Buffer.from(cold.y.buffer)));
    // other weights → another entry
    await runOnce(dir, 2);
    assert.equal(entries(dir).length, 2);
    // without prepacking: the emitted model, its weights in the file ONNX Runtime maps
    const before = new Set(entries(dir));
    const unpacked = async (events: LoadEvent[]) => {
      const rt = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 }, onLoad: (e) => events.push(e) });
      const { outputs, feeds } = mlp(1);
      const y = (await (await rt.loadGraph(outputs, { prepack: false })).run(feeds)).y.data as Float32Array;
      await rt.dispose();
      return y;
    };
    const ev3: LoadEvent[] = [], ev4: LoadEvent[] = [];
    const u1 = await unpacked(ev3);
    const added = entries(dir).filter((e) => !before.has(e));
    assert.equal(added.length, 1);
    assert.deepEqual(readdirSync(join(dir, added[0])).sort(), ['model.onnx', 'weights.bin']);
    assert.ok(statSync(join(dir, added[0], 'model.onnx')).size < 2048, 'model.onnx holds no weights');
    assert.ok(statSync(join(dir, added[0], 'weights.bin')).size >= 4 * (64 * 96 + 96 * 16));
    const u2 = await unpacked(ev4);
    assert.deepEqual([...ev3, ...ev4].map((e) => e.source), ['compiled', 'disk-cache']);
    assert.ok(Buffer.from(u1.buffer).equals(Buffer.from(u2.buffer)));
    let errU = 0;
    u1.forEach((v, k) => { errU = Math.max(errU, Math.abs(v - cold.want[k])); });
    assert.ok(errU < 1e-5, `unpacked vs float64 ${errU}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model cache: a model with convolutions keeps ONNX Runtime\'s optimized copy (marked), with the same outputs warm', async () => {
  const dir = tmp();
  try {
    const run = async (events: LoadEvent[]) => {
      const g = new Graph();
      const x = g.input('x', 'float32', [1, 4, 8, 8]);
      const w = g.param('w', [8, 4, 3, 3], Float32Array.from({ length: 288 }, (_, k) => Math.sin(k) / 4));
      const y = x.conv2d(w, undefined, { pads: [1, 1, 1, 1] }).relu();
      const rt = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 }, onLoad: (e) => events.push(e) });
      const m = await rt.loadGraph({ y });
      const out = (await m.run({ x: { dtype: 'float32', shape: [1, 4, 8, 8], data: Float32Array.from({ length: 256 }, (_, k) => Math.cos(k)) } })).y.data as Float32Array;
      await rt.dispose();
      return out;
    };
    const ev1: LoadEvent[] = [], ev2: LoadEvent[] = [];
    const cold = await run(ev1);
    assert.deepEqual(ev1.map((e) => [e.source, e.cached]), [['compiled', true]]);
    assert.ok(readdirSync(join(dir, entries(dir)[0])).includes('ort-optimized'));
    const warm = await run(ev2);
    assert.deepEqual(ev2.map((e) => e.source), ['disk-cache']);
    assert.ok(Buffer.from(cold.buffer).equals(Buffer.from(warm.buffer)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model cache: a compiled optimized copy is reopened from the cache (the compiling session holds more memory), unless reopenCompiled is false', async () => {
  for (const reopenCompiled of [true, false]) {
    const dir = tmp();
    try {
      const base = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 } });
      const created: string[] = [];
      const ort = {
        ...base.ort,
        InferenceSession: { create: (source: unknown, o: unknown) => { created.push(typeof source === 'string' ? 'file' : 'bytes'); return (base.ort.InferenceSession.create as (s: unknown, o: unknown) => unknown)(source, o); } },
      } as unknown as typeof base.ort;
      const rt = new Runtime(ort, { ...base.options, reopenCompiled });
      const g = new Graph();
      const x = g.input('x', 'float32', [1, 4, 8, 8]);
      const y = x.conv2d(g.param('w', [8, 4, 3, 3], Float32Array.from({ length: 288 }, (_, k) => Math.sin(k) / 4)), undefined, { pads: [1, 1, 1, 1] }).relu();
      const m = await rt.loadGraph({ y });
      const out = (await m.run({ x: { dtype: 'float32', shape: [1, 4, 8, 8], data: Float32Array.from({ length: 256 }, (_, k) => Math.cos(k)) } })).y.data as Float32Array;
      assert.ok(out.some((v) => v > 0));
      assert.deepEqual(created, reopenCompiled ? ['bytes', 'file'] : ['bytes']);
      await rt.dispose();
      await base.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('model cache: the key needs no weight emission, and a hit never compiles', async () => {
  const dir = tmp();
  try {
    await runOnce(dir, 3);
    // count emissions with weights as initializers (the structure key emits with paramsAsInputs)
    const rt = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 } });
    const { outputs } = mlp(3);
    const key = await rt.graphKey(outputs);
    assert.equal(key.structure.paramNames.length, 3);
    assert.ok(key.structure.bytes.byteLength < 4096, `the key's structure holds no weights (${key.structure.bytes.byteLength} bytes)`);
    assert.equal(key.bytes, key.structure.bytes.byteLength + 4 * (64 * 96 + 96 + 96 * 16));
    const events: LoadEvent[] = [];
    const rt2 = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 }, onLoad: (e) => events.push(e) });
    await rt2.loadGraph(outputs);
    assert.deepEqual(events.map((e) => e.source), ['disk-cache']);
    await rt.dispose(); await rt2.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model cache: concurrent writers of one key leave one entry and no temporary folders', async () => {
  const dir = tmp();
  try {
    const results = await Promise.all([runOnce(dir, 4), runOnce(dir, 4), runOnce(dir, 4)]);
    assert.equal(entries(dir).length, 1);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('tmp-')), []);
    for (const r of results) assert.ok(Buffer.from(r.y.buffer).equals(Buffer.from(results[0].y.buffer)));
    // two processes at once
    const script = `import { nodeRuntime } from ${JSON.stringify(new URL('../../src/runtime/node.node.ts', import.meta.url).href)};
      import { Graph } from ${JSON.stringify(new URL('../../src/graph/index.ts', import.meta.url).href)};
      const g = new Graph(); const x = g.input('x', 'float32', [1, 256]);
      const y = x.matmul(g.param('W', [256, 256], Float32Array.from({ length: 256 * 256 }, (_, k) => Math.sin(k))));
      const rt = nodeRuntime({ threads: 1, modelCache: { dir: process.argv[2], minBytes: 0 } });
      const m = await rt.loadGraph({ y });
      const out = await m.run({ x: { dtype: 'float32', shape: [1, 256], data: new Float32Array(256).fill(1) } });
      console.log(out.y.data[3]);`;
    const file = join(dir, '..', `hart-cache-child-${process.pid}.mts`);
    writeFileSync(file, script);
    try {
      const sh = spawnSync('bash', ['-c', `"${process.execPath}" --import tsx "${file}" "${dir}" & "${process.execPath}" --import tsx "${file}" "${dir}" & wait`], { encoding: 'utf8' });
      assert.equal(sh.status, 0, sh.stderr);
      const lines = sh.stdout.trim().split('\n');
      assert.equal(lines.length, 2);
      assert.equal(lines[0], lines[1]);
    } finally {
      rmSync(file, { force: true });
    }
    assert.equal(entries(dir).length, 2);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('tmp-')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model cache: bounded size (least recently used go first), unreadable entries recompiled, unwritable folder, off switch', async () => {
  const dir = tmp();
  try {
    await runOnce(dir, 5);
    const [first] = entries(dir);
    const one = await new DiskModelCache({ dir }).size();
    await new Promise((r) => setTimeout(r, 20));
    await runOnce(dir, 6);
    await new Promise((r) => setTimeout(r, 20));
    await runOnce(dir, 5); // a hit makes entry 5 the most recently used
    await new Promise((r) => setTimeout(r, 20));
    // room for about two entries: writing a third evicts the least recently used (6), not 5
    await runOnce(dir, 7, [], Math.floor(2.5 * one));
    const left = entries(dir);
    assert.equal(left.length, 2);
    assert.ok(left.includes(first), 'the recently used entry stays');
    assert.ok((await new DiskModelCache({ dir }).size()) <= 2.5 * one);

    // a corrupted entry: the load still works (compiled), and the entry is rewritten
    writeFileSync(join(dir, first, 'model.onnx'), 'not a model');
    const ev: LoadEvent[] = [];
    const r = await runOnce(dir, 5, ev);
    assert.deepEqual(ev.map((e) => [e.source, e.cached]), [['compiled', true]]);
    let err = 0;
    r.y.forEach((v, k) => { err = Math.max(err, Math.abs(v - r.want[k])); });
    assert.ok(err < 1e-5);
    const ev2: LoadEvent[] = [];
    await runOnce(dir, 5, ev2);
    assert.deepEqual(ev2.map((e) => e.source), ['disk-cache']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(defaultCacheDir({ HART_CACHE_DIR: 'off' }), null);
  assert.equal(defaultCacheDir({ HART_CACHE_DIR: '0' }), null);
  assert.equal(defaultCacheDir({ HART_CACHE_DIR: '/x/y' }), '/x/y');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/hart-js');
  assert.equal(nodeModelCache(false), undefined);
  // a cache folder that cannot be written (here: a file is in its way): the model runs from memory
  const blocked = tmp();
  try {
    writeFileSync(join(blocked, 'cache'), 'not a folder');
    const ev: LoadEvent[] = [];
    const r = await runOnce(join(blocked, 'cache'), 9, ev);
    assert.deepEqual(ev.map((e) => [e.source, e.cached]), [['compiled', false]]);
    let err = 0;
    r.y.forEach((v, k) => { err = Math.max(err, Math.abs(v - r.want[k])); });
    assert.ok(err < 1e-5);
  } finally {
    rmSync(blocked, { recursive: true, force: true });
  }
  // small models stay out of the cache by default
  const dir2 = tmp();
  try {
    const rt = nodeRuntime({ threads: 1, modelCache: { dir: dir2 } });
    await rt.loadGraph(mlp(8).outputs);
    await rt.dispose();
    assert.deepEqual(readdirSync(dir2), []);
  } finally {
    rmSync(dir2, { recursive: true, force: true });
  }
});

test('model cache: the fixture generation is bitwise the same from a warm cache', async () => {
  const dir = tmp();
  try {
    const ctxT = tensor('ctx.context');
    const posT = tensor('ctx.context_position_ids');
    const positionIds = [0, 1].map((b) => Array.from(posT.data.subarray(b * 8, b * 8 + 8)));
    const context = { dtype: 'float32' as const, shape: ctxT.shape, data: Float32Array.from(ctxT.data) };
    const generate = async (modelCache: false | { dir: string; minBytes: number }, events: LoadEvent[] = []) => {
      const rt = nodeRuntime({ threads: 2, modelCache, onLoad: (e) => events.push(e) });
      const parts = await loadHart(diskFiles(fixtureDir()), rt);
      const images = await runGeneration(parts, { context, positionIds }, resolveOptions(2, { seed: 5, cfg: 4.5, moreSmooth: false }));
      await rt.dispose();
      return Buffer.concat(images.map((im) => Buffer.from(im.data.buffer, im.data.byteOffset, im.data.byteLength)));
    };
    const want = await generate(false);
    const cold: LoadEvent[] = [], warm: LoadEvent[] = [];
    assert.ok((await generate({ dir, minBytes: 0 }, cold)).equals(want), 'cold cache');
    assert.ok(cold.length > 3 && cold.every((e) => e.source === 'compiled' && e.cached), JSON.stringify(cold));
    assert.ok((await generate({ dir, minBytes: 0 }, warm)).equals(want), 'warm cache');
    assert.ok(warm.length === cold.length && warm.every((e) => e.source === 'disk-cache'), JSON.stringify(warm));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model cache: a keyed model files its derived results under the graph and the options that change it, the same through loadGraph and loadGraphUncached', async () => {
  const dir = tmp();
  try {
    const rt = nodeRuntime({ threads: 1, modelCache: { dir, minBytes: 0 } });
    const { outputs } = mlp(3);
    const uncached = [await rt.loadGraphUncached(outputs), await rt.loadGraphUncached(outputs, { prepack: false })];
    const keys = [
      (await rt.loadGraph(outputs)).cacheKey, uncached[0].cacheKey, (await rt.loadGraph(outputs, { prepack: false })).cacheKey, uncached[1].cacheKey,
    ];
    for (const m of uncached) await m.release();
    assert.ok(keys.every((k) => typeof k === 'string' && k.length > 0), 'every keyed load has a cache key');
    assert.equal(keys[0], keys[1]);
    assert.equal(keys[2], keys[3]);
    assert.notEqual(keys[0], keys[2], 'prepack false runs another graph (fused Linear weights): its results are filed apart');
    await rt.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
