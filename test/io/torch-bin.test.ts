// PyTorch .bin reader: the official ema_model.bin against its safetensors twin (every tensor,
// bitwise), strided views / zip64 / dtypes built in memory, and malicious or broken inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureDir } from '../fixtures.ts';
import { bytesOf, float32ToBfloat16Array, float32ToFloat16Array } from '../../src/io/dtypes.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { bytesAccess, readAll } from '../../src/io/tensor-source.ts';
import { openTorchBin } from '../../src/io/torch-bin.ts';
import { unpickle } from '../../src/io/pickle.ts';
import { type FakeTensor, PickleWriter, makeZip, rng, statePickle, torchZip } from './build-torch.ts';

const fx = (p: string) => new Uint8Array(readFileSync(join(fixtureDir(), p)));
const open = (b: Uint8Array) => openTorchBin(bytesAccess(b), 'ckpt.bin');
const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: Error) => e instanceof Error && re.test(e.message), String(re));
const f32bytes = (xs: number[]) => bytesOf(new Float32Array(xs));

test('official ema_model.bin equals llm/model.safetensors, every tensor bitwise', async () => {
  const src = await open(fx('llm/ema_model.bin'));
  const ref = readSafetensors(fx('llm/model.safetensors'));
  assert.equal(src.names().length, 65);
  assert.deepEqual(src.names(), [...ref.keys()]);
  for (const name of src.names()) {
    const t = await src.read(name), r = ref.get(name)!;
    assert.equal(t.dtype, r.dtype, name);
    assert.deepEqual(t.shape, r.shape, name);
    assert.deepEqual(src.info(name), { dtype: r.dtype, shape: r.shape });
    assert.ok(Buffer.compare(bytesOf(t.data), bytesOf(r.data)) === 0, `${name} differs`);
  }
  assert.equal(src.info('lvl_1L').dtype, 'int64');
  const bias = (await src.read('attn_bias_for_masking')).data as Float32Array;
  assert.equal(bias[8], -Infinity);
  await rejects(src.read('nope'), /ckpt.bin: no tensor named "nope"/);
});

