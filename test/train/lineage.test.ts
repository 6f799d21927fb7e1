// hart.json `sources` of continued runs: the nested chains written before and the flat `lineage`
// written now both read as one list, newest first, at a depth that does not grow with the chain
// (nested, sixteen runs reached the reader's 32-level bound and stopped a seventeenth run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flattenLineage } from '../../src/train/lineage.ts';
import { checkJsonLimits, JSON_LIMITS } from '../../src/io/schema.ts';

const depth = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0);

test('a nested chain of 40 runs flattens to 40 entries, newest first, and stays readable', () => {
  let nested: Record<string, unknown> = { recipe: 'run-0', steps: { transformer: 1 } };
  for (let i = 1; i < 40; i++) nested = { recipe: `run-${i}`, steps: { transformer: 1 }, init: { from: `dir-${i - 1}`, sources: nested } };
  assert.ok(depth(nested) > JSON_LIMITS.maxDepth);
  const flat = flattenLineage(nested);
  assert.deepEqual(flat.map((e) => e.recipe), Array.from({ length: 40 }, (_, i) => `run-${39 - i}`));
  assert.equal(flat[0].from, 'dir-38');
  assert.equal(flat[39].from, undefined);
  // what the next run writes: its own entry, then the list
  const written = { recipe: 'run-40', steps: { transformer: 1 }, init: { from: 'dir-39', lineage: flat } };
  assert.ok(depth(written) <= 6);
  assert.doesNotThrow(() => checkJsonLimits(written, 'hart.json'));
  // read again: the flat form continues the list without nesting
  assert.deepEqual(flattenLineage(written).map((e) => e.recipe), ['run-40', ...flat.map((e) => e.recipe)]);
});

test('an assembled model keeps each part history as a list', () => {
  const s = { recipe: 'r2', steps: {}, init: { from: 'm', sources: { assembled: 'parts', transformer: { recipe: 't', init: { from: 'a', sources: { recipe: 't0' } } }, tokenizer: { recipe: 'k' } } } };
  assert.deepEqual(flattenLineage(s), [
    { recipe: 'r2', steps: {}, from: 'm' },
    { assembled: 'parts', transformer: [{ recipe: 't', from: 'a' }, { recipe: 't0' }], tokenizer: [{ recipe: 'k' }] },
  ]);
  assert.deepEqual(flattenLineage(null), []);
});
