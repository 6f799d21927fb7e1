// The official prompt handling (hart/utils/tools.py::encode_prompts) in src/models/text/
// {prompt-tokenizer,text-encoder}.ts, on a tiny Qwen2-style byte-level BPE tokenizer and a tiny random
// Qwen2: padding to 300, mask = tokens != pad, position ids = cumsum(mask) − 1, truncation, the
// system-prompt prefix, and the kept hidden states against the float64 reference forward.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '@huggingface/tokenizers';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { PromptTokenizer } from '../../../src/models/text/prompt-tokenizer.ts';
import { QwenTextEncoder, TEXT_MAX_LENGTH } from '../../../src/models/text/text-encoder.ts';
import { LLM_SYSTEM_PROMPT } from '../../../src/models/text/system-prompt.ts';
import { tinyTokenizer } from './tiny-tokenizer.ts';
import { maxAbsDiff, qwen2ReferenceRow, randomQwen2Weights, tinyQwen2Config, tinyQwen2ConfigJson } from './reference.ts';
import { checkpointSource } from './checkpoint.ts';

const PAD = 266; // <|endoftext|>: 256 bytes + 10 merges
const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

test('the tiny tokenizer splits and merges like a Qwen2 byte-level BPE', () => {
  const t = tinyTokenizer();
  const tok = new Tokenizer(t.tokenizerJson, t.tokenizerConfig);
  // 'a' = byte 0x61 → index 0x61 − 0x21 in the byte alphabet; 'Ġcat' is the 3rd merge (256 + 2).
  assert.deepEqual(tok.encode('a cat').ids, [64, 258]);
  assert.deepEqual(tok.encode('A red dog.').tokens, ['A', 'Ġred', 'Ġdog', '.']);
  assert.deepEqual(tok.encode('A red dog.').ids, [32, 265, 261, 13]);
  assert.deepEqual(tok.encode("it's 12\n\n").tokens, ['i', 't', "'", 's', 'Ġ', '1', '2', 'Ċ', 'Ċ']);
  assert.equal(tok.token_to_id('<|endoftext|>'), PAD);
});

test('missingWords is empty for a byte-level BPE, whose words are pieces by design', () => {
  const t = tinyTokenizer();
  const pt = new PromptTokenizer({ tokenizerJson: t.tokenizerJson, tokenizerConfig: t.tokenizerConfig });
  assert.deepEqual(pt.missingWords('a zebra photo ☃'), []);
  assert.deepEqual(pt.tokenizePrompts(['a zebra'], 8).missingWords, [[]]);
});

test('prompts are padded to max_length on the right; mask and cumsum position ids', () => {
  const pt = new PromptTokenizer(tinyTokenizer());
  assert.equal(pt.padTokenId, PAD);
  assert.equal(pt.paddingSide, 'right');
  const r = pt.tokenizePrompts(['a cat', 'A red dog.'], 300);
  assert.deepEqual([...r.tokens.subarray(0, 300)], [64, 258, ...range(298, () => PAD)]);
  assert.deepEqual([...r.tokens.subarray(300, 600)], [32, 265, 261, 13, ...range(296, () => PAD)]);
  assert.deepEqual([...r.mask.subarray(0, 300)], range(300, (i) => (i < 2 ? 1 : 0)));
  assert.deepEqual([...r.positionIds.subarray(0, 300)], range(300, (i) => Math.min(i, 1)));
  assert.deepEqual([...r.positionIds.subarray(300, 600)], range(300, (i) => Math.min(i, 3)));
  assert.deepEqual(r.truncated, [false, false]);
  assert.deepEqual(r.numTokens, [2, 4]);
});

test('padding_side "left" pads in front; leading pads get position −1 (cumsum(mask) − 1)', () => {
  const pt = new PromptTokenizer(tinyTokenizer({ padding_side: 'left' }));
  const r = pt.tokenizePrompts(['a cat'], 300);
  assert.deepEqual([...r.tokens], [...range(298, () => PAD), 64, 258]);
  assert.deepEqual([...r.mask], range(300, (i) => (i >= 298 ? 1 : 0)));
  assert.deepEqual([...r.positionIds], range(300, (i) => (i >= 298 ? i - 298 : -1)));
});

