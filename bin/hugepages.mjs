// Large allocations on Linux fault in 4 KiB pages unless the program asks for transparent huge
// pages (the kernel's default mode is often `madvise`); loading a model touches gigabytes of fresh
// memory (weights, converted copies, ONNX Runtime's buffers), and on virtual machines each fault is
// slow: on a 2-vCPU VM the 0.7B + 1.5B text encoder's cold loads took 72.9 s with 4 KiB pages and
// 30.9 s with glibc's hugetlb tunable (README, Loading: `hart bench generate --config full --size
// 256` with and without HART_HUGEPAGES=0). glibc reads the tunable only
// at process start, so the `hart` launcher starts its command in a child process that has it,
// for the commands that load models and then exit. Not for `hart serve` / `hart worker`:
// supervisors signal, stop (SIGSTOP) and kill their PID, which must be the process doing the work;
// set GLIBC_TUNABLES=glibc.malloc.hugetlb=1 in their environment instead. HART_HUGEPAGES=0 turns
// this off.
import { spawn } from 'node:child_process';

const COMMANDS = new Set(['generate', 'eval', 'train', 'convert', 'bench', 'export']);
const TUNABLE = 'glibc.malloc.hugetlb';
const PARENT = 'HART_LAUNCHER_PID';

/**
 * `env` with glibc's huge-page tunable added to GLIBC_TUNABLES (other tunables kept), or undefined
 * when it names that tunable already. Also used by scripts/run-tests.mjs.
 */
export function withHugePages(env) {
  const tunables = env.GLIBC_TUNABLES ?? '';
  if (tunables.includes(`${TUNABLE}=`)) return undefined;
  return { ...env, GLIBC_TUNABLES: [tunables, `${TUNABLE}=1`].filter(Boolean).join(':') };
}

/**
 * `env` without glibc's huge-page tunable (other tunables kept): for child programs that fail with
 * it, such as Chromium, whose SwiftShader then finds no WebGPU adapter (test/web/browser.ts).
 */
export function withoutHugePages(env) {
  const { GLIBC_TUNABLES, ...rest } = env;
  const kept = (GLIBC_TUNABLES ?? '').split(':').filter((t) => t && !t.startsWith(`${TUNABLE}=`));
  return kept.length ? { ...rest, GLIBC_TUNABLES: kept.join(':') } : rest;
}

/** The subcommand named on the command line (the first argument that is not an option). */
function subcommand(argv) {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

function glibc() {
  try {
    return Boolean(process.report?.getReport?.()?.header?.glibcVersionRuntime);
  } catch {
    return false;
  }
}

/**
 * In a child started by relaunch(): exits when the launcher is gone (a SIGKILL cannot be
 * forwarded), so no orphan keeps working. Returns true there.
 */
export function watchLauncher() {
  const pid = Number(process.env[PARENT]);
  if (!pid) return false;
  delete process.env[PARENT];
  setInterval(() => { if (process.ppid !== pid) process.exit(129); }, 1000).unref();
  return true;
}

/**
 * Runs this command again in a child process with glibc's huge-page tunable when that helps and
 * it is not set yet; resolves with the child's exit (the caller then exits the same way), or with
 * null when this process should run the command itself.
 */
export function relaunch() {
  const env = process.env;
  if (process.platform !== 'linux' || env.HART_HUGEPAGES === '0' || env[PARENT]) return null;
  const childEnv = withHugePages(env);
  if (!childEnv || !COMMANDS.has(subcommand(process.argv)) || !glibc()) return null;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit', env: { ...childEnv, [PARENT]: String(process.pid) },
  });
  // Signals sent to the launcher go to the child; a Ctrl-C reaches both (one process group), and
  // the command treats a repeat within a second as the same signal.
  const forward = (sig) => { child.kill(sig); };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve) => {
    child.on('error', (e) => {
      for (const s of signals) process.off(s, forward);
      process.stderr.write(`hart: could not start the command with huge pages (${e.message}); running it here\n`);
      resolve(null);
    });
    child.on('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve({ code, signal });
    });
  });
}
