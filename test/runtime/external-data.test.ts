// Weights in an external data file (how models over protobuf's 2 GB limit are emitted) give the
// same results as inline initializers, on onnxruntime-node (temp folder) and onnxruntime-web (in memory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, emitOnnx } from '../../src/graph/index.ts';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { webRuntime } from '../../src/runtime/web.ts';
import { f32 } from '../../src/runtime/host-tensor.ts';

function model(threshold?: number) {
  const g = new Graph();
  const x = g.input('x', 'float32', ['B', 64]);
  const w1 = g.param('w1', [64, 300], Float32Array.from({ length: 64 * 300 }, (_, i) => Math.sin(i) * 0.1));
  const w2 = g.param('w2', [300, 8], Float32Array.from({ length: 300 * 8 }, (_, i) => Math.cos(i) * 0.1));
  const b = g.param('b', [8], Float32Array.from({ length: 8 }, (_, i) => i));
  return emitOnnx({ outputs: { y: x.matmul(w1).tanh().matmul(w2).add(b) }, externalDataThreshold: threshold });
}

test('external data: layout and identical results on node and web', async () => {
  const inline = model(), ext = model(1024);
  assert.equal(inline.externalData, undefined);
  assert.ok(ext.externalData);
  assert.equal(ext.externalData.chunks.length, 2); // w1 and w2; the 32-byte bias stays inline
  assert.ok(ext.externalData.chunks.every((c) => c.offset % 4096 === 0));
  assert.ok(ext.bytes.length < 4096);
  const x = f32(Array.from({ length: 3 * 64 }, (_, i) => (i % 7) - 3), [3, 64]);
  const node = nodeRuntime({ threads: 1 });
  const want = (await (await node.load(inline)).run({ x })).y.data as Float32Array;
  const gotNode = (await (await node.load(ext)).run({ x })).y.data as Float32Array;
  assert.deepEqual(gotNode, want);
  const web = await webRuntime({ threads: 1 });
  const gotWeb = (await (await web.load(ext)).run({ x })).y.data as Float32Array;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(gotWeb[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])));
  await node.dispose();
  await web.dispose();
});