test('long prompts are truncated to max_length (flagged), on truncation_side', () => {
  const digits = range(355, (i) => i % 10).join(''); // 355 single-digit tokens; '0' = id 15
  const right = new PromptTokenizer(tinyTokenizer()).tokenizePrompts([digits, 'a cat'], 300);
  assert.deepEqual(right.truncated, [true, false]);
  assert.deepEqual(right.numTokens, [355, 2]);
  assert.deepEqual([...right.tokens.subarray(0, 300)], range(300, (i) => 15 + (i % 10)));
  assert.ok(right.mask.subarray(0, 300).every((m) => m === 1));
  assert.equal(right.positionIds[299], 299);
  const left = new PromptTokenizer(tinyTokenizer({ truncation_side: 'left' })).tokenizePrompts([digits], 300);
  assert.deepEqual([...left.tokens], range(300, (i) => 15 + ((i + 55) % 10)));
});

test('a literal pad token inside a prompt is masked, as officially (mask = tokens != pad)', () => {
  const r = new PromptTokenizer(tinyTokenizer()).tokenizePrompts(['a<|endoftext|> cat'], 8);
  assert.deepEqual([...r.tokens], [64, PAD, 258, PAD, PAD, PAD, PAD, PAD]);
  assert.deepEqual([...r.mask], [1, 0, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...r.positionIds], [0, 0, 1, 1, 1, 1, 1, 1]);
});

