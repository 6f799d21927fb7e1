// The official system prompt constant, byte for byte. Expected values were computed with Python from
// `llm_system_prompt` in hart/utils/constants.py of github.com/mit-han-lab/hart at commit
// e28a41fe15025baf3d48ab004f5d3727c88d8fc7: len() = 705, sha256(s.encode()) below, all ASCII.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { LLM_SYSTEM_PROMPT } from '../../../src/models/text/system-prompt.ts';

test('LLM_SYSTEM_PROMPT equals the official constant', () => {
  assert.equal(LLM_SYSTEM_PROMPT.length, 705);
  assert.equal(new TextEncoder().encode(LLM_SYSTEM_PROMPT).length, 705);
  assert.equal(createHash('sha256').update(LLM_SYSTEM_PROMPT, 'utf8').digest('hex'), '424f7aa7b1119f8ed1e329140e5941dfe308183bea0af59041dad5527a9b8f20');
  assert.ok(LLM_SYSTEM_PROMPT.startsWith('Given a user prompt, generate an "Enhanced prompt"'));
  assert.ok(LLM_SYSTEM_PROMPT.endsWith('\n\nUser Prompt:\n'));
  assert.equal(LLM_SYSTEM_PROMPT.split('\n').length, 10);
});
