// Untrusted model files (issue 12): one regression test per input the mutation fuzzer found
// (bench/fuzz.ts), each failing fast with an error that names the file and the problem: the
// 374-byte stride-0 .bin, deep nesting (pickle lists and dicts, JSON in every config and index),
// prototype keys, unchecked hart.json values, internal-sounding messages. Plus a fixed small
// sample of the fuzzer itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesOf } from '../../src/io/dtypes.ts';
import { memoryFiles, readJson } from '../../src/io/file-access.ts';
import { encodePng } from '../../src/io/png.ts';
import { checkPng, decodePngChecked as decodePng } from '../../src/io/png-check.ts';
import { describe, parseJsonText } from '../../src/io/schema.ts';
import { parseShardIndex } from '../../src/io/sharded.ts';
import { bytesAccess } from '../../src/io/tensor-source.ts';
import { openTorchBin } from '../../src/io/torch-bin.ts';
import { unpickle } from '../../src/io/pickle.ts';
import { parseHartConfig } from '../../src/models/transformer/config.ts';
import { parseTokenizerConfig } from '../../src/models/tokenizer/config.ts';
import { checkTokenizerJson, parseQwen2Config, PromptTokenizer } from '../../src/models/text/index.ts';
import { parseHartJson } from '../../src/pipeline/hart-json.ts';
import { PickleWriter, statePickle, torchZip } from './build-torch.ts';
import { benchFuzz } from '../../bench/fuzz.ts';

const open = (b: Uint8Array) => openTorchBin(bytesAccess(b), 'ckpt.bin');
const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: Error) => e instanceof Error && re.test(e.message), String(re));
const throws = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error) => e instanceof Error && !(e instanceof RangeError) && re.test(e.message), String(re));

/** The fuzzer's stride-0 find (the 374-byte file, rebuilt here: ~520 bytes): one float storage, a view whose elements all read element 0. */
function strideZero(shape: number[]): Uint8Array {
  return torchZip(statePickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 1, offset: 0, shape, stride: shape.map(() => 0) }]), { '0': bytesOf(new Float32Array([1])) });
}

test('a stride-0 view with a huge shape over a 1-element storage is refused at open, in milliseconds', async () => {
  for (const shape of [[2 ** 28], [2 ** 30], [2 ** 15, 2 ** 16], [2 ** 16, 2 ** 16]]) {
    const n = shape[0] * (shape[1] ?? 1);
    const t0 = performance.now();
    await rejects(open(strideZero(shape)), new RegExp(`ckpt.bin: tensor "w": view \\(offset 0, size \\[${shape.join(', ')}\\], stride \\[${shape.map(() => 0).join(', ')}\\]\\) has ${n} elements but its storage only 1`));
    assert.ok(performance.now() - t0 < 500);
  }
  // small broadcast views (a stride-0 expand) still read
  const src = await open(strideZero([6]));
  assert.deepEqual((await src.read('w')).data, new Float32Array(6).fill(1));
  // many small views over one storage may not multiply the reads beyond the bytes present
  const many = Array.from({ length: 80 }, (_, i) => ({ name: `w${i}`, storage: 'FloatStorage', key: '0', numel: 1, offset: 0, shape: [1 << 16], stride: [0] }));
  await rejects(open(torchZip(statePickle(many), { '0': bytesOf(new Float32Array([1])) })), /ckpt.bin: its tensors would read \d+ bytes from 4 bytes of storage/);
});

test('deeply nested pickle lists and dicts fail with a message, not a stack overflow', async () => {
  const n = 100_000;
  const lists = new PickleWriter().proto();
  for (let i = 0; i < n; i++) lists.mark();
  lists.op(0x5d);
  for (let i = 0; i < n; i++) lists.op(0x6c);
  await rejects(open(torchZip(lists.stop().bytes(), {})), /ckpt.bin: the pickle holds \[\[a list of 1 item\]\], not a dict of tensors/);
  const dicts = new PickleWriter().proto().op(0x7d);
  for (let i = 0; i < n; i++) dicts.str('a').op(0x7d);
  for (let i = 0; i < n; i++) dicts.op(0x73);
  await rejects(open(torchZip(dicts.stop().bytes(), {})), /ckpt.bin: the state dict nests dicts deeper than 64 levels/);
  // a list containing itself
  const cyc = new PickleWriter().proto().op(0x5d, 0x32, 0x61).stop().bytes();
  assert.match(describe(unpickle(cyc, { findGlobal: () => undefined })), /^\[\[a list of 1 item\]\]$/);
});