test('tokenizer config errors', () => {
  assert.throws(() => new PromptTokenizer(tinyTokenizer({ pad_token: undefined })), /no pad token/);
  assert.throws(() => new PromptTokenizer(tinyTokenizer({ pad_token: '<pad>' })), /not in the tokenizer's vocabulary/);
  assert.throws(() => new PromptTokenizer(tinyTokenizer({ padding_side: 'middle' })), /padding_side/);
  assert.equal(new PromptTokenizer(tinyTokenizer({ pad_token: { __type: 'AddedToken', content: '<|im_end|>' } })).padTokenId, 268);
});

// ---- the whole encode_prompts path on a tiny random Qwen2 ----

const cfg = tinyQwen2Config();
const runtime = nodeRuntime({ threads: 2 });
const tiny = tinyTokenizer();
const refTok = new Tokenizer(tiny.tokenizerJson, tiny.tokenizerConfig);
const setup = (async () => {
  const { source, values } = await checkpointSource(cfg, randomQwen2Weights(cfg, 11), {
    prefix: 'model.', extra: { 'lm_head.weight': [cfg.vocab_size, cfg.hidden_size] },
  });
  const enc = await QwenTextEncoder.fromPretrained({ config: tinyQwen2ConfigJson(cfg), tokenizerJson: tiny.tokenizerJson, tokenizerConfig: tiny.tokenizerConfig, weights: source }, runtime);
  return { enc, values };
})();
after(async () => (await setup).enc.release());

/** Reference: Qwen2 on cat([sys, prompt tokens padded to 300]) with mask cat([1…, tokens != pad]), rows [S:]. */
function referenceContext(values: Map<string, Float32Array>, sys: number[], prompt: string): Float64Array {
  const ids = refTok.encode(prompt).ids.slice(0, TEXT_MAX_LENGTH);
  const padded = [...ids, ...range(TEXT_MAX_LENGTH - ids.length, () => PAD)];
  const all = [...sys, ...padded];
  const mask = all.map((t, i) => (i < sys.length || t !== PAD ? 1 : 0));
  return qwen2ReferenceRow(cfg, values, all, mask).subarray(sys.length * cfg.hidden_size);
}

test('encodePrompts with a system prompt matches the float64 reference at all 300 positions (pads included)', async () => {
  const { enc, values } = await setup;
  const system = 'Describe a red cat.\nUser Prompt:\n';
  const prompts = ['a cat', 'A red dog. 42 red cats'];
  const out = await enc.encodePrompts(prompts, { systemPrompt: system });
  const sys = refTok.encode(system).ids;
  assert.equal(out.systemPromptLength, sys.length);
  assert.deepEqual(out.context.shape, [2, 300, cfg.hidden_size]);
  assert.equal(out.context.dtype, 'float32');
  assert.deepEqual([out.mask.dtype, out.positionIds.dtype, out.tokens.dtype], ['bool', 'int64', 'int64']);
  assert.deepEqual(out.mask.shape, [2, 300]);
  assert.deepEqual(Array.from(out.positionIds.data as BigInt64Array, Number).slice(0, 4), [0, 1, 1, 1]);
  assert.deepEqual(out.truncated, [false, false]);
  const C = cfg.hidden_size;
  for (let b = 0; b < 2; b++) {
    const got = (out.context.data as Float32Array).subarray(b * 300 * C, (b + 1) * 300 * C);
    const err = maxAbsDiff(got, referenceContext(values, sys, prompts[b]));
    assert.ok(err <= 1e-4, `prompt ${b}: max |ORT − reference| = ${err}`);
  }
  // The prefix matters: without it the hidden states differ.
  const bare = await enc.encodePrompts(prompts.slice(0, 1), { useSystemPrompt: false });
  assert.equal(bare.systemPromptLength, 0);
  assert.ok(maxAbsDiff(bare.context.data as Float32Array, referenceContext(values, [], prompts[0])) <= 1e-4);
  assert.ok(maxAbsDiff(bare.context.data as Float32Array, (out.context.data as Float32Array).subarray(0, 300 * C)) > 0.1);
});

test('repeated prompts run through Qwen2 once: rows copied, the same as the reference; the system prompt\'s keys/values computed once', async () => {
  const { enc, values } = await setup;
  const system = 'Describe a blue cat.\nUser Prompt:\n';
  const prompts = ['a cat', 'two dogs', 'a cat', 'a cat'];
  const rows: number[] = [];
  const prefixes: unknown[] = [];
  const forward = enc.encoder.forward.bind(enc.encoder);
  const prefix = enc.encoder.prefix.bind(enc.encoder);
  enc.encoder.forward = async (ids, mask, B, p) => { rows.push(B); return forward(ids, mask, B, p); };
  enc.encoder.prefix = async (ids) => { const p = await prefix(ids); prefixes.push(p); return p; };
  try {
    const out = await enc.encodePrompts(prompts, { systemPrompt: system });
    await enc.encodePrompts(['a bird'], { systemPrompt: system });
    assert.deepEqual(rows, [2, 1]);
    assert.equal(prefixes.length, 2);
    assert.equal(prefixes[0], prefixes[1], 'the second call recomputed the system prompt');
    const sys = refTok.encode(system).ids;
    const C = cfg.hidden_size, ctx = out.context.data as Float32Array;
    assert.deepEqual(out.context.shape, [4, 300, C]);
    for (let b = 0; b < 4; b++) {
      const err = maxAbsDiff(ctx.subarray(b * 300 * C, (b + 1) * 300 * C), referenceContext(values, sys, prompts[b]));
      assert.ok(err <= 1e-4, `prompt ${b}: max |ORT − reference| = ${err}`);
    }
    assert.deepEqual(Array.from(out.tokens.data as BigInt64Array).slice(2 * 300, 3 * 300), Array.from(out.tokens.data as BigInt64Array).slice(0, 300));
  } finally {
    enc.encoder.forward = forward;
    enc.encoder.prefix = prefix;
  }
});

test('the default system prompt is the official one, tokenized alone and truncated to max_length', async () => {
  const { enc, values } = await setup;
  const sysAll = refTok.encode(LLM_SYSTEM_PROMPT).ids;
  assert.ok(sysAll.length > 300); // byte-level with 10 merges: ~1 token per character
  const out = await enc.encodePrompts(['a cat']);
  assert.equal(out.systemPromptLength, 300);
  const err = maxAbsDiff(out.context.data as Float32Array, referenceContext(values, sysAll.slice(0, 300), 'a cat'));
  assert.ok(err <= 1e-4, `max |ORT − reference| = ${err}`);
});

test('encodePrompts: empty prompts and overflow', async () => {
  const { enc } = await setup;
  await assert.rejects(enc.encodePrompts([]), /no prompts/);
  await assert.rejects(enc.encodePrompts(['a cat', '  ']), /prompt 1 is empty/);
  const long = range(320, (i) => i % 10).join('');
  await assert.rejects(enc.encodePrompts([long], { overflow: 'error' }), /prompt 0 has 320 tokens, more than the 300/);
  const cut = await enc.encodePrompts([long], { useSystemPrompt: false });
  assert.deepEqual(cut.truncated, [true]);
  assert.deepEqual(cut.numTokens, [320]);
});
