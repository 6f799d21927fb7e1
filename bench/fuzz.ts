// Seeded mutation fuzzer over every reader of untrusted model files (issue 12): safetensors, torch
// .bin (zip + pickle), shard index, hart.json, the transformer / tokenizer / Qwen2 config.json,
// tokenizer.json, PNG. Seeds are real files (the parity fixture's, where present) and small ones
// built here; mutations are byte flips, truncations, length fields set to interesting values,
// insertions, deep nesting, huge sizes, prototype keys, pickle globals and strided views.
// Every case is classified: accepted, rejected (an Error naming the file, in words),
// other_exception (anything else: TypeError, RangeError, a message with internals), over_2s,
// over_256MiB. Prints one JSON object last. `hart bench fuzz --json`; not part of the tests
// (test/io/untrusted.test.ts runs a fixed small sample).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesOf } from '../src/io/dtypes.ts';
import { memoryFiles, readJson } from '../src/io/file-access.ts';
import { encodePng } from '../src/io/png.ts';
import { decodePngChecked } from '../src/io/png-check.ts';
import { safetensorsSource, writeSafetensors } from '../src/io/safetensors.ts';
import { TOKENIZER_JSON_LIMITS } from '../src/io/schema.ts';
import { openSharded } from '../src/io/sharded.ts';
import { bytesAccess } from '../src/io/tensor-source.ts';
import { openTorchBin } from '../src/io/torch-bin.ts';
import { openZip } from '../src/io/zip.ts';
import { byteLevelTokenizer, parseQwen2Config, PromptTokenizer } from '../src/models/text/index.ts';
import { parseTokenizerConfig } from '../src/models/tokenizer/config.ts';
import { hartDims, parseHartConfig } from '../src/models/transformer/config.ts';
import { diffLossConfig } from '../src/models/diffusion/config.ts';
import { parseHartJson } from '../src/pipeline/hart-json.ts';
import { modelDefaults, resolveOptions } from '../src/pipeline/options.ts';
import { PickleWriter, statePickle, type FakeTensor } from '../test/io/build-torch.ts';
import { mulberry32 } from '../test/mulberry32.ts';

export interface FuzzOptions { json?: boolean; cases?: number | string; seed?: number | string; quiet?: boolean; /** Comma-separated reader names (default: all). */ readers?: string }

const CLASSES = ['accepted', 'rejected', 'other_exception', 'over_2s', 'over_256MiB'] as const;
type Class = (typeof CLASSES)[number];

export interface FuzzResult {
  bench: 'fuzz';
  cases: number;
  seed: number;
  seconds: number;
  classes: Record<Class, number>;
  per_reader: Record<string, Record<Class, number>>;
  /** Up to 3 cases of the bad classes per reader: reader, mutation, what happened. */
  examples: { reader: string; mutation: string; class: Class; detail: string }[];
  slowest_ms: number;
  largest_MiB: number;
}

type Rng = () => number;
interface Target {
  name: string;
  /** The prefixes a specific error message starts with (the file names we pass to the reader). */
  labels: string[];
  seeds: Uint8Array[];
  /** Returns the mutated input and a short description of the mutation. */
  mutate(seed: Uint8Array, r: Rng): [Uint8Array, string];
  run(bytes: Uint8Array): Promise<unknown>;
}

const enc = new TextEncoder(), dec = new TextDecoder();
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)];

// ---- byte-level mutations ----------------------------------------------------------------------

const INTERESTING = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 63, 2 ** 64 - 1];

