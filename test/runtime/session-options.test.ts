// The ONNX Runtime session options a Runtime asks for (src/runtime/runtime.ts sessionOptions): the
// threading settings reach InferenceSession.create as ORT's session config entries, and Node's
// runtime stops intra-op spinning at the end of each run by default (several sessions run in turn
// per image; spinning pools of one take the cores from the next), unless told otherwise; its
// default thread count is the physical cores (/proc/cpuinfo, capped by affinity and a cgroup quota),
// shared out among concurrent jobs by hart serve and hart worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/graph/index.ts';
import { availableParallelism } from 'node:os';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { cgroupCpusOf, physicalCores, physicalCoresOf, threadsPerJob } from '../../src/runtime/cpu-cores.node.ts';
import { ort } from '../../src/runtime/ort-node.node.ts';
import { Runtime, type LoadOptions, type OrtModule, type RuntimeOptions } from '../../src/runtime/runtime.ts';

/** The options of every session `options` makes, through the real ORT with a recording create(). */
async function sessionOptionsOf(options: RuntimeOptions, load?: LoadOptions): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  const real = ort as unknown as OrtModule;
  const recording: OrtModule = {
    ...real,
    InferenceSession: { create: (model, o) => { seen.push({ ...o }); return real.InferenceSession.create(model, o); } },
  };
  const rt = new Runtime(recording, options);
  const g = new Graph();
  const x = g.input('x', 'float32', [2]);
  const m = await rt.loadGraph({ y: x.mul(x) }, load);
  const y = (await m.run({ x: { dtype: 'float32', shape: [2], data: Float32Array.of(2, 3) } })).y.data as Float32Array;
  assert.deepEqual([...y], [4, 9], 'the session runs');
  await rt.dispose();
  return seen;
}

test('session options: threads, spinning and spinning stop become ORT session settings', async () => {
  const [o] = await sessionOptionsOf({ threads: 2, allowSpinning: true, forceSpinningStop: true });
  assert.equal(o.intraOpNumThreads, 2);
  assert.deepEqual(o.extra, { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } });
  const [off] = await sessionOptionsOf({ forceSpinningStop: false });
  assert.equal(off.intraOpNumThreads, undefined, 'no thread count: ORT chooses');
  assert.deepEqual(off.extra, { session: { force_spinning_stop: '0' } });
  // a graph loaded with its own thread count (LoadOptions.threads: 1 for small graphs) overrides the runtime's
  const [one] = await sessionOptionsOf({ threads: 2 }, { threads: 1 });
  assert.equal(one.intraOpNumThreads, 1);
  const [none] = await sessionOptionsOf({});
  assert.equal(none.extra, undefined, 'nothing asked: ORT defaults');
});

test('session options: Node runtime stops spinning after each run unless told otherwise', () => {
  assert.equal(nodeRuntime().options.forceSpinningStop, true);
  assert.equal(nodeRuntime({ forceSpinningStop: false }).options.forceSpinningStop, false);
  assert.equal(nodeRuntime({ threads: 2 }).options.forceSpinningStop, true);
});

test('session options: Node runtime threads default to the physical cores it may use', () => {
  const cores = physicalCores();
  if (process.platform === 'linux') {
    assert.ok(cores !== undefined && cores >= 1 && cores <= availableParallelism(), `physical cores ${cores}`);
  }
  assert.equal(nodeRuntime().options.threads, cores);
  assert.equal(nodeRuntime({ threads: 3 }).options.threads, 3, 'an explicit count wins');
});

test('physical cores: /proc/cpuinfo pairs and cgroup quotas are read as Linux writes them', () => {
  const cpu = (p: number, phys: number, core: number) => `processor\t: ${p}\nvendor_id\t: X\nphysical id\t: ${phys}\nsiblings\t: 4\ncore id\t\t: ${core}\n`;
  // 2 sockets × 2 cores × 2 hyperthreads: 8 logical, 4 physical
  const smt = [0, 1, 2, 3, 4, 5, 6, 7].map((p) => cpu(p, p >> 2, (p >> 1) & 1)).join('\n');
  assert.equal(physicalCoresOf(smt), 4);
  assert.equal(physicalCoresOf([0, 1].map((p) => cpu(p, 0, p)).join('\n')), 2, 'one thread per core: every CPU');
  assert.equal(physicalCoresOf('processor\t: 0\nmodel name\t: ARMv8\n'), undefined, 'no core ids: unknown');
  assert.equal(cgroupCpusOf('max 100000\n'), undefined);
  assert.equal(cgroupCpusOf('150000 100000\n'), 2);
  assert.equal(cgroupCpusOf('50000 100000'), 1);
  assert.equal(cgroupCpusOf('garbage'), undefined);
});

test('threads per job: concurrent generations share the cores, at least one thread each', () => {
  assert.equal(threadsPerJob(1, 8), 8);
  assert.equal(threadsPerJob(3, 8), 2);
  assert.equal(threadsPerJob(2, 2), 1);
  assert.equal(threadsPerJob(16, 4), 1);
  assert.equal(threadsPerJob(0, 4), 4, 'serve --concurrency 0 (front end only): as one');
  assert.equal(threadsPerJob(1), physicalCores());
});

test('LoadOptions.threads: a graph loaded with its own thread count is its own session, with the same outputs', async () => {
  const rt = nodeRuntime({ threads: 2, modelCache: false });
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 3]);
  const y = x.matmul(g.param('W', [3, 2], Float32Array.of(1, 2, 3, 4, 5, 6))).tanh();
  const shared = await rt.loadGraph({ y }), again = await rt.loadGraph({ y }), single = await rt.loadGraph({ y }, { threads: 1 });
  assert.equal(again, shared, 'the same load options share a session');
  assert.notEqual(single, shared, 'another thread count is another session');
  const feeds = { x: { dtype: 'float32' as const, shape: [2, 3], data: Float32Array.of(0.1, -0.2, 0.3, 0.4, 0.5, -0.6) } };
  assert.deepEqual([...((await single.run(feeds)).y.data as Float32Array)], [...((await shared.run(feeds)).y.data as Float32Array)]);
  await rt.dispose();
});
