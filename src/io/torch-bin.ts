// Reader for PyTorch `torch.save` checkpoints (the zip format, torch >= 1.6): `<prefix>/data.pkl`
// is a pickle of the state dict whose tensors point (by persistent id) at raw storages
// `<prefix>/data/<key>`. The pickle is read by the non-executing VM in pickle.ts with an
// allow-list of torch globals; tensors (with storage offsets and strides) are validated when the
// file is opened and each is read on demand through RandomAccess. Browser-safe.
import { type DType, DTYPE_BYTES, viewAs } from './dtypes.ts';
import { PickleCallable, unpickle } from './pickle.ts';
import { type RandomAccess, type TensorInfo, type TensorSource } from './tensor-source.ts';
import { type ZipArchive, type ZipEntry, openZip } from './zip.ts';
import { describe } from './schema.ts';

/** The pickle must fit in memory; beyond this it is treated as corrupt. */
const MAX_PICKLE_BYTES = 1 << 30;
/** torch tensors have at most 64 dimensions (c10 kMaxDims... in practice a handful). */
const MAX_RANK = 64;
/** Nested state dicts deeper than this are not a checkpoint (names are joined by "."). */
const MAX_DICT_DEPTH = 64;
/** A view may repeat storage elements (stride 0, overlaps) only up to this many bytes. */
const MAX_REPEATING_VIEW_BYTES = 1 << 20;

export const TORCH_STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: 'float64', FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

class StorageType { constructor(readonly dtype: DType, readonly name: string) {} }
class StorageRef { constructor(readonly dtype: DType, readonly key: string, readonly numel: number) {} }
/** A tensor in the pickle: a strided view into a storage. */
export class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`a tensor's storage is ${describe(storage)}, not a torch storage`);
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error(`a tensor's storage offset must be a non-negative integer, got ${describe(offset)}`);
  if (!isIntList(size) || size.length > MAX_RANK) throw new Error(`a tensor's size must be a list of at most ${MAX_RANK} non-negative integers, got ${describe(size)}`);
  if (!isIntList(stride) || stride.length !== size.length) throw new Error(`a tensor's stride must be ${size.length} non-negative integers (one per dimension of size ${describe(size)}), got ${describe(stride)}`);
  return new TensorRef(storage, offset as number, size.slice(), stride.slice());
}

/** The allow-list: everything a torch.save'd state dict needs, nothing that can run code. */
function findGlobal(module: string, name: string): unknown {
  const q = `${module}.${name}`;
  if (q === 'collections.OrderedDict') return new PickleCallable(q, () => new Map());
  if (q === 'torch._utils._rebuild_tensor_v2' || q === 'torch._utils._rebuild_tensor') return new PickleCallable(q, rebuildTensor);
  if (q === 'torch._utils._rebuild_parameter' || q === 'torch._utils._rebuild_parameter_with_state') {
    return new PickleCallable(q, (a) => {
      if (!(a[0] instanceof TensorRef)) throw new Error('data is not a tensor');
      return a[0];
    });
  }
  if (q === 'torch.Size') return new PickleCallable(q, (a) => (Array.isArray(a[0]) ? a[0] : []));
  if (q === 'torch.device') return new PickleCallable(q, (a) => String(a[0]));
  if (module === 'torch' && Object.prototype.hasOwnProperty.call(TORCH_STORAGE_DTYPES, name)) return new StorageType(TORCH_STORAGE_DTYPES[name], name);
  return undefined;
}

function persistentLoad(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new Error(`a storage reference must be ("storage", type, key, location, size), got ${describe(pid)}`);
  const [, type, key, , numel] = pid;
  if (!(type instanceof StorageType)) throw new Error(`storage type ${describe(type)} is not a supported torch storage`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) throw new Error(`a storage key must be 1-64 letters, digits, "_", "." or "-", got ${describe(key)}`);
  if (!Number.isSafeInteger(numel) || numel < 0) throw new Error(`a storage size must be a non-negative integer, got ${describe(numel)}`);
  return new StorageRef(type.dtype, key, numel);
}

/**
 * Collects tensors from the unpickled object: a dict of tensors, or nested dicts (names joined by
 * "."). Iterative, each dict visited once (a pickle can build cyclic or shared dicts), depth bounded.
 */
