// loadProgressLogger (hart serve, hart worker): throttled progress lines while loading, then the total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProgressLogger } from '../../src/pipeline/load-progress-log.ts';

test('load progress lines: throttled while loading, always the total at the end', () => {
  const lines: string[] = [];
  const quiet = loadProgressLogger((l) => lines.push(l), 60_000);
  quiet({ done: 1, total: 3, what: 'read the weights' });
  quiet({ done: 2, total: 3, what: 'compiled the decoder' });
  quiet({ done: 3, total: 3, what: '' });
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^loaded in \d+\.\d s/);

  lines.length = 0;
  const every = loadProgressLogger((l) => lines.push(l), 0);
  every({ done: 1, total: 2, what: 'read the weights' });
  every({ done: 2, total: 2, what: '' });
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^loading: 1\/2 \(read the weights\), \d+\.\d s$/);
  assert.match(lines[1], /^loaded in /);
});
