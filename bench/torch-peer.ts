// The PyTorch CPU peer: bench/torch_block.py run by /usr/bin/python3 in --serve mode, so its
// timings can be interleaved with ours; null when python3 or torch is missing. Node-only.
// HART_BENCH_PYTHON names another interpreter (e.g. a path that does not exist, to see the null path).
// The peer gets the thread count through OMP/OpenBLAS/MKL variables, and no OPENBLAS_CORETYPE, so
// OpenBLAS uses its kernels for this CPU: a forced older core type (this machine's environment sets
// Haswell, AVX2) would handicap the peer's matmuls.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BlockConfig } from './llama-block.ts';

export const PYTHON = process.env.HART_BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch_block.py', import.meta.url));

export class TorchPeer {
  private waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private constructor(
    private proc: ChildProcessWithoutNullStreams,
    private lines: Interface,
    readonly version: string,
    /** OpenBLAS's kernel set (e.g. 'Cooperlake'), null when unknown. */
    readonly openblasCore: string | null,
  ) {}

  /** Starts the peer; null (with the reason in `why`) when it cannot run here. */
  static async start(cfg: BlockConfig, threads: number, why: (reason: string) => void): Promise<TorchPeer | null> {
    const n = String(threads);
    const args = [SCRIPT, '--serve', '--threads', n, '--B', String(cfg.B), '--L', String(cfg.L), '--C', String(cfg.C),
      '--heads', String(cfg.heads), '--hidden', String(cfg.hidden)];
    let proc: ChildProcessWithoutNullStreams;
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n };
    delete env.OPENBLAS_CORETYPE;
    try {
      proc = spawn(PYTHON, args, { env });
    } catch (e) {
      why(`cannot start ${PYTHON}: ${(e as Error).message}`);
      return null;
    }
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const lines = createInterface({ input: proc.stdout });
    const first = await new Promise<string | null>((resolve) => {
      proc.once('error', (e) => { stderr += e.message; resolve(null); });
      proc.once('exit', () => resolve(null));
      lines.once('line', resolve);
    });
    if (!first) {
      why(`${PYTHON} ${SCRIPT} did not start: ${stderr.trim().split('\n').pop() ?? 'no output'}`);
      proc.kill();
      return null;
    }
    const hello = JSON.parse(first) as { ready: boolean; torch: string; openblas_core: string | null };
    const peer = new TorchPeer(proc, lines, hello.torch, hello.openblas_core);
    lines.on('line', (l) => peer.waiting.shift()?.resolve(l));
    proc.on('exit', (code) => {
      for (const w of peer.waiting.splice(0)) w.reject(new Error(`torch peer exited (${code}): ${stderr.trim()}`));
    });
    return peer;
  }

  /** Runs `cmd` ('fwd', 'train' or 'matmul') n times in the peer; seconds per run. */
  async time(cmd: 'fwd' | 'train' | 'matmul', n: number): Promise<number[]> {
    const line = await new Promise<string>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.proc.stdin.write(`${cmd} ${n}\n`);
    });
    return (JSON.parse(line) as { times: number[] }).times;
  }

  async close(): Promise<void> {
    this.proc.stdin.end('quit\n');
    await new Promise((resolve) => this.proc.once('exit', resolve));
    this.lines.close();
  }
}