function collect(root: unknown, out: Map<string, TensorRef>): void {
  const seen = new Set<unknown>();
  const todo: [unknown, string, number][] = [[root, '', 0]];
  while (todo.length) {
    const [obj, prefix, depth] = todo.pop()!;
    if (!(obj instanceof Map) || seen.has(obj)) continue;
    if (depth > MAX_DICT_DEPTH) throw new Error(`the state dict nests dicts deeper than ${MAX_DICT_DEPTH} levels (at ${JSON.stringify(prefix.slice(0, 80))}…)`);
    seen.add(obj);
    for (const [k, v] of obj) {
      if (typeof k !== 'string' && typeof k !== 'number') continue;
      const name = prefix + String(k);
      if (v instanceof TensorRef) {
        if (out.has(name)) throw new Error(`duplicate tensor name ${describe(name)}`);
        out.set(name, v);
      } else if (v instanceof Map) todo.push([v, name + '.', depth + 1]);
    }
  }
}

/** Index of the last element a view touches, +1 (0 for an empty view). */
function extent(t: TensorRef): number {
  if (t.shape.some((d) => d === 0)) return 0;
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
  return last + 1;
}

/** Element-sized unsigned views (never float views: copying through them could change NaN bits). */
function lanes(bytes: Uint8Array, es: number): Uint8Array | Uint16Array | Uint32Array | BigUint64Array {
  if (bytes.byteOffset % es !== 0) bytes = bytes.slice(); // aligned copy
  const n = bytes.byteLength / es;
  return es === 1 ? bytes : es === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n)
    : es === 4 ? new Uint32Array(bytes.buffer, bytes.byteOffset, n) : new BigUint64Array(bytes.buffer, bytes.byteOffset, n);
}