test('pickle errors name the problem in the file\'s terms, not the reader\'s internals', async () => {
  const opts = { findGlobal: () => undefined, what: 'p' };
  throws(() => unpickle(new Uint8Array([0x67, 0x61, 0x62, 0x0a, 0x2e]), opts), /^p: GET names memo slot "ab", which is not a number/);
  throws(() => unpickle(new Uint8Array([0x68, 7, 0x2e]), opts), /^p: GET of memo slot 7, which nothing was stored in/);
  // _rebuild_tensor_v2 with a dict as the storage offset
  const p = new PickleWriter().proto().orderedDict().str('w').global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(1).tuple().op(0x51);
  p.op(0x7d).ints([1]).ints([1]).op(0x89).orderedDict().tuple().reduce().op(0x73).stop();
  await rejects(open(torchZip(p.bytes(), { '0': new Uint8Array(4) })), /storage offset must be a non-negative integer, got an empty dict/);
});

/** `{"a": [[[…]]]}` nested `depth` deep, as text. */
const deepJson = (key: string, depth: number) => `{"${key}": ${'['.repeat(depth)}${']'.repeat(depth)}}`;

test('deeply nested JSON in every model-folder file is refused when read, and never overflows a parser', async () => {
  const files = new Map<string, Uint8Array>();
  for (const [name, key] of [['hart.json', 'sources'], ['index.json', 'metadata'], ['llm/config.json', 'architectures'], ['tokenizer/config.json', 'architectures'], ['text/config.json', 'rope_scaling'], ['text/tokenizer.json', 'model']]) {
    files.set(name, new TextEncoder().encode(deepJson(key, 50_000)));
  }
  const mem = memoryFiles(files);
  for (const name of files.keys()) await rejects(readJson(mem, name), new RegExp(`memory:${name.replace('.', '\\.')}: JSON nested deeper than 32 levels`));
  // the parsers themselves, given a deep value directly, answer with a bounded message
  const deep = JSON.parse('['.repeat(50_000) + ']'.repeat(50_000));
  throws(() => parseHartConfig({ patch_nums: deep }, 'llm/config.json'), /^llm\/config.json: "patch_nums" must be a list of 2–64 items/);
  throws(() => parseTokenizerConfig({ ch_mult: deep }, 'tokenizer/config.json'), /^tokenizer\/config.json: "ch_mult" must be/);
  throws(() => parseQwen2Config({ model_type: 'qwen2', hidden_size: 8, num_attention_heads: 2, rope_scaling: deep }), /rope_scaling \[\[a list of 1 item\]\] is not supported/);
  throws(() => parseHartJson({ format: 'hart-js', format_version: 1, patch_nums: deep }), /^hart.json: "patch_nums" must be/);
  throws(() => parseShardIndex({ weight_map: { w: deep } }), /shard index: JSON nested deeper than 32 levels/);
  throws(() => parseJsonText(deepJson('x', 40), 'f.json'), /^f.json: JSON nested deeper than 32 levels/);
});

test('prototype keys are unknown fields, never inherited ones', () => {
  const tcfg = { context_token: 8 };
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const json = JSON.parse(`{"${key}": 1, "depth": 2}`);
    throws(() => parseHartConfig(json, 'llm/config.json'), new RegExp(`llm/config.json: unknown field "${key}"`));
    throws(() => parseTokenizerConfig(json, 'tokenizer/config.json'), new RegExp(`tokenizer/config.json: unknown fields "${key}", "depth"`));
    throws(() => parseHartJson(JSON.parse(`{"format": "hart-js", "format_version": 1, "${key}": {}}`)), new RegExp(`hart.json: unknown field "${key}"`));
    throws(() => parseHartJson(JSON.parse(`{"format": "hart-js", "format_version": 1, "defaults": {"${key}": 1}}`)), new RegExp(`hart.json: defaults: unknown field "${key}"`));
    assert.equal(parseHartConfig(tcfg).context_token, 8);
  }
  // a shard index whose weight_map is inherited is not an index
  throws(() => parseShardIndex(JSON.parse('{"__proto__": {"weight_map": {"w": "a.safetensors"}}}')), /weight_map is missing/);
});

const validHart = { format: 'hart-js', format_version: 1, parts: { transformer: 'transformer', tokenizer: 'tokenizer' }, resolution: 128, patch_nums: [1, 2, 4], context_token: 8 };

