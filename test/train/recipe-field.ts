// One check for an optional transformer-stage recipe field added after runs were checkpointed: it
// parses with its default 0 absent from the stage fingerprint (older runs still resume), a set value
// is kept and changes the transformer's fingerprint but not the tokenizer's, and an out-of-range
// value is an error naming the field.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseRecipe, stageFingerprint, type TransformerStage } from '../../src/train/recipe.ts';

export function checkOptionalTransformerField(field: keyof TransformerStage, value: number, bad: number, recipe = 'recipes/default-20.json'): void {
  const base = JSON.parse(readFileSync(recipe, 'utf8'));
  const r0 = parseRecipe(base);
  assert.equal(r0.transformer[field], 0);
  assert.equal(JSON.stringify(stageFingerprint(r0, 'transformer')).includes(field), false);
  const r1 = parseRecipe({ ...base, transformer: { ...base.transformer, [field]: value } });
  assert.equal(r1.transformer[field], value);
  assert.notDeepEqual(stageFingerprint(r1, 'transformer'), stageFingerprint(r0, 'transformer'));
  assert.deepEqual(stageFingerprint(r1, 'tokenizer'), stageFingerprint(r0, 'tokenizer'));
  assert.throws(() => parseRecipe({ ...base, transformer: { ...base.transformer, [field]: bad } }), new RegExp(`transformer\\.${field}`));
}
