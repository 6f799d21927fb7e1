// Registers the subcommands of `hart`; each lives in its own file and is loaded when used.
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks (ratios against a baseline measured in the same run)');
  bench
    .command('engine')
    .description('ONNX Runtime MatMul peak, a Llama-style block forward and training step, and a PyTorch peer')
    .option('--json', 'print one JSON object as the last line')
    .option('--threads <n>', 'intra-op threads', '2')
    .action(async (opts) => (await import('../../bench/engine.ts')).benchEngine(opts));
}
