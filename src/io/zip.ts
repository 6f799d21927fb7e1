// Minimal ZIP reader (PKWARE APPNOTE) for torch.save checkpoints: central directory, zip64,
// stored (uncompressed) entries, read through RandomAccess so huge archives are never loaded
// whole. Every offset and length is bounds-checked; errors say what is wrong. Browser-safe.
import type { RandomAccess } from './tensor-source.ts';
import { describe } from './schema.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored; anything else is rejected when read. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface ZipArchive {
  entries: Map<string, ZipEntry>;
  /** Offset of an entry's data (reads its local header). */
  dataOffset(entry: ZipEntry): Promise<number>;
  /** `length` bytes at `offset` within an entry's data (default: the whole entry). */
  read(entry: ZipEntry, offset?: number, length?: number): Promise<Uint8Array>;
}

const EOCD = 0x06054b50, EOCD64 = 0x06064b50, EOCD64_LOCATOR = 0x07064b50, CDH = 0x02014b50, LFH = 0x04034b50;
const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
function u64(b: Uint8Array, o: number, what: string): number {
  const v = u32(b, o) + u32(b, o + 4) * 2 ** 32;
  if (!Number.isSafeInteger(v)) throw new Error(`${what}: 64-bit field exceeds 2^53`);
  return v;
}

/** Reads the central directory of a ZIP archive. `what` names the file in error messages. */
export async function openZip(access: RandomAccess, what = 'zip'): Promise<ZipArchive> {
  const size = access.byteLength;
  if (size < 22) throw new Error(`${what}: ${size} bytes is too short to be a ZIP archive`);
  const tailLen = Math.min(size, 22 + 0xffff);
  const tailStart = size - tailLen;
  const tail = await access.read(tailStart, tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (u32(tail, i) === EOCD && i + 22 + u16(tail, i + 20) <= tailLen) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${what}: no ZIP end-of-central-directory record (not a ZIP archive, or truncated)`);
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(tail, loc) !== EOCD64_LOCATOR) throw new Error(`${what}: zip64 end-of-central-directory locator missing`);
    const rec = u64(tail, loc + 8, what);
    if (rec + 56 > size) throw new Error(`${what}: zip64 end-of-central-directory record is outside the file`);
    const r = await access.read(rec, 56);
    if (u32(r, 0) !== EOCD64) throw new Error(`${what}: bad zip64 end-of-central-directory signature`);
    count = u64(r, 32, what);
    cdSize = u64(r, 40, what);
    cdOffset = u64(r, 48, what);
  }
  if (cdOffset + cdSize > size) throw new Error(`${what}: central directory (${cdSize} bytes at ${cdOffset}) lies outside the ${size}-byte file (truncated?)`);
  if (cdSize > 1 << 30) throw new Error(`${what}: central directory of ${cdSize} bytes is absurd`);
  if (count * 46 > cdSize) throw new Error(`${what}: central directory of ${cdSize} bytes cannot hold ${count} entries`);
  const cd = await access.read(cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  const dec = new TextDecoder();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || u32(cd, p) !== CDH) throw new Error(`${what}: central directory entry ${i} is malformed`);
    const method = u16(cd, p + 10);
    let compressedSize = u32(cd, p + 20), sz = u32(cd, p + 24);
    const nameLen = u16(cd, p + 28), extraLen = u16(cd, p + 30), commentLen = u16(cd, p + 32);
    let localHeaderOffset = u32(cd, p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) throw new Error(`${what}: central directory entry ${i} runs past the directory`);
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 0xffffffff fields, in order size, compressed size, offset.
    if (sz === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
      let e = p + 46 + nameLen, found = false;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = u16(cd, e), len = u16(cd, e + 2);
        if (e + 4 + len > eEnd) break;
        if (id === 0x0001) {
          let q = e + 4;
          const take = () => {
            if (q + 8 > e + 4 + len) throw new Error(`${what}: entry ${describe(name)} has a short zip64 extra field`);
            const v = u64(cd, q, what);
            q += 8;
            return v;
          };
          if (sz === 0xffffffff) sz = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
          found = true;
          break;
        }
        e += 4 + len;
      }
      if (!found) throw new Error(`${what}: entry ${describe(name)} needs a zip64 extra field but has none`);
    }
    if (localHeaderOffset + 30 + compressedSize > size) throw new Error(`${what}: entry ${describe(name)} lies outside the file (truncated?)`);
    if (entries.has(name)) throw new Error(`${what}: duplicate entry ${describe(name)}`);
    entries.set(name, { name, method, compressedSize, size: sz, localHeaderOffset });
    p = end;
  }
  const dataOffsets = new Map<string, number>();
  const dataOffset = async (e: ZipEntry): Promise<number> => {
    const known = dataOffsets.get(e.name);
    if (known !== undefined) return known;
    const h = await access.read(e.localHeaderOffset, 30);
    if (u32(h, 0) !== LFH) throw new Error(`${what}: entry ${describe(e.name)} has a bad local header signature`);
    const off = e.localHeaderOffset + 30 + u16(h, 26) + u16(h, 28);
    if (off + e.compressedSize > size) throw new Error(`${what}: entry ${describe(e.name)} data lies outside the file (truncated?)`);
    dataOffsets.set(e.name, off);
    return off;
  };
  return {
    entries,
    dataOffset,
    async read(e, offset = 0, length = e.size - offset) {
      if (e.method !== 0) throw new Error(`${what}: entry ${describe(e.name)} is compressed (method ${e.method}); only stored entries are supported`);
      if (e.compressedSize !== e.size) throw new Error(`${what}: stored entry ${describe(e.name)} has different compressed and uncompressed sizes`);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > e.size) {
        throw new Error(`${what}: read of ${length} bytes at ${offset} is outside entry ${describe(e.name)} (${e.size} bytes)`);
      }
      return access.read((await dataOffset(e)) + offset, length);
    },
  };
}
