// safetensors: the official-code fixtures (checked against reference.json and re-written byte for
// byte), hand-built byte layouts, every validation error, and a seeded fuzz test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureDir } from '../fixtures.ts';
import { type Tensor, DTYPES, allocate, float32ToBfloat16Bits, float32ToFloat16Bits } from '../../src/io/dtypes.ts';
import { parseSafetensors, readSafetensors, safetensorsSource, writeSafetensors } from '../../src/io/safetensors.ts';
import { rng } from './build-torch.ts';

const fx = (p: string) => new Uint8Array(readFileSync(join(fixtureDir(), p)));

/** Builds a raw safetensors file from a header object and a data region. */
function raw(header: unknown, data = new Uint8Array(0), headerText?: string): Uint8Array {
  const h = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test('fixtures: every tensor matches reference.json, and re-writing reproduces the files byte for byte', () => {
  const ref = JSON.parse(readFileSync(join(fixtureDir(), 'reference.json'), 'utf8')) as { entries: { name: string; shape: number[]; dtype: string }[] };
  const bytes = fx('reference.safetensors');
  const f = parseSafetensors(bytes, 'reference.safetensors');
  assert.equal(f.tensors.size, 225);
  assert.equal(ref.entries.length, 225);
  for (const e of ref.entries) {
    const t = f.tensors.get(e.name);
    assert.ok(t, e.name);
    assert.deepEqual(t.shape, e.shape, e.name);
    assert.match(e.dtype, new RegExp(t.dtype.replace('float', '(float|F)').replace('int', '(int|I)').replace('bool', '(bool|BOOL)'), 'i'), e.name);
  }
  assert.equal(f.metadata.format, 'pt');
  for (const [file, count] of [['reference.safetensors', 225], ['llm/model.safetensors', 65], ['tokenizer/model.safetensors', 346]] as const) {
    const b = fx(file);
    const all = readSafetensors(b, file);
    assert.equal(all.size, count, file);
    assert.deepEqual(writeSafetensors(all, parseSafetensors(b).metadata), b, file);
  }
  const llm = parseSafetensors(fx('llm/model.safetensors'));
  const lvl = llm.get('lvl_1L');
  assert.equal(lvl.dtype, 'int64');
  assert.ok(lvl.data instanceof BigInt64Array);
  // 8 context tokens + the 1x1 scale are level 0, then 4 tokens of level 1, ..., the last at level 6
  assert.deepEqual([...(lvl.data as BigInt64Array).subarray(7, 13)], [0n, 1n, 1n, 1n, 1n, 2n]);
  assert.equal((lvl.data as BigInt64Array)[161], 6n);
  const bias = llm.getFloat32('attn_bias_for_masking'); // [1,1,162,162], block-causal by level
  assert.equal(bias[7], 0);
  assert.equal(bias[8], -Infinity); // a level-0 token cannot see level 1
  assert.equal(bias[8 * 162 + 11], 0); // level 1 sees its own level
  assert.equal(bias.filter((x) => x === -Infinity).length, 9905);
});

test('writes the exact bytes of the safetensors layout', () => {
  const out = writeSafetensors({ b: { dtype: 'float32', shape: [1], data: new Float32Array([1]) }, a: { dtype: 'uint8', shape: [2], data: new Uint8Array([7, 9]) } }, { k: 'v' });
  const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const expected = new Uint8Array([...new Uint8Array(new BigUint64Array([BigInt(padded.length)]).buffer), ...new TextEncoder().encode(padded), 7, 9, 0, 0, 0x80, 0x3f]);
  assert.deepEqual(out, expected);
  assert.equal((out.length - 6) % 8, 0);
});

test('round-trips every dtype, scalars and empty tensors; unaligned input is copied', async () => {
  const tensors = new Map<string, Tensor>();
  for (const d of DTYPES) {
    const data = allocate(d, 6);
    const v = (i: number) => (d === 'bool' ? i % 2 : d === 'uint8' ? i * 3 : i * 3 - 7);
    for (let i = 0; i < 6; i++) {
      (data as unknown as { [i: number]: number | bigint })[i] =
        d === 'int64' ? BigInt(v(i)) : d === 'float16' ? float32ToFloat16Bits(v(i)) : d === 'bfloat16' ? float32ToBfloat16Bits(v(i)) : v(i);
    }
    tensors.set(`t.${d}`, { dtype: d, shape: [2, 3], data });
  }
  tensors.set('scalar', { dtype: 'float64', shape: [], data: new Float64Array([Math.PI]) });
  tensors.set('empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) });
  const bytes = writeSafetensors(tensors);
  const back = readSafetensors(bytes);
  assert.deepEqual([...back.keys()], [...tensors.keys()].sort());
  for (const [n, t] of tensors) assert.deepEqual(back.get(n), t, n);
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const back2 = readSafetensors(shifted.subarray(1));
  for (const [n, t] of tensors) assert.deepEqual(back2.get(n), t, n);
  const src = await safetensorsSource(bytes);
  assert.deepEqual(src.names(), [...back.keys()]);
  assert.deepEqual(src.info('scalar'), { dtype: 'float64', shape: [] });
  assert.deepEqual(await src.read('t.int64'), tensors.get('t.int64'));
  assert.deepEqual([...parseSafetensors(bytes).getFloat32('t.float16')], [-7, -4, -1, 2, 5, 8]);
  assert.deepEqual([...parseSafetensors(bytes).getFloat32('t.bfloat16')], [-7, -4, -1, 2, 5, 8]);
  assert.throws(() => parseSafetensors(bytes, 'x.safetensors').get('nope'), /x.safetensors: no tensor named "nope"/);
  assert.throws(() => writeSafetensors({ a: { dtype: 'float32', shape: [3], data: new Float32Array(2) } }), /"a": shape \[3\] has 3 elements but data has 2/);
  assert.throws(() => writeSafetensors({ a: { dtype: 'float16', shape: [1], data: new Float32Array(1) } }), /float16 cannot be stored in a Float32Array/);
});

test('rejects malformed files with clear errors', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const d8 = new Uint8Array(8);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /bad.st: file is 5 bytes, shorter than the 8-byte header length/],
    [new Uint8Array([100, 0, 0, 0, 0, 0, 0, 0, 1, 2]), /header length 100 runs past the end of the 10-byte file/],
    [new Uint8Array([0, 0, 0, 0x7f, 0, 0, 0, 0]), /header length 2130706432 is absurd/],
    [new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0, 0]), /is absurd/],
    [raw(null, d8, '{"a":\xff}').map((b, i) => (i === 13 ? 0xff : b)), /header is not valid UTF-8/],
    [raw(null, d8, '{"a":'), /header is not valid JSON/],
    [raw(null, d8, '[1,2]'), /header is not a JSON object/],
    [raw({ a: { dtype: 'F32', shape: [2] } }, d8), /tensor "a": entry must have exactly dtype, shape, data_offsets \(has dtype,shape\)/],
    [raw({ a: { ...ok.a, extra: 1 } }, d8), /entry must have exactly/],
    [raw({ a: 5 }, d8), /tensor "a": entry is not an object/],
    [raw({ a: { ...ok.a, dtype: 'F8_E5M2' } }, d8), /tensor "a": unsupported safetensors dtype "F8_E5M2"/],
    [raw({ a: { ...ok.a, dtype: 3 } }, d8), /dtype is not a string/],
    [raw({ a: { ...ok.a, shape: [-2] } }, d8), /shape \[-2\] is not a list of non-negative integers/],
    [raw({ a: { ...ok.a, shape: [2.5] } }, d8), /shape \[2.5\] is not/],
    [raw({ a: { ...ok.a, shape: '2' } }, d8), /shape "2" is not/],
    [raw({ a: { ...ok.a, data_offsets: [8, 0] } }, d8), /data_offsets \[8, 0\] are reversed/],
    [raw({ a: { ...ok.a, data_offsets: [0, 16] } }, d8), /data_offsets \[0, 16\] run past the 8-byte data region/],
    [raw({ a: { ...ok.a, data_offsets: [0] } }, d8), /data_offsets \[0\] is not a pair/],
    [raw({ a: { ...ok.a, shape: [3] } }, d8), /tensor "a": 8 bytes but F32\[3\] needs 12/],
    [raw(ok, new Uint8Array(12)), /tensors cover 8 bytes of the 12-byte data region/],
    [raw({ a: ok.a, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8), /tensor "b" starts at data offset 4, expected 8 \(overlaps the previous tensor\)/],
    [raw({ a: { ...ok.a, shape: [1], data_offsets: [4, 8] } }, d8), /tensor "a" starts at data offset 4, expected 0 \(leaves a gap\)/],
    [raw({ __metadata__: { k: 1 }, ...ok }, d8), /__metadata__.k is not a string/],
    [raw({ a: { ...ok.a, shape: [2 ** 40, 2 ** 40] } }, d8), /needs/],
  ];
  for (const [bytes, re] of cases) assert.throws(() => parseSafetensors(bytes, 'bad.st'), (e: Error) => e instanceof Error && re.test(e.message), String(re));
  assert.equal(parseSafetensors(raw(ok, d8)).tensors.size, 1);
});

