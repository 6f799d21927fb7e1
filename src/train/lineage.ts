// A trained model's history in hart.json `sources`: { recipe, steps, init: { from, lineage } }, where
// `lineage` lists the init folder's own history newest first, one entry per run ({ recipe, steps,
// from }, or an `assembled` entry whose parts' histories are lists too). Nesting each run's sources
// inside the next added two JSON levels per run and passed the reader's depth bound (32) after
// sixteen continued runs; a list keeps the depth constant however long the chain grows.
// `flattenLineage` reads both forms: the nested `init.sources` chains written before, and `lineage`.

import { isPlainObject as isObject } from '../io/schema.ts';

type Json = Record<string, unknown>;

/** A folder's `sources` (either form) → its runs newest first, with depth bounded whatever the chain's length. */
export function flattenLineage(sources: unknown): Json[] {
  const out: Json[] = [];
  let node: unknown = sources;
  for (let guard = 0; isObject(node) && guard < 10_000; guard++) {
    const { init, lineage, transformer, tokenizer, ...rest } = node;
    const entry: Json = { ...rest };
    // an assembled model: each part's own history, flattened the same way
    if (isObject(transformer)) entry.transformer = flattenLineage(transformer);
    if (isObject(tokenizer)) entry.tokenizer = flattenLineage(tokenizer);
    if (isObject(init) && typeof init.from === 'string') entry.from = init.from;
    out.push(entry);
    const parent = isObject(init) ? init : undefined;
    if (Array.isArray(lineage)) { out.push(...lineage.filter(isObject)); break; }
    if (parent && Array.isArray(parent.lineage)) { out.push(...parent.lineage.filter(isObject)); break; }
    node = parent?.sources;
  }
  return out;
}