/** Copies a strided view (element offsets relative to `base`) into a C-contiguous byte array. */
function gather(src: Uint8Array, es: number, base: number, shape: number[], stride: number[]): Uint8Array {
  let n = 1;
  for (const d of shape) n *= d;
  const out = new Uint8Array(n * es);
  if (n === 0) return out;
  const from = lanes(src, es), to = lanes(out, es);
  const rank = shape.length;
  const inner = rank ? shape[rank - 1] : 1;
  const innerStride = rank ? stride[rank - 1] : 1;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let o = 0;
  for (let row = 0; row < n / inner; row++) {
    let e = base;
    for (let i = 0; i < rank - 1; i++) e += idx[i] * stride[i];
    if (innerStride === 1) {
      to.set(from.subarray(e, e + inner) as never, o);
      o += inner;
    } else {
      for (let j = 0; j < inner; j++, e += innerStride, o++) to[o] = from[e];
    }
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

export interface TorchCheckpoint extends TensorSource {
  /** The strided views as stored, for inspection. */
  refs: Map<string, TensorRef>;
}

/** Opens a torch.save zip checkpoint; `what` names the file in error messages. */
export async function openTorchBin(access: RandomAccess, what = 'torch checkpoint', close: () => Promise<void> = async () => {}): Promise<TorchCheckpoint> {
  if (access.byteLength >= 2) {
    const head = await access.read(0, 2);
    if (head[0] === 0x80 && head[1] <= 5) throw new Error(`${what}: legacy (pre-zip, torch < 1.6) torch.save format is not supported; re-save it with a recent torch`);
    if (head[0] !== 0x50 || head[1] !== 0x4b) throw new Error(`${what}: not a torch.save zip checkpoint (bad magic bytes)`);
  }
  const zip: ZipArchive = await openZip(access, what);
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) throw new Error(`${what}: expected exactly one <prefix>/data.pkl entry, found ${pkls.length}`);
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const pklEntry = zip.entries.get(pkls[0])!;
  if (pklEntry.size > MAX_PICKLE_BYTES) throw new Error(`${what}: data.pkl is ${pklEntry.size} bytes, which is absurd`);

  let bigEndian = false;
  const bo = zip.entries.get(prefix + 'byteorder');
  if (bo) {
    const s = new TextDecoder().decode(await zip.read(bo, 0, Math.min(bo.size, 16))).trim();
    if (s !== 'little' && s !== 'big') throw new Error(`${what}: byteorder ${describe(s)} is neither little nor big`);
    bigEndian = s === 'big';
  }

  const obj = unpickle(await zip.read(pklEntry), { findGlobal, persistentLoad, what: `${what}: ${pkls[0].slice(0, 80)}` });
  if (!(obj instanceof Map)) throw new Error(`${what}: the pickle holds ${describe(obj)}, not a dict of tensors`);
  const refs = new Map<string, TensorRef>();
  try {
    collect(obj, refs);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }

  // Validate every view against its storage now, so a bad file fails at open time.
  // Every view is checked against the bytes actually present, so reading the tensors costs time
  // and memory proportional to the file: views stay inside their storage, a view repeats storage
  // elements (stride 0, overlapping strides) only when small, and all views together read at
  // most a few times the storage bytes (tied weights share a storage).
  const storages = new Map<string, ZipEntry>();
  const storageBytes = new Map<string, number>();
  let viewBytes = 0;
  for (const [name, t] of refs) {
    const at = `${what}: tensor ${describe(name)}`;
    const es = DTYPE_BYTES[t.storage.dtype];
    const key = `${prefix}data/${t.storage.key}`;
    const entry = zip.entries.get(key);
    const shown = key.length > 80 ? `${key.slice(0, 40)}…${key.slice(-30)}` : key;
    if (!entry) throw new Error(`${at}: its storage ${shown} is missing from the archive`);
    if (entry.method !== 0 || entry.compressedSize !== entry.size) throw new Error(`${at}: its storage ${shown} is compressed (only stored entries, as torch.save writes them, are read)`);
    if (entry.size < t.storage.numel * es) {
      throw new Error(`${at}: its storage ${t.storage.key} holds ${entry.size} bytes, fewer than its declared ${t.storage.numel} ${t.storage.dtype} elements`);
    }
    const view = `view (offset ${t.offset}, size ${describe(t.shape)}, stride ${describe(t.stride)})`;
    if (extent(t) > t.storage.numel) throw new Error(`${at}: ${view} reaches past its ${t.storage.numel}-element storage`);
    let n = 1;
    for (const d of t.shape) n *= d;
    if (n > t.storage.numel && n * es > MAX_REPEATING_VIEW_BYTES) {
      throw new Error(`${at}: ${view} has ${n} elements but its storage only ${t.storage.numel}: a repeating (stride-0 or overlapping) view this large is not a weight`);
    }
    viewBytes += n * es;
    storageBytes.set(key, entry.size);
    storages.set(name, entry);
  }
  let totalStorage = 0;
  for (const b of storageBytes.values()) totalStorage += b;
  if (viewBytes > 4 * totalStorage + MAX_REPEATING_VIEW_BYTES * 16) {
    throw new Error(`${what}: its tensors would read ${viewBytes} bytes from ${totalStorage} bytes of storage (views repeat the same data too often)`);
  }
  const names = [...refs.keys()].sort();
  const get = (name: string) => {
    const t = refs.get(name);
    if (!t) throw new Error(`${what}: no tensor named ${describe(name)}`);
    return t;
  };
  return {
    refs,
    names: () => names.slice(),
    info: (name): TensorInfo => {
      const t = get(name);
      return { dtype: t.storage.dtype, shape: t.shape.slice() };
    },
    async read(name) {
      const t = get(name);
      const { dtype } = t.storage;
      const es = DTYPE_BYTES[dtype];
      const end = extent(t);
      const entry = storages.get(name)!;
      let bytes: Uint8Array;
      if (end === 0) bytes = new Uint8Array(0);
      else {
        const raw = await zip.read(entry, t.offset * es, (end - t.offset) * es);
        bytes = isContiguous(t.shape, t.stride) ? raw : gather(raw, es, 0, t.shape, t.stride);
      }
      if (bigEndian && es > 1) {
        bytes = new Uint8Array(bytes); // never flip bytes in place: raw may view the caller's buffer
        for (let i = 0; i < bytes.length; i += es) bytes.subarray(i, i + es).reverse();
      }
      return { dtype, shape: t.shape.slice(), data: viewAs(dtype, bytes) };
    },
    close,
  };
}
