// ONNX emission speed for a graph with large weights: seconds to emit N × C² float32 Linear
// weights, as a ratio to one copy of the same bytes in the same run (the floor: emission must copy
// each weight into the model bytes once). Prints one JSON object.
//   npx tsx bench/emit.ts [--layers 28] [--width 1536]
import { parseArgs } from 'node:util';
import { Graph, emitOnnx } from '../src/graph/index.ts';
import { MapWeightStore, Params } from '../src/nn/params.ts';
import type { StoredTensor } from '../src/nn/params.ts';
import { linear } from '../src/nn/layers.ts';

const { values } = parseArgs({ options: { layers: { type: 'string', default: '28' }, width: { type: 'string', default: '1536' } } });
const n = Number(values.layers), C = Number(values.width);
const g = new Graph();
const store = new Map<string, StoredTensor>();
for (let i = 0; i < n; i++) store.set(`l${i}.weight`, { dtype: 'float32', shape: [C, C], data: new Float32Array(C * C).fill(0.01) });
const p = new Params(g, new MapWeightStore(store));
let x = g.input('x', 'float32', ['B', C]);
for (let i = 0; i < n; i++) x = linear(p.scope(`l${i}`), x, C, false);
const bytes = n * C * C * 4;
const src = new Uint8Array(bytes).fill(1);
let t0 = performance.now();
const copy = new Uint8Array(bytes);
copy.set(src);
const copySeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
const m = emitOnnx({ outputs: { y: x } });
const emitSeconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({
  bench: 'emit', weights_MiB: +(bytes / 2 ** 20).toFixed(1), model_MiB: +(m.bytes.byteLength / 2 ** 20).toFixed(1),
  emit_seconds: +emitSeconds.toFixed(3), copy_seconds: +copySeconds.toFixed(3), emit_vs_copy: +(emitSeconds / copySeconds).toFixed(2),
}));
