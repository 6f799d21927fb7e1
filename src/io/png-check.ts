// Checks a PNG's structure before any decoder allocates (issue 12: untrusted files): the decoder
// (fast-png) sizes its output from IHDR alone, so a 60-byte file claiming 65535×65535 pixels
// would allocate gigabytes. checkPng walks the chunks, bounds the image, and checks the image
// data could plausibly hold it; decodePngChecked is decodePng behind that check, with every
// failure an Error naming the file. Browser-safe.
import { decodePng } from './png.ts';

/** Decoded images are bounded: 2^24 pixels (4096×4096) keeps decoding under ~200 MiB. */
export const MAX_PNG_PIXELS = 1 << 24;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/**
 * Walks a PNG's chunks: signature, a valid 13-byte IHDR first, every chunk inside the file, IDAT
 * present, IEND at the end; the image at most MAX_PNG_PIXELS and its filtered size plausible for
 * the compressed bytes present (deflate expands at most ~1032×).
 */
export function checkPng(bytes: Uint8Array, what = 'PNG'): { width: number; height: number } {
  const fail = (m: string): never => { throw new Error(`${what}: ${m}`); };
  if (bytes.length < 8 + 25 + 12 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) fail('not a PNG file (bad signature or too short)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8, width = 0, height = 0, bitsPerPixel = 0, interlace = 0, idat = 0, sawEnd = false;
  for (let first = true; pos < bytes.length; first = false) {
    if (pos + 12 > bytes.length) fail(`chunk at byte ${pos} is truncated`);
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    if (len > bytes.length - pos - 12) fail(`chunk ${JSON.stringify(type)} of ${len} bytes runs past the end of the file (truncated?)`);
    if (first) {
      if (type !== 'IHDR' || len !== 13) fail('the first chunk is not a 13-byte IHDR');
      width = dv.getUint32(pos + 8);
      height = dv.getUint32(pos + 12);
      const depth = bytes[pos + 16], colour = bytes[pos + 17];
      if (!CHANNELS[colour] || !DEPTHS[colour].includes(depth)) fail(`colour type ${colour} with bit depth ${depth} is not a PNG format`);
      if (bytes[pos + 18] !== 0 || bytes[pos + 19] !== 0 || bytes[pos + 20] > 1) fail('unknown compression, filter or interlace method in IHDR');
      if (width < 1 || height < 1 || width * height > MAX_PNG_PIXELS) fail(`${width}×${height} pixels is outside what we decode (1 to ${MAX_PNG_PIXELS} pixels)`);
      interlace = bytes[pos + 20];
      bitsPerPixel = depth * CHANNELS[colour];
    } else if (type === 'IDAT') idat += len;
    else if (type === 'IEND') { sawEnd = true; break; }
    pos += 12 + len;
  }
  if (!sawEnd) fail('no IEND chunk (truncated?)');
  if (idat === 0) fail('no image data (IDAT)');
  const raw = height * (1 + Math.ceil((width * bitsPerPixel) / 8)) * (interlace ? 2 : 1);
  if (raw > idat * 1032 + 1024) fail(`${idat} bytes of image data cannot hold a ${width}×${height} image (truncated?)`);
  return { width, height };
}

/** decodePng behind checkPng; a corrupt image (bad filter byte, broken deflate stream) is an Error naming the file. */
export function decodePngChecked(bytes: Uint8Array, what = 'PNG'): ReturnType<typeof decodePng> {
  checkPng(bytes, what);
  try {
    return decodePng(bytes);
  } catch (e) {
    const m = String((e as Error)?.message ?? e).slice(0, 200);
    throw new Error(`${what}: cannot be decoded (${/undefined|NaN|is not a function|Cannot read|outside the bounds/.test(m) ? 'the image data is shorter than the image or corrupt' : m})`);
  }
}
