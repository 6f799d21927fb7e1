// The same emitted graph gives the same numbers on onnxruntime-node (CPU) and onnxruntime-web's
// wasm backend (run under Node); emission is deterministic; the session cache reuses sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, concat, emitOnnx, grad } from '../../src/graph/index.ts';
import type { Tensor } from '../../src/graph/index.ts';
import { MapWeightStore, Params } from '../../src/nn/params.ts';
import type { StoredTensor } from '../../src/nn/params.ts';
import { conv2d, groupNorm, layerNorm, linear, upsampleNearest2x } from '../../src/nn/layers.ts';
import { attention } from '../../src/nn/attention.ts';
import { nodeRuntime } from '../../src/runtime/node.node.ts';
import { webRuntime } from '../../src/runtime/web.ts';
import { hostTensor } from '../../src/runtime/host-tensor.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { bicubicMatrix } from '../../src/tables/resample.ts';
import { assertClose, toArr } from '../graph/harness.ts';
import { uniform } from '../graph/ref.ts';

/** A small model touching most op kinds (float32, symbolic batch), with its loss gradients. */
function buildModel(): { outputs: Record<string, Tensor>; feeds: Record<string, HostTensor> } {
  const g = new Graph();
  const store = new Map<string, StoredTensor>();
  let seed = 1;
  const w = (name: string, shape: number[], scale = 0.3) => store.set(name, {
    dtype: 'float32', shape, data: Float32Array.from(uniform(shape.reduce((a, b) => a * b, 1), seed++, -scale, scale)),
  });
  w('conv1.weight', [8, 3, 3, 3]); w('conv1.bias', [8]); w('norm.weight', [8], 1); w('norm.bias', [8]);
  w('down.weight', [8, 8, 3, 3]); w('down.bias', [8]); w('emb', [10, 8]); w('ln.weight', [8], 1); w('ln.bias', [8]);
  w('qkv.weight', [24, 8]); w('qkv.bias', [24]); w('head.weight', [10, 8]); w('head.bias', [10]);
  const p = new Params(g, new MapWeightStore(store));
  const img = g.input('img', 'float32', ['B', 3, 8, 8]);
  const ids = g.input('ids', 'int64', ['B', 3]);
  let h = conv2d(p.scope('conv1'), img, 8, 3, { padding: 1 });
  h = groupNorm(p.scope('norm'), h, 4, 1e-6).silu();
  h = conv2d(p.scope('down'), h.pad([0, 0, 0, 0, 0, 0, 1, 1]), 8, 3, { stride: 2 }); // [B, 8, 4, 4]
  const up = upsampleNearest2x(h); // [B, 8, 8, 8]
  const Mh = g.constant(Float32Array.from(bicubicMatrix(4, 6)), [6, 4]);
  const resized = Mh.matmul(h).matmul(Mh.mT()); // [B, 8, 6, 6]
  const tokens = h.reshape([0, 8, 16]).transpose([0, 2, 1]); // [B, 16, 8]
  const emb = p.get('emb', [10, 8]).gather(ids, 0); // [B, 3, 8]
  let x = layerNorm(p.scope('ln'), concat([emb, tokens], 1), 1e-5); // [B, 19, 8]
  const qkv = linear(p.scope('qkv'), x, 24).reshape([0, 0, 3, 2, 4]).transpose([2, 0, 3, 1, 4]);
  const [q, k, v] = [0, 1, 2].map((i) => qkv.slice([0], [i], [i + 1]).squeeze([0]));
  x = x.add(attention(q, k, v, 0.5).transpose([0, 2, 1, 3]).reshape([0, 0, 8]).gelu());
  const logits = linear(p.scope('head'), x.mean([1]), 10);
  const target = ids.slice([1], [0], [1]).squeeze([1]).oneHot(10);
  const loss = logits.logSoftmax(-1).mul(target).sum([1]).mean([0]).neg();
  const wrt = g.params.filter((t) => t.name === 'conv1.weight' || t.name === 'qkv.weight' || t.name === 'emb');
  const grads = grad(loss, wrt);
  const outputs: Record<string, Tensor> = {
    logits, loss, up: up.sum([2, 3]), resized, probs: logits.softmax(-1), top: logits.argmax(-1).cast('float32'),
  };
  grads.forEach((t, i) => (outputs[`grad_${wrt[i].name}`] = t));
  const feeds = {
    img: hostTensor(Float32Array.from(uniform(2 * 3 * 64, 99)), [2, 3, 8, 8]),
    ids: hostTensor(BigInt64Array.from([3n, 1n, 4n, 1n, 5n, 9n]), [2, 3]),
  };
  return { outputs, feeds };
}

