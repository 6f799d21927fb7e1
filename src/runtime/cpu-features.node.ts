// What this CPU's instructions mean for ONNX Runtime's integer kernels: on x86 without int8 dot
// products (neither AVX-512 VNNI nor AVX-VNNI; e.g. AVX2-only AMD EPYC virtual machines), the u8·s8
// matrix product (DynamicQuantizeMatMul) adds pairs of products in int16 (vpmaddubsw) and saturates
// above 32767, so dynq8 quantizes its weights to 7-bit codes there (RuntimeOptions.u8s8Saturates).
import { readFileSync } from 'node:fs';

/**
 * Whether a /proc/cpuinfo text describes an x86 CPU without int8 dot products (no avx512_vnni nor
 * avx_vnni flag), where ONNX Runtime's u8·s8 kernel sums pairs of products in int16 and saturates.
 */
export function u8s8SaturatesOf(cpuinfo: string, arch: string): boolean {
  if (arch !== 'x64' && arch !== 'ia32') return false;
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1];
  return flags !== undefined && !/\b(avx512_vnni|avx_vnni)\b/.test(flags);
}

/** u8s8SaturatesOf this machine's /proc/cpuinfo (false where it cannot be read). */
export function u8s8Saturates(): boolean {
  let info: string;
  try { info = readFileSync('/proc/cpuinfo', 'utf8'); } catch { return false; }
  return u8s8SaturatesOf(info, process.arch);
}
