// Progress on stderr, one bar per stage (load, scales, diffusion, decode). On a terminal each bar
// redraws in place and stays on its own line when its stage ends; elsewhere (pipes, CI logs) each
// stage prints one line when it ends. Quiet prints nothing.
export interface StageBar {
  /** Sets the progress of the current stage (done of total). */
  update(done: number, total: number, note?: string): void;
  /** Ends the current stage (its bar full) and starts `next` if given. */
  next(stage?: string): void;
}

export function progressBars(stream: NodeJS.WriteStream, opts: { quiet?: boolean; width?: number } = {}): StageBar {
  const width = opts.width ?? 24;
  const tty = !!stream.isTTY;
  let stage: string | undefined, t0 = performance.now(), done = 0, total = 1, note = '';
  const line = () => {
    const f = total > 0 ? Math.min(1, done / total) : 1;
    const n = Math.round(f * width);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const count = total > 1 ? ` ${done}/${total}` : '';
    return `${stage!.padEnd(10)} [${'#'.repeat(n)}${'.'.repeat(width - n)}]${count} ${secs} s${note ? `  ${note}` : ''}`;
  };
  const draw = () => { if (tty && stage) stream.write(`\r\x1b[2K${line()}`); };
  return {
    update(d, t, nt) {
      if (opts.quiet || !stage) return;
      done = d; total = t; if (nt !== undefined) note = nt;
      draw();
    },
    next(s) {
      if (opts.quiet) return;
      if (stage) {
        done = total;
        stream.write(tty ? `\r\x1b[2K${line()}\n` : `${line()}\n`);
      }
      stage = s; t0 = performance.now(); done = 0; total = 1; note = '';
      draw();
    },
  };
}