test('strided views, storage offsets, shared storages and every torch dtype', async () => {
  const T = (name: string, storage: string, key: string, numel: number, offset: number, shape: number[], stride: number[]): FakeTensor => ({ name, storage, key, numel, offset, shape, stride });
  const tensors = [
    T('m', 'FloatStorage', '0', 7, 1, [2, 3], [3, 1]), // contiguous with offset 1
    T('mT', 'FloatStorage', '0', 7, 1, [3, 2], [1, 3]), // transpose of m
    T('every2', 'FloatStorage', '0', 7, 0, [2, 2], [4, 2]), // [[0,2],[4,6]]
    T('bcast', 'FloatStorage', '0', 7, 5, [2, 3], [0, 0]), // expand of a scalar
    T('scalar', 'FloatStorage', '0', 7, 6, [], []),
    T('empty', 'FloatStorage', '0', 7, 0, [0, 5], [5, 1]),
    T('h', 'HalfStorage', '1', 2, 0, [2], [1]),
    T('bf', 'BFloat16Storage', '2', 2, 0, [2], [1]),
    T('l', 'LongStorage', '3', 3, 0, [3], [1]),
    T('b', 'BoolStorage', '4', 2, 0, [2], [1]),
    T('d', 'DoubleStorage', '5', 1, 0, [1], [1]),
  ];
  const storages = {
    '0': f32bytes([0, 1, 2, 3, 4, 5, 6]), '1': bytesOf(float32ToFloat16Array([1.5, -2])), '2': bytesOf(float32ToBfloat16Array([3, -0.5])),
    '3': bytesOf(new BigInt64Array([-1n, 2n ** 40n, 7n])), '4': new Uint8Array([1, 0]), '5': bytesOf(new Float64Array([Math.E])),
  };
  for (const zip64 of [false, true]) {
    const src = await open(torchZip(statePickle(tensors), storages, { zip64, byteorder: 'little' }));
    const all = await readAll(src);
    const v = (n: string) => [...(all.get(n)!.data as Float32Array)];
    assert.deepEqual(v('m'), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(v('mT'), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(all.get('mT')!.shape, [3, 2]);
    assert.deepEqual(v('every2'), [0, 2, 4, 6]);
    assert.deepEqual(v('bcast'), [5, 5, 5, 5, 5, 5]);
    assert.deepEqual(v('scalar'), [6]);
    assert.deepEqual(all.get('empty'), { dtype: 'float32', shape: [0, 5], data: new Float32Array(0) });
    assert.deepEqual(all.get('h')!.data, float32ToFloat16Array([1.5, -2]));
    assert.equal(all.get('bf')!.dtype, 'bfloat16');
    assert.deepEqual(all.get('l')!.data, new BigInt64Array([-1n, 2n ** 40n, 7n]));
    assert.deepEqual(all.get('b'), { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) });
    assert.deepEqual(all.get('d')!.data, new Float64Array([Math.E]));
  }
  // big-endian archives are byte-swapped
  const be = new Uint8Array([0x3f, 0x80, 0, 0, 0x40, 0, 0, 0]);
  const src = await open(torchZip(statePickle([T('x', 'FloatStorage', '0', 2, 0, [2], [1])]), { '0': be }, { byteorder: 'big' }));
  assert.deepEqual((await src.read('x')).data, new Float32Array([1, 2]));
  assert.deepEqual(be, new Uint8Array([0x3f, 0x80, 0, 0, 0x40, 0, 0, 0]));
});

test('refuses globals outside the allow-list and unknown opcodes, naming them', async () => {
  const evil1 = new PickleWriter().proto().global('os', 'system').str('echo pwned').op(0x85).reduce().stop().bytes();
  const evil2 = new PickleWriter().proto(4).stackGlobal('builtins', 'eval').str('1+1').op(0x85).reduce().stop().bytes();
  const evil3 = new PickleWriter().proto().global('torch', 'load').stop().bytes();
  await rejects(open(torchZip(evil1, {})), /global os.system is not allowed/);
  await rejects(open(torchZip(evil2, {})), /global builtins.eval is not allowed/);
  await rejects(open(torchZip(evil3, {})), /global torch.load is not allowed/);
  await rejects(open(torchZip(new PickleWriter().proto().op(0xff).stop().bytes(), {})), /unsupported pickle opcode unknown opcode 0xff/);
  await rejects(open(torchZip(new PickleWriter().proto().op(0x69).stop().bytes(), {})), /unsupported pickle opcode INST/);
  await rejects(open(torchZip(new PickleWriter().proto().op(0x82, 1).stop().bytes(), {})), /unsupported pickle opcode EXT1/);
  // a persistent id with a non-storage type, a non-dict top level, and calling a non-callable
  const pidBad = new PickleWriter().proto().mark().str('storage').str('FloatStorage').str('0').str('cpu').int(1).tuple().op(0x51).stop().bytes();
  await rejects(open(torchZip(pidBad, {})), /storage type "FloatStorage" is not a supported torch storage/);
  await rejects(open(torchZip(new PickleWriter().proto().int(3).stop().bytes(), {})), /not a dict of tensors/);
  await rejects(open(torchZip(new PickleWriter().proto().global('torch', 'FloatStorage').emptyTuple().reduce().stop().bytes(), {})), /REDUCE of a value that is not an allowed callable/);
  // the VM itself: every failure is an Error with a position
  const opts = { findGlobal: () => undefined, what: 'p' };
  for (const bad of [[], [0x80], [0x80, 2, 0x58, 5, 0, 0, 0, 0x61], [0x4e, 0x4e, 0x2e], [0x30], [0x68, 3], [0x28, 0x2e], [0x61], [0x8b, 0xff, 0xff, 0xff, 0x7f]]) {
    assert.throws(() => unpickle(new Uint8Array(bad), opts), (e: Error) => e instanceof Error && /^p: .+ \(at byte \d+\)$/.test(e.message), JSON.stringify(bad));
  }
  assert.deepEqual(unpickle(new Uint8Array([0x80, 2, 0x8a, 2, 0xff, 0x7f, 0x8a, 1, 0xff, 0x86, 0x2e]), opts), [32767, -1]);
});

test('broken archives: clear errors for bad storages, views, magic and zips', async () => {
  const one = (t: Partial<FakeTensor>, data: Uint8Array) =>
    open(torchZip(statePickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 4, offset: 0, shape: [4], stride: [1], ...t }]), { '0': data }));
  await rejects(one({}, f32bytes([1, 2, 3])), /tensor "w": its storage 0 holds 12 bytes, fewer than its declared 4 float32 elements/);
  await rejects(one({ shape: [5] }, f32bytes([1, 2, 3, 4])), /tensor "w": view \(offset 0, size \[5\], stride \[1\]\) reaches past its 4-element storage/);
  await rejects(one({ offset: 2, shape: [2, 2], stride: [1, 1] }, f32bytes([1, 2, 3, 4])), /reaches past/);
  await rejects(one({ shape: [2 ** 30, 2 ** 30], stride: [0, 0] }, f32bytes([1, 2, 3, 4])), /has 1152921504606847000 elements but its storage only 4: a repeating \(stride-0 or overlapping\) view this large is not a weight/);
  await rejects(one({ shape: [-1] }, f32bytes([1, 2, 3, 4])), /_rebuild_tensor_v2: a tensor's size must be a list of at most 64 non-negative integers, got \[-1\]/);
  await rejects(one({ key: '../x' }, f32bytes([1, 2, 3, 4])), /a storage key must be 1-64 letters/);
  await rejects(one({ key: '9' }, f32bytes([1, 2, 3, 4])), /its storage archive\/data\/9 is missing from the archive/);
  await rejects(open(new Uint8Array([0x80, 2, 0x8a, 10])), /legacy \(pre-zip, torch < 1.6\) torch.save format/);
  await rejects(open(new TextEncoder().encode('hello world, not a zip at all')), /bad magic bytes/);
  await rejects(open(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0])), /too short to be a ZIP archive/);
  await rejects(open(makeZip([['archive/other', new Uint8Array(3)]])), /expected exactly one <prefix>\/data.pkl entry, found 0/);
  await rejects(open(makeZip([['archive/data.pkl', new Uint8Array(3)]], { method: 8 })), /"archive\/data.pkl" is compressed \(method 8\)/);
  await rejects(open(torchZip(statePickle([]), {}, { byteorder: 'middle' })), /byteorder "middle"/);
});

test('truncations and byte flips of the real file only ever give a value or an Error', async () => {
  const good = fx('llm/ema_model.bin');
  const cuts = new Set<number>();
  for (let i = 0; i < 200; i++) cuts.add(Math.floor((i / 200) * good.length));
  for (let i = 1; i < 100; i++) cuts.add(good.length - i);
  for (const n of cuts) {
    await rejects(open(good.subarray(0, n)), /^ckpt\.bin: /);
  }
  const r = rng(1016);
  let ok = 0;
  for (let i = 0; i < 300; i++) {
    const b = good.slice();
    // flip bytes in the pickle (first ~11 KB) or in the zip central directory (the tail)
    for (let k = 0; k < 3; k++) {
      const at = i % 2 ? 30 + Math.floor(r() * 10800) : good.length - 1 - Math.floor(r() * 6000);
      b[at] = Math.floor(r() * 256);
    }
    try {
      const src = await open(b);
      for (const n of src.names()) await src.read(n);
      ok++;
    } catch (e) {
      assert.ok(e instanceof Error && e.message.startsWith('ckpt.bin'), String(e));
    }
  }
  assert.ok(ok < 300);
});