function writeUint(b: Uint8Array, at: number, width: number, v: number, bigEndian: boolean): void {
  let x = BigInt(Math.min(v, 2 ** 64 - 1)) & ((1n << BigInt(8 * width)) - 1n);
  for (let i = 0; i < width && at + i < b.length; i++) {
    b[bigEndian ? at + width - 1 - i : at + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

/** One byte-level mutation; `focus` biases positions towards [0, focus) and the last `tail` bytes (the structure). */
function byteMutation(seed: Uint8Array, r: Rng, focus = seed.length, tail = 0): [Uint8Array, string] {
  const at = () => {
    const u = r();
    if (tail && u < 0.3) return seed.length - 1 - int(r, Math.min(tail, seed.length));
    return int(r, Math.max(1, Math.min(focus, seed.length)));
  };
  const k = int(r, 7);
  if (k === 0) {
    const b = seed.slice();
    const n = 1 + int(r, 4);
    for (let i = 0; i < n; i++) b[at()] = int(r, 256);
    return [b, `flip ${n} bytes`];
  }
  if (k === 1) {
    const b = seed.slice();
    const p = at();
    b[p] ^= 1 << int(r, 8);
    return [b, `bit flip at ${p}`];
  }
  if (k === 2) {
    const n = r() < 0.5 ? int(r, seed.length) : seed.length - 1 - int(r, Math.min(64, seed.length));
    return [seed.slice(0, Math.max(0, n)), `truncate to ${n}`];
  }
  if (k === 3) {
    const b = seed.slice();
    const width = pick(r, [1, 2, 4, 8]), p = at(), v = pick(r, INTERESTING), be = r() < 0.2;
    writeUint(b, p, width, v, be);
    return [b, `length field ${width}B@${p}=${v}${be ? ' BE' : ''}`];
  }
  if (k === 4) {
    const p = at(), n = 1 + int(r, 16);
    const b = new Uint8Array(seed.length + n);
    b.set(seed.subarray(0, p));
    for (let i = 0; i < n; i++) b[p + i] = int(r, 256);
    b.set(seed.subarray(p), p + n);
    return [b, `insert ${n} bytes at ${p}`];
  }
  if (k === 5) {
    const n = Math.min(1 + int(r, 16), seed.length), p = Math.min(at(), seed.length - n);
    const b = new Uint8Array(seed.length - n);
    b.set(seed.subarray(0, p));
    b.set(seed.subarray(Math.min(seed.length, p + n)).subarray(0, b.length - p), p);
    return [b, `delete ${n} bytes at ${p}`];
  }
  // copy a span over another (duplicates structure)
  const b = seed.slice();
  const from = at(), to = at(), n = 1 + int(r, 32);
  b.copyWithin(to, from, Math.min(seed.length, from + n));
  return [b, `copy ${n} bytes ${from}→${to}`];
}

// ---- JSON-level mutations ----------------------------------------------------------------------

const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
const deep = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);
function jsonValue(r: Rng): string {
  const k = int(r, 14);
  switch (k) {
    case 0: return pick(r, ['-1', '0', '1', '3.5', '-3.5', '1e308', '-1e308', '1e-320', '9007199254740993', '4294967296', '1000000000', '65536']);
    case 1: return pick(r, ['"abc"', '""', '"8"', '"ddim8"', '"-1"', '"llama"', '"__proto__"']);
    case 2: return pick(r, ['null', 'true', 'false']);
    case 3: return pick(r, ['[]', '{}', '[1, 2]', '[0]', '[-1]', '[1.5]', '["a"]', '[null]']);
    case 4: return deep(1 + int(r, 200_000), '[', ']');
    case 5: return deep(1 + int(r, 100_000), '{"a":', '}');
    case 6: return `[${Array.from({ length: 1 + int(r, 3000) }, () => pick(r, ['1', '1024', '0'])).join(',')}]`;
    case 7: return `{${PROTO_KEYS.map((p) => `"${p}": ${pick(r, ['1', '{}', '[]', 'null', '{"weight_map": {"x": "a"}}'])}`).join(',')}}`;
    case 8: return JSON.stringify('x'.repeat(int(r, 100_000)));
    default: return pick(r, ['2', '4', '8', '16', '64', '0.5', '1e6', '-0']);
  }
}

/** Replaces, deletes or adds one value somewhere in a JSON document (text in, text out). */
function jsonMutation(seed: Uint8Array, r: Rng): [Uint8Array, string] {
  const text = dec.decode(seed);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return byteMutation(seed, r);
  }
  if (r() < 0.25) return byteMutation(seed, r);
  // collect containers
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (v: unknown, d: number) => {
    if (typeof v !== 'object' || v === null || d > 6 || containers.length > 2000) return;
    containers.push(v as Record<string, unknown>);
    for (const c of Object.values(v)) walk(c, d + 1);
  };
  walk(doc, 0);
  if (!containers.length) return byteMutation(seed, r);
  const MARK = '\u0000FUZZ\u0000';
  const c = pick(r, containers);
  const k = int(r, 4);
  let what: string;
  if (Array.isArray(c)) {
    if (k === 0 && c.length) { c.splice(int(r, c.length), 1); what = 'delete item'; } else if (k === 1 || !c.length) { c.push(MARK); what = 'append item'; } else { c[int(r, c.length)] = MARK; what = 'replace item'; }
  } else {
    const keys = Object.keys(c);
    if (k === 0 && keys.length) { delete c[pick(r, keys)]; what = 'delete field'; } else if (k === 1 || !keys.length) {
      const key = r() < 0.5 ? pick(r, PROTO_KEYS) : pick(r, ['extra', 'cfg', 'top_k', 'diffusion_steps', 'more_smooth', 'depth', 'vocab_size', 'weight_map', 'model', 'num_sampling_steps', 'text_config']);
      Object.defineProperty(c, key, { value: MARK, enumerable: true, configurable: true, writable: true });
      what = `add field ${key}`;
    } else { c[pick(r, keys)] = MARK; what = 'replace field'; }
  }
  const value = jsonValue(r);
  const out = JSON.stringify(doc === MARK ? MARK : doc).replace(JSON.stringify(MARK), value);
  return [enc.encode(out), `${what} = ${value.length > 40 ? `${value.slice(0, 20)}…(${value.length} chars)` : value}`];
}

// ---- torch .bin: a fast stored-zip writer and pickle-level mutations -----------------------------

function storedZip(entries: [string, Uint8Array][]): Uint8Array {
  const le = (v: number, n: number) => { const o: number[] = []; for (let i = 0; i < n; i++) { o.push(v % 256); v = Math.floor(v / 256); } return o; };
  let size = 22;
  for (const [n, d] of entries) size += 30 + 46 + 2 * enc.encode(n).length + d.length;
  const out = new Uint8Array(size);
  let p = 0;
  const put = (xs: number[] | Uint8Array) => { out.set(xs, p); p += xs.length; };
  const cd: number[] = [];
  for (const [name, data] of entries) {
    const nb = enc.encode(name), off = p;
    put([...le(0x04034b50, 4), 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...le(data.length, 4), ...le(data.length, 4), ...le(nb.length, 2), 0, 0]);
    put(nb);
    put(data);
    cd.push(...le(0x02014b50, 4), 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...le(data.length, 4), ...le(data.length, 4), ...le(nb.length, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...le(off, 4), ...nb);
  }
  const cdOff = p;
  put(cd);
  put([...le(0x06054b50, 4), 0, 0, 0, 0, ...le(entries.length, 2), ...le(entries.length, 2), ...le(cd.length, 4), ...le(cdOff, 4), 0, 0]);
  return out.subarray(0, p);
}

interface PickleSeed { pickle: Uint8Array; storages: [string, Uint8Array][] }
const torchArchive = (s: PickleSeed, pickle = s.pickle) =>
  storedZip([['archive/data.pkl', pickle], ['archive/byteorder', enc.encode('little')], ...s.storages.map(([k, v]) => [`archive/data/${k}`, v] as [string, Uint8Array]), ['archive/version', enc.encode('3\n')]]);

const EVIL_GLOBALS: [string, string][] = [['os', 'system'], ['builtins', 'eval'], ['builtins', 'getattr'], ['torch', 'load'], ['subprocess', 'Popen'], ['torch._utils', '_rebuild_tensor_v3'], ['numpy.core.multiarray', '_reconstruct'], ['torch', 'Tensor'], ['collections', 'OrderedDict'], ['torch', 'FloatStorage']];

/** A random state-dict pickle: tensors with random storages, offsets, shapes and strides (stride 0, huge sizes). */
function randomStatePickle(r: Rng): PickleSeed {
  const n = 1 + int(r, 4);
  const storages: [string, Uint8Array][] = [];
  const tensors: FakeTensor[] = [];
  for (let i = 0; i < n; i++) {
    const key = String(int(r, 3));
    const numel = pick(r, [0, 1, 2, 6, 24, 1000]);
    if (!storages.some(([k]) => k === key)) storages.push([key, new Uint8Array(4 * pick(r, [numel, numel, Math.max(0, numel - 1), numel + 3]))]);
    const rank = int(r, 4);
    const huge = () => pick(r, [0, 1, 2, 3, 4, 1000, 2 ** 16, 2 ** 28, 2 ** 30, 2 ** 31, 2 ** 32, 2 ** 40]);
    const shape = Array.from({ length: rank }, () => (r() < 0.7 ? 1 + int(r, 4) : huge()));
    const stride = shape.map(() => (r() < 0.6 ? pick(r, [0, 1, 2, 3]) : huge()));
    tensors.push({ name: r() < 0.1 ? 'w' : `t${i}`, storage: pick(r, ['FloatStorage', 'HalfStorage', 'LongStorage', 'BoolStorage', 'ByteStorage']), key, numel: r() < 0.8 ? numel : huge(), offset: r() < 0.8 ? int(r, 3) : huge(), shape, stride });
  }
  return { pickle: statePickle(tensors), storages };
}

/** Opcode-level pickle mutations: evil globals, deep nesting, memo abuse, huge lengths, random opcodes. */
function pickleMutation(s: PickleSeed, r: Rng): [Uint8Array, string] {
  const p = s.pickle;
  const k = int(r, 6);
  const at = 2 + int(r, Math.max(1, p.length - 3));
  const splice = (ins: Uint8Array, what: string): [Uint8Array, string] => {
    const b = new Uint8Array(p.length + ins.length);
    b.set(p.subarray(0, at));
    b.set(ins, at);
    b.set(p.subarray(at), at + ins.length);
    return [torchArchive(s, b), `${what} at ${at}`];
  };
  if (k === 0) {
    const [m, n] = pick(r, EVIL_GLOBALS);
    const w = new PickleWriter();
    if (r() < 0.5) w.global(m, n); else w.stackGlobal(m, n);
    if (r() < 0.5) w.str('echo x').op(0x85).reduce();
    return splice(w.bytes(), `global ${m}.${n}`);
  }
  if (k === 1) {
    const n = 1 + int(r, 100_000), w = new PickleWriter();
    if (r() < 0.5) { for (let i = 0; i < n; i++) w.mark(); w.op(0x5d); for (let i = 0; i < n; i++) w.op(0x6c); } else {
      w.op(0x7d);
      for (let i = 0; i < n; i++) w.str('a').op(0x7d);
      for (let i = 0; i < n; i++) w.op(0x73);
    }
    return splice(w.bytes(), `nesting ${n}`);
  }
  if (k === 2) {
    const ops = [[0x68, int(r, 256)], [0x6a, 0xff, 0xff, 0xff, 0x7f], [0x67, 0x61, 0x0a], [0x71, int(r, 256)], [0x94], [0x32], [0x30], [0x31], [0x28], [0x2e], [0x62], [0x51], [0x52], [0x81], [0x93], [0x61], [0x65], [0x73], [0x75]];
    const seq = Array.from({ length: 1 + int(r, 6) }, () => pick(r, ops)).flat();
    return splice(new Uint8Array(seq), `opcodes ${seq.map((x) => x.toString(16)).join(' ')}`);
  }
  if (k === 3) {
    const ops = [[0x8d], [0x8e], [0x58], [0x42], [0x8b], [0x95], [0x96]];
    const op = pick(r, ops)[0], w = op === 0x58 || op === 0x42 || op === 0x8b ? 4 : 8;
    const b = new Uint8Array(1 + w);
    b[0] = op;
    writeUint(b, 1, w, pick(r, INTERESTING), false);
    return splice(b, `huge length opcode ${op.toString(16)}`);
  }
  if (k === 4) {
    // overwrite a BININT argument (shapes, strides, offsets, sizes) with an interesting value
    const ints: number[] = [];
    for (let i = 0; i < p.length - 4; i++) if (p[i] === 0x4a) ints.push(i);
    const b = p.slice();
    if (ints.length) writeUint(b, pick(r, ints) + 1, 4, pick(r, INTERESTING), false);
    return [torchArchive(s, b), 'BININT value'];
  }
  const [b, what] = byteMutation(p, r);
  return [torchArchive(s, b), `pickle ${what}`];
}

// ---- seeds ------------------------------------------------------------------------------------

function fixtureDir(): string | undefined {
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'fixtures', 'hart-parity-tiny');
  return existsSync(join(dir, 'llm', 'config.json')) ? dir : undefined;
}

function smallSafetensors(r: Rng): Uint8Array {
  const t: Record<string, { dtype: 'float32' | 'float16' | 'int64' | 'uint8'; shape: number[]; data: Float32Array | Uint16Array | BigInt64Array | Uint8Array }> = {};
  const n = 1 + int(r, 4);
  for (let i = 0; i < n; i++) {
    const shape = Array.from({ length: int(r, 3) }, () => int(r, 4));
    const count = shape.reduce((a, b) => a * b, 1);
    const dtype = pick(r, ['float32', 'float16', 'int64', 'uint8'] as const);
    const data = dtype === 'float32' ? new Float32Array(count) : dtype === 'float16' ? new Uint16Array(count) : dtype === 'int64' ? new BigInt64Array(count) : new Uint8Array(count);
    t[`layer.${i}.w`] = { dtype, shape, data };
  }
  return writeSafetensors(t, r() < 0.5 ? { format: 'pt' } : undefined);
}

async function readEverything(src: { names(): string[]; read(n: string): Promise<unknown>; close(): Promise<void> }): Promise<void> {
  for (const n of src.names()) await src.read(n);
  await src.close();
}

async function targets(r: Rng): Promise<Target[]> {
  const fx = fixtureDir();
  const file = (p: string) => (fx ? new Uint8Array(readFileSync(join(fx, p))) : undefined);
  const out: Target[] = [];

  // safetensors
  const stSeeds = Array.from({ length: 8 }, () => smallSafetensors(r));
  const fxSt = file('llm/model.safetensors');
  if (fxSt) stSeeds.push(fxSt);
  out.push({
    name: 'safetensors', labels: ['w.safetensors'], seeds: stSeeds,
    mutate: (seed, rr) => {
      const n = Number(new DataView(seed.buffer, seed.byteOffset).getUint32(0, true));
      if (rr() < 0.5) {
        // mutate the JSON header and re-frame it with a correct length
        const [h, what] = jsonMutation(seed.subarray(8, 8 + n), rr);
        const b = new Uint8Array(8 + h.length + seed.length - 8 - n);
        new DataView(b.buffer).setUint32(0, h.length, true);
        b.set(h, 8);
        b.set(seed.subarray(8 + n), 8 + h.length);
        return [b, `header ${what}`];
      }
      return byteMutation(seed, rr, 8 + n);
    },
    run: async (b) => readEverything(await safetensorsSource(b, 'w.safetensors')),
  });

  // torch .bin (zip + pickle): the fixture's archive, and random state dicts
  const pickleSeeds: PickleSeed[] = Array.from({ length: 24 }, () => randomStatePickle(r));
  const fxBin = file('llm/ema_model.bin');
  const binSeeds: Uint8Array[] = pickleSeeds.slice(0, 6).map((s) => torchArchive(s));
  if (fxBin) binSeeds.push(fxBin);
  out.push({
    name: 'torch-zip', labels: ['ckpt.bin'], seeds: binSeeds,
    mutate: (seed, rr) => byteMutation(seed, rr, 12_000, 8_000),
    run: async (b) => readEverything(await openTorchBin(bytesAccess(b), 'ckpt.bin')),
  });
  const pseeds: PickleSeed[] = [...pickleSeeds];
  if (fxBin) {
    // the fixture's own pickle with its real storages, re-archived per case
    const z = await openZip(bytesAccess(fxBin));
    const entries = [...z.entries.values()];
    const pkl = entries.find((e) => e.name.endsWith('/data.pkl'))!;
    const storages: [string, Uint8Array][] = [];
    for (const e of entries) if (/\/data\/[^/]+$/.test(e.name)) storages.push([e.name.split('/').pop()!, (await z.read(e)).slice()]);
    pseeds.push({ pickle: (await z.read(pkl)).slice(), storages });
  }
  out.push({
    name: 'pickle', labels: ['ckpt.bin'], seeds: pseeds.map((_, i) => new Uint8Array([i])),
    mutate: (seed, rr) => {
      const s = rr() < 0.3 ? randomStatePickle(rr) : pseeds[seed[0] % pseeds.length];
      return rr() < 0.3 && s !== pseeds[seed[0] % pseeds.length] ? [torchArchive(s), 'random state dict'] : pickleMutation(s, rr);
    },
    run: async (b) => readEverything(await openTorchBin(bytesAccess(b), 'ckpt.bin')),
  });

  // shard index over two small safetensors shards
  const shards = new Map([['a.safetensors', smallSafetensors(r)], ['b.safetensors', smallSafetensors(r)]]);
  const names = (b: Uint8Array) => { const n = new DataView(b.buffer, b.byteOffset).getUint32(0, true); return Object.keys(JSON.parse(dec.decode(b.subarray(8, 8 + n)))).filter((k) => k !== '__metadata__'); };
  const weightMap: Record<string, string> = {};
  for (const [f, b] of shards) for (const n of names(b)) weightMap[n.replace('layer', f[0])] = f;
  // rename tensors so the shards' names are distinct: rebuild the shards from the map
  const shardFiles = new Map<string, Uint8Array>();
  for (const f of shards.keys()) {
    const t: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
    for (const [n, g] of Object.entries(weightMap)) if (g === f) t[n] = { dtype: 'float32', shape: [2], data: new Float32Array(2) };
    shardFiles.set(f, writeSafetensors(t));
  }
  const index = enc.encode(JSON.stringify({ metadata: { total_size: 32 }, weight_map: weightMap }));
  out.push({
    name: 'shard-index', labels: ['model.safetensors.index.json', 'memory:model.safetensors.index.json', 'a.safetensors', 'b.safetensors', 'missing shard'], seeds: [index],
    mutate: jsonMutation,
    run: async (b) => {
      const files = memoryFiles(new Map([['model.safetensors.index.json', b]]));
      const text = await readJson(files, 'model.safetensors.index.json');
      const src = await openSharded(text, async (f) => {
        const s = shardFiles.get(f);
        if (!s) throw new Error(`missing shard ${f.slice(0, 60)}`);
        return safetensorsSource(s, f);
      }, 'model.safetensors.index.json');
      await readEverything(src);
    },
  });

  // JSON configs, read as a loader reads them (readJson: size, depth, nodes), then parsed and used
  const jsonTarget = (name: string, path: string, seeds: Uint8Array[], use: (v: unknown, what: string) => unknown, limits?: typeof TOKENIZER_JSON_LIMITS): Target => ({
    name, labels: [`memory:${path}`, 'tokenizer_config.json', 'the text tokenizer', 'the pad token'], seeds, mutate: jsonMutation,
    run: async (b) => use(await readJson(memoryFiles(new Map([[path, b]])), path, limits), `memory:${path}`),
  });
  const hartJson = {
    format: 'hart-js', format_version: 1, parts: { transformer: 'transformer', tokenizer: 'tokenizer', text_encoder: 'text_encoder' }, resolution: 64,
    patch_nums: [1, 2, 3, 4], context_token: 8, defaults: { cfg: 4.5, top_k: null, top_p: 0, temperature: 1, diffusion_steps: 8, more_smooth: true },
    storage: { dtype: 'float16', quantization: null }, sources: { transformer: 'llm' },
  };
  out.push(jsonTarget('hart.json', 'hart.json', [enc.encode(JSON.stringify(hartJson, null, 2)), enc.encode(JSON.stringify({ ...hartJson, defaults: { cfg: 2 } }))], (v, what) => {
    const h = parseHartJson(v, what);
    // whatever hart.json accepts must resolve into generation options
    return resolveOptions(1, {}, modelDefaults(h.defaults, { num_sampling_steps: '8' }));
  }));
  const llmCfg = file('llm/config.json') ?? enc.encode(JSON.stringify({ model_type: 'hart_transformer_t2i', depth: 2, embed_dim: 64, num_heads: 2, patch_nums: [1, 2, 4] }));
  out.push(jsonTarget('transformer-config', 'llm/config.json', [llmCfg], (v, what) => {
    const c = parseHartConfig(v, what);
    hartDims(c);
    return diffLossConfig(c, { z_channels: 8 });
  }));
  const tokCfg = file('tokenizer/config.json') ?? enc.encode(JSON.stringify({ model_type: 'hart_autoencoder_with_disc', vocab_size: 64, ch: 32 }));
  out.push(jsonTarget('tokenizer-config', 'tokenizer/config.json', [tokCfg], (v, what) => parseTokenizerConfig(v, what)));
  const qwen = { architectures: ['Qwen2Model'], model_type: 'qwen2', vocab_size: 300, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1e6, max_position_embeddings: 512, hidden_act: 'silu', use_sliding_window: false, sliding_window: null, tie_word_embeddings: true };
  const qwenVl = { model_type: 'qwen2_vl', text_config: { ...qwen, model_type: undefined }, vision_config: { depth: 2 }, rope_scaling: { type: 'mrope', mrope_section: [2, 2, 4] } };
  out.push(jsonTarget('qwen2-config', 'text_encoder/config.json', [enc.encode(JSON.stringify(qwen)), enc.encode(JSON.stringify(qwenVl))], (v, what) => parseQwen2Config(v, what)));
  const tok = byteLevelTokenizer([['a', 'b'], ['Ġ', 'r'], ['e', 'd']]);
  const tokCfgText = enc.encode(JSON.stringify(tok.tokenizerConfig));
  out.push(jsonTarget('tokenizer.json', 'text_encoder/tokenizer.json', [enc.encode(JSON.stringify(tok.tokenizerJson))], (v, what) => {
    const t = new PromptTokenizer({ tokenizerJson: v as object, tokenizerConfig: JSON.parse(dec.decode(tokCfgText)), what });
    return t.tokenizePrompts(['a red apple'], 8);
  }, TOKENIZER_JSON_LIMITS));
  out.push(jsonTarget('tokenizer_config.json', 'text_encoder/tokenizer_config.json', [tokCfgText], (v) => {
    const t = new PromptTokenizer({ tokenizerJson: tok.tokenizerJson, tokenizerConfig: v as object, what: 'tokenizer.json' });
    return t.tokenizePrompts(['a red apple'], 8);
  }));

  // PNG
  const pngs = [1, 3, 16].map((s) => encodePng({ width: s, height: s + 1, data: Float32Array.from({ length: 3 * s * (s + 1) }, () => r()) }, { settings: '{"seed": 1}' }));
  out.push({
    name: 'png', labels: ['a.png'], seeds: pngs, mutate: (seed, rr) => byteMutation(seed, rr, 40),
    run: async (b) => decodePngChecked(b, 'a.png'),
  });
  return out;
}

// ---- the loop ---------------------------------------------------------------------------------

/** A specific rejection: a plain Error whose message names the file and reads like words, not internals. */
function isSpecific(e: unknown, labels: string[]): boolean {
  if (!(e instanceof Error) || e.constructor !== Error) return false;
  const m = e.message;
  if (!labels.some((l) => m.startsWith(l))) return false;
  return !/Maximum call stack|Invalid typed array length|Invalid array length|\bNaN\b|\bundefined\b|\[object |is not a function|Cannot read prop/.test(m) && m.length < 2000;
}

export async function benchFuzz(opts: FuzzOptions = {}): Promise<FuzzResult> {
  const cases = Number(opts.cases ?? 100_000);
  const seed = Number(opts.seed ?? 1);
  if (!Number.isSafeInteger(cases) || cases < 1) throw new Error(`--cases must be a positive integer, got ${opts.cases}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${opts.seed}`);
  const r = mulberry32(seed);
  const all = await targets(r);
  const only = opts.readers ? new Set(opts.readers.split(',')) : undefined;
  const ts = only ? all.filter((t) => only.has(t.name)) : all;
  if (!ts.length) throw new Error(`--readers: none of ${opts.readers} (readers: ${all.map((t) => t.name).join(', ')})`);
  const zero = () => Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<Class, number>;
  const result: FuzzResult = {
    bench: 'fuzz', cases, seed, seconds: 0, classes: zero(), per_reader: Object.fromEntries(ts.map((t) => [t.name, zero()])), examples: [], slowest_ms: 0, largest_MiB: 0,
  };
  const log = (s: string) => { if (!opts.quiet && !opts.json) process.stderr.write(`${s}\n`); };
  // the tokenizer library reports some bad inputs on the console before failing; keep the output readable
  const quietConsole = { warn: console.warn, error: console.error, log: console.log };
  console.warn = console.error = console.log = () => {};
  const t0 = performance.now();
  let lastLog = t0;
  try {
  for (let i = 0; i < cases; i++) {
    const t = ts[i % ts.length];
    const [input, mutation] = t.mutate(pick(r, t.seeds), r);
    const maxRss0 = process.resourceUsage().maxRSS;
    const mem0 = process.memoryUsage();
    const c0 = performance.now();
    let cls: Class, detail = '';
    try {
      await t.run(input);
      cls = 'accepted';
    } catch (e) {
      cls = isSpecific(e, t.labels) ? 'rejected' : 'other_exception';
      detail = e instanceof Error ? `${e.constructor.name}: ${e.message.slice(0, 300)}` : String(e).slice(0, 300);
    }
    const ms = performance.now() - c0;
    const mem1 = process.memoryUsage();
    const grew = Math.max((process.resourceUsage().maxRSS - maxRss0) * 1024, mem1.heapUsed + mem1.arrayBuffers - mem0.heapUsed - mem0.arrayBuffers);
    result.slowest_ms = Math.max(result.slowest_ms, ms);
    result.largest_MiB = Math.max(result.largest_MiB, grew / 2 ** 20);
    if (ms > 2000) { cls = 'over_2s'; detail = `${ms.toFixed(0)} ms; ${detail}`; }
    if (grew > 256 * 2 ** 20) { cls = 'over_256MiB'; detail = `+${(grew / 2 ** 20).toFixed(0)} MiB; ${detail}`; }
    result.classes[cls]++;
    result.per_reader[t.name][cls]++;
    if (cls !== 'accepted' && cls !== 'rejected' && result.examples.filter((e) => e.reader === t.name).length < 3) result.examples.push({ reader: t.name, mutation, class: cls, detail });
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`fuzz: ${i + 1}/${cases} cases, ${JSON.stringify(result.classes)}`);
    }
  }
  } finally {
    Object.assign(console, quietConsole);
  }
  result.seconds = Math.round((performance.now() - t0) / 10) / 100;
  result.slowest_ms = Math.round(result.slowest_ms);
  result.largest_MiB = Math.round(result.largest_MiB * 10) / 10;
  if (!opts.quiet) {
    if (!opts.json) {
      for (const [name, c] of Object.entries(result.per_reader)) log(`${name.padEnd(22)} ${JSON.stringify(c)}`);
      for (const e of result.examples) log(`BAD ${e.class} ${e.reader} [${e.mutation}] ${e.detail}`);
    }
    console.log(JSON.stringify(result));
  }
  return result;
}
