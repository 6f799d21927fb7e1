// The `hart` command (commander): every feature is a subcommand of this one entry point.
import { Command } from 'commander';

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('hart')
    .description('HART text-to-image (hybrid autoregressive transformer) on ONNX Runtime')
    .version('0.1.0');
  const { registerCommands } = await import('./commands.ts');
  registerCommands(program);
  await program.parseAsync(argv);
}