test('fuzz: truncations, byte flips and length corruption only ever give a value or an Error', () => {
  const tensors = new Map<string, Tensor>();
  for (const d of DTYPES) tensors.set(`w.${d}`, { dtype: d, shape: [3, 1], data: allocate(d, 3) });
  const good = writeSafetensors(tensors, { format: 'pt' });
  const headerEnd = 8 + new DataView(good.buffer).getUint32(0, true);
  const r = rng(20241016);
  let parsed = 0, rejected = 0;
  for (let i = 0; i < 3000; i++) {
    let b = good.slice();
    const kind = i % 4;
    if (kind === 0) b = b.subarray(0, Math.floor(r() * b.length));
    else if (kind === 1) for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b[Math.floor(r() * headerEnd)] = Math.floor(r() * 256);
    else if (kind === 2) b[Math.floor(r() * 8)] = Math.floor(r() * 256);
    else {
      // corrupt a digit of the header JSON (shapes, offsets)
      const digits = [...b.subarray(8, headerEnd).keys()].filter((j) => b[8 + j] >= 0x30 && b[8 + j] <= 0x39);
      b[8 + digits[Math.floor(r() * digits.length)]] = 0x30 + Math.floor(r() * 10);
    }
    try {
      const f = parseSafetensors(b, 'fuzz');
      for (const n of f.tensors.keys()) f.getFloat32(n);
      parsed++;
    } catch (e) {
      assert.ok(e instanceof Error && e.message.startsWith('fuzz: ') && e.message.length > 10, String(e));
      rejected++;
    }
  }
  assert.ok(parsed > 0 && rejected > 1000, `parsed ${parsed}, rejected ${rejected}`);
});
