// Resident-memory probes for the benchmarks (Node only): the current RSS, the process's peak RSS
// (process.resourceUsage().maxRSS), and a per-stage peak. ONNX Runtime runs synchronously on the
// main thread, so a JS timer cannot sample RSS during a run; on Linux the kernel's high-water mark
// VmHWM (/proc/self/status) is read instead and reset between stages by writing 5 to
// /proc/self/clear_refs. Elsewhere the stage peak falls back to the larger of the RSS at the
// stage's start and end (marked `exact: false`).
import { readFileSync, writeFileSync } from 'node:fs';

const GiB = 2 ** 30;

export function rssBytes(): number {
  return process.memoryUsage.rss();
}

/** Peak RSS of the whole process so far (maxRSS is in KiB). */
export function maxRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function vmHwmBytes(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function resetHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

export interface StageMemory { start_gib: number; end_gib: number; peak_gib: number; exact: boolean }

/** Measures the peak RSS between start() and stop(); stages must not overlap. */
export class StagePeak {
  private startRss = 0;
  private exact = false;
  start(): void {
    this.exact = resetHwm() && vmHwmBytes() !== null;
    this.startRss = rssBytes();
  }
  stop(): StageMemory {
    const end = rssBytes();
    const hwm = this.exact ? vmHwmBytes() : null;
    const peak = Math.max(hwm ?? 0, this.startRss, end);
    return { start_gib: gib(this.startRss), end_gib: gib(end), peak_gib: gib(peak), exact: hwm !== null };
  }
}

export function gib(bytes: number): number {
  return Math.round((bytes / GiB) * 1000) / 1000;
}
