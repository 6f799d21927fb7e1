// The `hart` command (commander): every feature is a subcommand of this one entry point. Errors
// reach the user as one line and a non-zero exit; stack traces only with --debug. Ctrl-C cancels a
// running command through `interrupt` (a second Ctrl-C quits at once).
import { Command, CommanderError } from 'commander';
import { VERSION } from '../api/version.ts';

/** Aborted by the first Ctrl-C (SIGINT/SIGTERM); commands pass it to the pipeline. */
export const interrupt = new AbortController();

function isUserError(e: unknown): boolean {
  const name = (e as Error | undefined)?.name;
  return name === 'UserError' || name === 'RequestError' || e instanceof RangeError;
}

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupt.signal.aborted) {
      // the `hart` launcher forwards signals to the command's process, which a Ctrl-C also reaches
      // directly: a repeat within a second is the same Ctrl-C
      if (performance.now() - firstSignalAt < 1000) return;
      process.exit(130);
    }
    firstSignalAt = performance.now();
    process.stderr.write(`\nhart: ${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping (again to quit at once)\n`);
    interrupt.abort(new DOMException('cancelled', 'AbortError'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const program = new Command();
  program
    .name('hart')
    .description('HART text-to-image (hybrid autoregressive transformer) on ONNX Runtime')
    .version(VERSION)
    .option('--debug', 'print stack traces of errors')
    .showSuggestionAfterError()
    // commander's messages (unknown option, missing argument, its suggestion) as one line
    .configureOutput({ outputError: (str, write) => write(`hart: ${str.trim().replace(/\s*\n\s*/g, ' ')}\n`) })
    .exitOverride();
  const { registerCommands } = await import('./commands.ts');
  registerCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its one-line message (or the help / version)
      process.exit(e.exitCode);
    }
    const err = e as Error;
    if (err?.name === 'AbortError' || interrupt.signal.aborted) {
      process.stderr.write('hart: cancelled; nothing was written\n');
      process.exit(130);
    }
    if (debug) process.stderr.write(`${err?.stack ?? String(e)}\n`);
    else if (isUserError(e)) process.stderr.write(`hart: error: ${err.message}\n`);
    else process.stderr.write(`hart: error: ${err?.message ?? String(e)} (an internal error: run with --debug for the stack trace)\n`);
    process.exit(1);
  }
}
