// ProtoWriter: large byte fields are referenced and spliced in at finish(); the bytes must equal a
// plain protobuf encoding, whatever the mix of small and large fields and nesting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoWriter } from '../../src/graph/onnx/proto.ts';

const varint = (v: number) => { const o: number[] = []; while (v >= 0x80) { o.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); } o.push(v); return o; };
const field = (f: number, data: ArrayLike<number>) => [...varint((f << 3) | 2), ...varint(data.length), ...Array.from(data)];

test('nested messages with referenced weights encode as plain protobuf', () => {
  const big = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255);
  const big2 = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 13) & 255);
  const w = new ProtoWriter();
  w.int(1, 8);
  w.message(7, (g) => {
    g.string(2, 'name');
    g.message(5, (t) => { t.int(1, 3); t.bytes(9, big); t.int(2, 1); });
    g.message(5, (t) => { t.bytes(9, Uint8Array.of(1, 2, 3)); });
    g.message(5, (t) => { t.bytes(9, big2); });
    g.int(3, 300);
  });
  const tensor1 = [...varint(1 << 3), 3, ...field(9, big), ...varint(2 << 3), 1];
  const tensor2 = field(9, [1, 2, 3]);
  const tensor3 = field(9, big2);
  const graph = [...field(2, new TextEncoder().encode('name')), ...field(5, tensor1), ...field(5, tensor2), ...field(5, tensor3), ...varint(3 << 3), ...varint(300)];
  const want = Uint8Array.from([...varint(1 << 3), 8, ...field(7, graph)]);
  const got = w.finish();
  assert.equal(got.length, want.length);
  assert.ok(Buffer.from(got).equals(Buffer.from(want)));
  assert.ok(Buffer.from(w.finish()).equals(Buffer.from(want)), 'finish() twice gives the same bytes');
});
