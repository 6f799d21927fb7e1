// Timing helpers for the benchmarks: wall-clock seconds of async calls, medians and spreads.
// The machines are shared and noisy, so callers interleave what they compare and take medians.

export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

export function median(v: readonly number[]): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "median (min–max, n runs)" in milliseconds. */
export function spread(v: readonly number[]): string {
  const ms = (s: number) => (s * 1000).toFixed(1);
  return `${ms(median(v))} ms (min ${ms(Math.min(...v))}, max ${ms(Math.max(...v))}, ${v.length} runs)`;
}
