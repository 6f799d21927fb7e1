// How many intra-op threads Node's runtime gives ONNX Runtime when none is asked for: the physical
// cores this process may use. ORT's own default is "the physical cores, or half the logical ones"
// where it cannot tell them apart, which on a virtual machine without SMT (this project's 2-vCPU
// machines: 2 cores, 1 thread each) is half the cores. Linux only (/proc/cpuinfo's distinct
// (physical id, core id) pairs), capped by the CPUs the process may run on and by a cgroup v2 CPU
// quota (a container's --cpus); elsewhere undefined, which leaves the choice to ORT.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Distinct (physical id, core id) pairs of a /proc/cpuinfo text; undefined if it names none. */
export function physicalCoresOf(cpuinfo: string): number | undefined {
  const cores = new Set<string>();
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(\\S+)`, 'm').exec(block)?.[1];
    const core = field('core id');
    if (core !== undefined) cores.add(`${field('physical id') ?? 0}:${core}`);
  }
  return cores.size > 0 ? cores.size : undefined;
}

/** CPUs a cgroup v2 `cpu.max` text allows ("max 100000": no limit; "150000 100000": 2). */
export function cgroupCpusOf(cpuMax: string): number | undefined {
  const [quota, period] = cpuMax.trim().split(/\s+/);
  const q = Number(quota), p = Number(period);
  return quota === 'max' || !(q > 0 && p > 0) ? undefined : Math.max(1, Math.ceil(q / p));
}

function readOr(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

/** The physical cores this process may use (see the file comment), or undefined when unknown. */
export function physicalCores(): number | undefined {
  const info = readOr('/proc/cpuinfo');
  const cores = info === undefined ? undefined : physicalCoresOf(info);
  if (cores === undefined) return undefined;
  const quota = readOr('/sys/fs/cgroup/cpu.max');
  const limit = quota === undefined ? undefined : cgroupCpusOf(quota);
  return Math.max(1, Math.min(cores, availableParallelism(), limit ?? Infinity));
}

/**
 * Intra-op threads for each of `concurrency` generations that share one runtime (hart serve, hart
 * worker): the physical cores divided among them, at least one, so that concurrent runs do not ask
 * for more threads than there are cores; undefined (ORT's choice) where the cores are unknown.
 */
export function threadsPerJob(concurrency: number, cores = physicalCores()): number | undefined {
  return cores === undefined ? undefined : Math.max(1, Math.floor(cores / Math.max(1, concurrency)));
}
