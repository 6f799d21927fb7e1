// Load progress as log lines for the long-running doors (hart serve, hart worker): one line every
// few seconds while a model loads (a full-size first load compiles for minutes), then the total.
import type { LoadProgress } from './load.ts';

export function loadProgressLogger(log: (line: string) => void, everyMs = 3000): (e: LoadProgress) => void {
  const t0 = performance.now();
  let said = t0;
  return (e) => {
    const now = performance.now();
    if (e.done < e.total && now - said < everyMs) return;
    said = now;
    const secs = ((now - t0) / 1000).toFixed(1);
    log(e.done < e.total ? `loading: ${e.done}/${e.total}${e.what ? ` (${e.what})` : ''}, ${secs} s` : `loaded in ${secs} s (the text encoder loads with the first prompt)`);
  };
}
