// PNG encoding of generated images (browser-safe, fast-png), with the generation settings stored
// as tEXt metadata so an image records how to reproduce it.
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

/** tEXt chunks are Latin-1: other characters are stored as \uXXXX escapes (JSON style). */
export function latin1Safe(s: string): string {
  return s.replace(/[^\x20-\x7e\n]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function encodePng(img: ImageCHW, text: Record<string, string> = {}): Uint8Array {
  const safe = Object.fromEntries(Object.entries(text).map(([k, v]) => [latin1Safe(k).slice(0, 79), latin1Safe(v)]));
  return encode({ width: img.width, height: img.height, data: toRgb8(img), channels: 3, depth: 8, text: safe });
}

export function decodePng(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array; text: Record<string, string> } {
  const d = decode(bytes);
  if (d.depth !== 8 || (d.channels !== 3 && d.channels !== 4)) throw new Error(`unsupported PNG: depth ${d.depth}, ${d.channels} channels`);
  const rgb = new Uint8Array(d.width * d.height * 3);
  for (let i = 0; i < d.width * d.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = d.data[i * d.channels + c];
  return { width: d.width, height: d.height, rgb, text: d.text };
}
