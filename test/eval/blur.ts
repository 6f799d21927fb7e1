// Gaussian blur for tests: separable float64 kernel (radius ⌈3σ⌉, normalised), edges replicated;
// interleaved RGB bytes in and out (rounded).
export function gaussianBlur(rgb: Uint8Array, width: number, height: number, sigma: number): Uint8Array {
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
  const tmp = new Float64Array(rgb.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let d = -r; d <= r; d++) s += k[d + r] * rgb[(y * width + clamp(x + d, width)) * 3 + c];
    tmp[(y * width + x) * 3 + c] = s;
  }
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let d = -r; d <= r; d++) s += k[d + r] * tmp[(clamp(y + d, height) * width + x) * 3 + c];
    out[(y * width + x) * 3 + c] = Math.round(s);
  }
  return out;
}