test('onnxruntime-node and onnxruntime-web (wasm) agree to 1e-5 relative', async () => {
  const { outputs, feeds } = buildModel();
  const model = emitOnnx({ outputs });
  const node = nodeRuntime({ threads: 1 });
  const web = await webRuntime({ threads: 1 });
  const a = await (await node.load(model)).run(feeds);
  const b = await (await web.load(model)).run(feeds);
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const name of Object.keys(a)) {
    assert.equal(b[name].dtype, a[name].dtype, name);
    const x = toArr(a[name]), y = toArr(b[name]);
    // relative to the tensor's scale: elementwise rtol would be meaningless for entries that cancel to ~0
    const scale = Math.max(...Array.from(x.data, Math.abs));
    assertClose(y, x, { atol: 1e-5 * scale, rtol: 1e-5 }, `${name} (scale ${scale.toExponential(2)})`);
  }
  await web.dispose();
  await node.dispose();
});

test('emitting the same graph twice, or building it twice, gives identical bytes', () => {
  const a = buildModel(), b = buildModel();
  const m1 = emitOnnx({ outputs: a.outputs });
  const m2 = emitOnnx({ outputs: a.outputs });
  const m3 = emitOnnx({ outputs: b.outputs });
  assert.deepEqual(m2.bytes, m1.bytes);
  assert.deepEqual(m3.bytes, m1.bytes);
  const t1 = emitOnnx({ outputs: a.outputs, paramsAsInputs: true });
  const t2 = emitOnnx({ outputs: b.outputs, paramsAsInputs: true });
  assert.deepEqual(t2.bytes, t1.bytes);
  assert.deepEqual(t1.paramNames, t2.paramNames);
  assert.notDeepEqual(t1.bytes, m1.bytes);
});

test('the session cache returns one session per distinct model', async () => {
  const rt = nodeRuntime({ threads: 1 });
  const { outputs, feeds } = buildModel();
  const m1 = emitOnnx({ outputs });
  const m2 = emitOnnx({ outputs: buildModel().outputs });
  const [s1, s2] = await Promise.all([rt.load(m1), rt.load(m2)]); // concurrent loads share one creation
  assert.equal(s1, s2);
  assert.equal(await rt.load(m1), s1);
  const other = await rt.load(emitOnnx({ outputs: { loss: outputs.loss } }));
  assert.notEqual(other, s1);
  const r1 = await s1.run(feeds), r2 = await other.run(feeds);
  assert.deepEqual(r2.loss.data, r1.loss.data);
  await rt.dispose();
  const fresh = await rt.load(m1);
  assert.notEqual(fresh, s1, 'dispose empties the cache');
  await rt.dispose();
});

test('pre-allocated outputs (views into a larger buffer) are written on both backends', async () => {
  // the KV caches are fetched this way; onnxruntime-web hands such tensors back unwritten, so the
  // web adapter copies (RuntimeOptions.outputsInPlace) — without it the browser ran with empty caches
  const { outputs, feeds } = buildModel();
  const model = emitOnnx({ outputs: { logits: outputs.logits, probs: outputs.probs } });
  for (const rt of [nodeRuntime({ threads: 1 }), await webRuntime({ threads: 1 })]) {
    const m = await rt.load(model);
    const want = await m.run(feeds);
    const big = new Float32Array(3 * 20).fill(-7);
    const r = await m.run(feeds, { logits: hostTensor(big.subarray(20, 40), [2, 10]), probs: null });
    assert.deepEqual(Array.from(big.subarray(20, 40)), Array.from(want.logits.data as Float32Array), 'written behind the offset');
    assert.ok(big.subarray(0, 20).every((v) => v === -7) && big.subarray(40).every((v) => v === -7), 'nothing outside the view');
    assert.deepEqual(Array.from(r.logits.data as Float32Array), Array.from(want.logits.data as Float32Array));
    assert.deepEqual(Array.from(r.probs.data as Float32Array), Array.from(want.probs.data as Float32Array));
    await rt.dispose();
  }
});