test('hart.json defaults are type- and range-checked, with the field and the value named', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ cfg: 'abc' }, /"cfg" must be a number in \[0, 50\], got "abc"/],
    [{ more_smooth: 7 }, /"more_smooth" must be true or false, got 7/],
    [{ top_k: -3.5 }, /"top_k" must be an integer in \[1, 2\^30\] or null, got -3.5/],
    [{ diffusion_steps: null }, /"diffusion_steps" must be an integer in \[1, 1000\], got null/],
    [{ top_p: 2 }, /"top_p" must be a number in \[0, 1\], got 2/],
    [{ temperature: -1 }, /"temperature" must be a number in \[0, 10\]/],
  ];
  for (const [defaults, re] of bad) throws(() => parseHartJson({ ...validHart, defaults }, 'm/hart.json'), new RegExp(`^m/hart.json: defaults: ${re.source}`));
  assert.deepEqual(parseHartJson({ ...validHart, defaults: { cfg: 2, top_k: null, more_smooth: false } }).defaults, { cfg: 2, top_k: null, more_smooth: false });
  throws(() => parseHartJson({ ...validHart, resolution: 1e9 }), /"resolution" must be an integer in \[1, 65536\], got 1000000000/);
  throws(() => parseHartJson({ ...validHart, parts: [] }), /"parts" must be/);
  throws(() => parseHartJson({ ...validHart, context_token: undefined }), /"context_token" is missing/);
});

test('config numbers are bounded: a config cannot size a loop or a graph beyond any real model', () => {
  throws(() => parseHartConfig({ depth: 1e9 }, 'c.json'), /c.json: "depth" must be an integer in \[1, 1024\], got 1000000000/);
  throws(() => parseHartConfig({ num_sampling_steps: 'ddim8' }, 'c.json'), /"num_sampling_steps" must be a step count from 1 to 1000 \(e.g. "8"\), got "ddim8"/);
  assert.equal(parseHartConfig({ num_sampling_steps: 4 }).num_sampling_steps, '4');
  throws(() => parseTokenizerConfig({ vocab_size: 2 ** 40 }, 't.json'), /t.json: "vocab_size" must be an integer in \[1, 2\^24\]/);
  throws(() => parseQwen2Config({ model_type: 'qwen2', vocab_size: 10, hidden_size: 8, intermediate_size: 8, num_attention_heads: 2, num_hidden_layers: 1e7 }, 'q.json'), /q.json: "num_hidden_layers" must be an integer in \[1, 1024\], got 10000000/);
});

test('tokenizer.json is checked before the tokenizer library sees it', () => {
  throws(() => checkTokenizerJson({ model: { type: 'BPE', vocab: { a: 'x' } } }, 't.json'), /t.json: "model.vocab" id of "a" must be an integer/);
  throws(() => checkTokenizerJson({ model: { type: 'Magic', vocab: {} } }, 't.json'), /"model.type" "Magic" is not BPE/);
  throws(() => checkTokenizerJson({ model: { type: 'BPE', vocab: {}, merges: [1] } }, 't.json'), /"model.merges" entry 1/);
  throws(() => checkTokenizerJson({ model: { type: 'BPE', vocab: {} }, added_tokens: [{ id: -1, content: 'x' }] }, 't.json'), /"added_tokens" entry/);
  throws(() => new PromptTokenizer({ tokenizerJson: { model: { type: 'BPE', vocab: {} }, pre_tokenizer: 5 }, what: 't.json' }), /t.json: "pre_tokenizer" must be null or an object/);
});

test('PNG headers are checked before the decoder allocates', () => {
  const png = encodePng({ width: 2, height: 2, data: new Float32Array(12).fill(0.5) }, { k: 'v' });
  assert.deepEqual(checkPng(png), { width: 2, height: 2 });
  assert.equal(decodePng(png).text.k, 'v');
  const huge = png.slice();
  new DataView(huge.buffer).setUint32(16, 65535); // IHDR width
  new DataView(huge.buffer).setUint32(20, 65535);
  throws(() => decodePng(huge, 'a.png'), /a.png: 65535×65535 pixels is outside what we decode/);
  const wide = png.slice();
  new DataView(wide.buffer).setUint32(16, 4000); // 4000×2 from a few bytes of image data
  throws(() => decodePng(wide, 'a.png'), /a.png: \d+ bytes of image data cannot hold a 4000×2 image|a.png: cannot be decoded/);
  throws(() => decodePng(png.subarray(0, 40), 'a.png'), /a.png: /);
});

test('a fixed small sample of the fuzzer: every case accepted or rejected with a specific error', async () => {
  const r = await benchFuzz({ cases: 600, seed: 7, quiet: true });
  assert.equal(r.cases, 600);
  assert.deepEqual({ other: r.classes.other_exception, slow: r.classes.over_2s, memory: r.classes.over_256MiB }, { other: 0, slow: 0, memory: 0 }, JSON.stringify(r.examples));
  assert.ok(r.classes.rejected > 100 && r.classes.accepted > 10, JSON.stringify(r.classes));
});
