// PNG encoding of generated images (browser-safe, fast-png for the pixels), with text metadata:
// Latin-1 text as tEXt, anything else as uncompressed UTF-8 iTXt (PNG 1.2 §11.3.4), so a prompt in
// any script is stored as itself, never as \u escapes. readPngText reads tEXt, iTXt and zTXt back.
import { decode, encode } from 'fast-png';

/** An RGB image in [0,1], laid out [3, H, W] (channel-major, as the decoder produces it). */
export interface ImageCHW { width: number; height: number; data: Float32Array }

/** [3,H,W] floats in [0,1] → interleaved RGB bytes; x·255 truncated like the official scripts. */
export function toRgb8(img: ImageCHW): Uint8Array {
  const { width: W, height: H, data } = img;
  if (data.length !== 3 * H * W) throw new Error(`image data has ${data.length} values, expected 3×${H}×${W}`);
  const out = new Uint8Array(H * W * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < H * W; i++) {
      const v = data[c * H * W + i];
      out[i * 3 + c] = Math.min(255, Math.max(0, Math.floor((Number.isFinite(v) ? v : 0) * 255)));
    }
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const isLatin1 = (s: string) => /^[\x20-\x7e\n\xa0-\xff]*$/.test(s);
const latin1Bytes = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

/** A PNG keyword: 1–79 printable Latin-1 characters, no leading/trailing/double spaces. */
function checkKeyword(k: string): void {
  if (!/^[\x21-\x7e\xa1-\xff]([\x20-\x7e\xa1-\xff]{0,77}[\x21-\x7e\xa1-\xff])?$/.test(k) || k.includes('  ')) {
    throw new Error(`PNG text keyword ${JSON.stringify(k)} must be 1–79 printable Latin-1 characters`);
  }
}

/** One tEXt (Latin-1) or iTXt (UTF-8, uncompressed) chunk, length + type + data + CRC. */
export function textChunk(keyword: string, value: string, utf8 = false): Uint8Array {
  checkKeyword(keyword);
  const key = latin1Bytes(keyword);
  let type: string, body: Uint8Array;
  if (!utf8 && isLatin1(value)) {
    type = 'tEXt';
    body = new Uint8Array(key.length + 1 + value.length);
    body.set(key, 0);
    body.set(latin1Bytes(value), key.length + 1);
  } else {
    type = 'iTXt';
    const text = new TextEncoder().encode(value);
    // keyword \0, compression flag 0, method 0, empty language tag \0, empty translated keyword \0
    body = new Uint8Array(key.length + 5 + text.length);
    body.set(key, 0);
    body.set(text, key.length + 5);
  }
  const chunk = new Uint8Array(12 + body.length);
  const dv = new DataView(chunk.buffer);
  dv.setUint32(0, body.length);
  chunk.set(latin1Bytes(type), 4);
  chunk.set(body, 8);
  dv.setUint32(8 + body.length, crc32(chunk, 4, 8 + body.length));
  return chunk;
}

/** Inserts chunks right after IHDR (metadata before the pixels, where readers look first). */
function insertAfterIhdr(png: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  const ihdrEnd = 8 + 12 + new DataView(png.buffer, png.byteOffset).getUint32(8);
  const extra = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(png.length + extra);
  out.set(png.subarray(0, ihdrEnd), 0);
  let o = ihdrEnd;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  out.set(png.subarray(ihdrEnd), o);
  return out;
}

/**
 * RGB PNG of an image in [0,1]; each `text` entry becomes a tEXt chunk when its value is Latin-1,
 * otherwise (or when its keyword is in `utf8Keys`) an iTXt chunk holding the UTF-8 text.
 */
export function encodePng(img: ImageCHW, text: Record<string, string> = {}, utf8Keys: readonly string[] = []): Uint8Array {
  const png = encode({ width: img.width, height: img.height, data: toRgb8(img), channels: 3, depth: 8 });
  const chunks = Object.entries(text).map(([k, v]) => textChunk(k, v, utf8Keys.includes(k)));
  return chunks.length ? insertAfterIhdr(png, chunks) : png;
}

/** The text chunks of a PNG (tEXt, iTXt; zTXt/compressed iTXt are skipped), keyword → text. */
export function readPngText(bytes: Uint8Array, what = 'PNG'): Record<string, string> {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 8 || sig.some((b, i) => bytes[i] !== b)) throw new Error(`${what}: not a PNG file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, string> = {};
  const latin1 = (a: Uint8Array) => { let s = ''; for (const b of a) s += String.fromCharCode(b); return s; };
  for (let p = 8; p + 12 <= bytes.length;) {
    const len = dv.getUint32(p);
    const type = latin1(bytes.subarray(p + 4, p + 8));
    if (p + 12 + len > bytes.length) throw new Error(`${what}: chunk ${JSON.stringify(type)} runs past the end of the file`);
    const body = bytes.subarray(p + 8, p + 8 + len);
    const z = body.indexOf(0);
    if (type === 'tEXt' && z > 0) out[latin1(body.subarray(0, z))] = latin1(body.subarray(z + 1));
    else if (type === 'iTXt' && z > 0 && body[z + 1] === 0) {
      const lang = body.indexOf(0, z + 3);
      const tkey = lang < 0 ? -1 : body.indexOf(0, lang + 1);
      if (tkey >= 0) {
        try {
          out[latin1(body.subarray(0, z))] = new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(tkey + 1));
        } catch {
          throw new Error(`${what}: iTXt chunk ${JSON.stringify(latin1(body.subarray(0, z)))} is not UTF-8`);
        }
      }
    } else if (type === 'IEND') break;
    p += 12 + len;
  }
  return out;
}

/** PNG → RGB bytes and its text chunks (for untrusted files, io/png-check.ts checks them first). */
export function decodePng(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array; text: Record<string, string> } {
  const d = decode(bytes);
  if (d.depth !== 8 || (d.channels !== 3 && d.channels !== 4)) throw new Error(`unsupported PNG: depth ${d.depth}, ${d.channels} channels`);
  const rgb = new Uint8Array(d.width * d.height * 3);
  for (let i = 0; i < d.width * d.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = d.data[i * d.channels + c];
  return { width: d.width, height: d.height, rgb, text: readPngText(bytes) };
}

/** A1111 "infotext" values: quoted as JSON when they contain a comma, colon or newline. */
function infoValue(v: string | number | boolean): string {
  const s = String(v);
  return /[,:\n"]/.test(s) ? JSON.stringify(s) : s;
}

/**
 * The A1111-style `parameters` text (the de-facto interchange format read by PNG Info, Civitai,
 * sd.cpp …): the prompt on the first line(s), then "Key: value" pairs separated by ", ".
 */
export function a1111Parameters(prompt: string, fields: [string, string | number | boolean][]): string {
  return `${prompt}\n${fields.map(([k, v]) => `${k}: ${infoValue(v)}`).join(', ')}`;
}
