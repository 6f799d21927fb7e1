// Reader for PyTorch `torch.save` checkpoints (the zip format, torch >= 1.6): `<prefix>/data.pkl`
// is a pickle of the state dict whose tensors point (by persistent id) at raw storages
// `<prefix>/data/<key>`. The pickle is read by the non-executing VM in pickle.ts with an
// allow-list of torch globals; tensors (with storage offsets and strides) are validated when the
// file is opened and each is read on demand through RandomAccess. Browser-safe.
import { type DType, DTYPE_BYTES, viewAs } from './dtypes.ts';
import { PickleCallable, unpickle } from './pickle.ts';
import { type RandomAccess, type TensorInfo, type TensorSource } from './tensor-source.ts';
import { type ZipArchive, type ZipEntry, openZip } from './zip.ts';

/** The pickle must fit in memory; beyond this it is treated as corrupt. */
const MAX_PICKLE_BYTES = 1 << 30;

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
  if (!(storage instanceof StorageRef)) throw new Error('first argument is not a storage');
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error(`bad storage offset ${String(offset)}`);
  if (!isIntList(size)) throw new Error(`bad size ${JSON.stringify(size)}`);
  if (!isIntList(stride) || stride.length !== size.length) throw new Error(`bad stride ${JSON.stringify(stride)} for size ${JSON.stringify(size)}`);
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
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new Error(`unsupported persistent id ${describe(pid)}`);
  const [, type, key, , numel] = pid;
  if (!(type instanceof StorageType)) throw new Error(`storage type ${describe(type)} is not a supported torch storage`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) throw new Error(`bad storage key ${describe(key)}`);
  if (!Number.isSafeInteger(numel) || numel < 0) throw new Error(`bad storage size ${describe(numel)}`);
  return new StorageRef(type.dtype, key, numel);
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x))?.slice(0, 200) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Collects tensors from the unpickled object: a dict of tensors, or nested dicts (names joined by "."). */
function collect(obj: unknown, prefix: string, out: Map<string, TensorRef>, seen = new Set<unknown>()): void {
  if (!(obj instanceof Map) || seen.has(obj)) return; // a pickle can build cyclic dicts
  seen.add(obj);
  for (const [k, v] of obj) {
    if (typeof k !== 'string' && typeof k !== 'number') continue;
    const name = prefix + String(k);
    if (v instanceof TensorRef) {
      if (out.has(name)) throw new Error(`duplicate tensor name ${JSON.stringify(name)}`);
      out.set(name, v);
    } else collect(v, name + '.', out, seen);
  }
}

/** Index of the last element a view touches, +1 (0 for an empty view). */
function extent(t: TensorRef): number {
  if (t.shape.some((d) => d === 0)) return 0;
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
  return last + 1;
}

/** Copies a strided view (element offsets relative to `base`) into a C-contiguous byte array. */
function gather(src: Uint8Array, es: number, base: number, shape: number[], stride: number[]): Uint8Array {
  let n = 1;
  for (const d of shape) n *= d;
  const out = new Uint8Array(n * es);
  if (n === 0) return out;
  const rank = shape.length;
  const inner = rank ? shape[rank - 1] : 1;
  const innerStride = rank ? stride[rank - 1] : 1;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let o = 0;
  for (let row = 0; row < n / inner; row++) {
    let e = base;
    for (let i = 0; i < rank - 1; i++) e += idx[i] * stride[i];
    if (innerStride === 1) {
      out.set(src.subarray(e * es, (e + inner) * es), o);
      o += inner * es;
    } else {
      for (let j = 0; j < inner; j++, e += innerStride, o += es) out.set(src.subarray(e * es, e * es + es), o);
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
    if (s !== 'little' && s !== 'big') throw new Error(`${what}: byteorder ${JSON.stringify(s)} is neither little nor big`);
    bigEndian = s === 'big';
  }

  const obj = unpickle(await zip.read(pklEntry), { findGlobal, persistentLoad, what: `${what}: ${pkls[0]}` });
  const refs = new Map<string, TensorRef>();
  try {
    collect(obj, '', refs);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  if (!(obj instanceof Map)) throw new Error(`${what}: the pickle holds ${describe(obj)}, not a dict of tensors`);

  // Validate every view against its storage now, so a bad file fails at open time.
  const storages = new Map<string, ZipEntry>();
  for (const [name, t] of refs) {
    const at = `${what}: tensor ${JSON.stringify(name)}`;
    const es = DTYPE_BYTES[t.storage.dtype];
    const entry = zip.entries.get(`${prefix}data/${t.storage.key}`);
    if (!entry) throw new Error(`${at}: storage ${prefix}data/${t.storage.key} is missing from the archive`);
    if (entry.size < t.storage.numel * es) {
      throw new Error(`${at}: storage ${t.storage.key} holds ${entry.size} bytes, shorter than its declared ${t.storage.numel} ${t.storage.dtype} elements`);
    }
    if (extent(t) > t.storage.numel) {
      throw new Error(`${at}: view (offset ${t.offset}, size ${JSON.stringify(t.shape)}, stride ${JSON.stringify(t.stride)}) reaches past its ${t.storage.numel}-element storage`);
    }
    let n = 1;
    for (const d of t.shape) n *= d;
    if (n * es > 2 ** 34) throw new Error(`${at}: size ${JSON.stringify(t.shape)} is absurd`);
    storages.set(name, entry);
  }
  const names = [...refs.keys()].sort();
  const get = (name: string) => {
    const t = refs.get(name);
    if (!t) throw new Error(`${what}: no tensor named ${JSON.stringify(name)}`);
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
