// The pieces of the queue that need no Redis: job ids (a hash of prompt, seed, settings, model;
// checked against an independent SHA-256 of the documented canonical text), the payload schema the
// worker applies, --seeds and prompt-file parsing, Redis URLs (passwords never shown), and the
// manifest's exactly-once append across two writers.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJobId, jobKey, parseJobPayload } from '../../src/queue/job.ts';
import { toGenerateOptions } from '../../src/api/request.ts';
import { jobId, parseSeeds, readPrompts } from '../../src/queue/enqueue.node.ts';
import { parseRedisUrl, redactUrl } from '../../src/queue/connection.node.ts';
import { ManifestIndex, removeStaleTemps } from '../../src/queue/manifest.node.ts';

const dir = mkdtempSync(join(tmpdir(), 'hart-queue-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('job id: sha256 of the canonical (prompt, seed, sorted settings, model), j + 24 hex', () => {
  const id = jobId({ prompt: 'a cat', seed: 7, cfg: 3, steps: 4, model: 'm' });
  const text = '["hart-job-v1","a cat",7,[["cfg",3],["steps",4]],"m"]';
  assert.equal(id, `j${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 24)}`);
  assert.ok(isJobId(id));
  // settings order does not matter; every part does
  assert.equal(jobId({ steps: 4, model: 'm', seed: 7, prompt: 'a cat', cfg: 3 }), id);
  for (const other of [{ prompt: 'a cat ', seed: 7 }, { prompt: 'a cat', seed: 8 }]) {
    assert.notEqual(jobId({ ...other, cfg: 3, steps: 4, model: 'm' }), id);
  }
  assert.notEqual(jobId({ prompt: 'a cat', seed: 7, cfg: 3, steps: 4, model: 'n' }), id);
  assert.notEqual(jobId({ prompt: 'a cat', seed: 7, cfg: 3.5, steps: 4, model: 'm' }), id);
  assert.notEqual(jobId({ prompt: 'a cat', seed: 7, cfg: 3, cfg_schedule: 'constant', steps: 4, model: 'm' }), id);
  // fields that are not settings (out, deliver) are not part of the identity
  assert.equal(jobKey({ prompt: 'a', seed: 1, model: 'm', ...({ out: '/x' } as object) }), jobKey({ prompt: 'a', seed: 1, model: 'm' }));
  assert.ok(!isJobId('../../etc/passwd') && !isJobId('j123'));
});

test('payload schema: the request schema, one image, a model id; one line naming the bad field', () => {
  const ok = { v: 1, prompt: 'p', seed: 3, cfg: 2, more_smooth: false, model: 'm', out: '/tmp/o', deliver: 'file' };
  assert.deepEqual(parseJobPayload(ok), ok);
  const constant = { ...ok, cfg_schedule: 'constant' };
  assert.deepEqual(parseJobPayload(constant), constant);
  assert.deepEqual(toGenerateOptions(parseJobPayload(constant)), { seed: 3, cfg: 2, cfgSchedule: 'constant', moreSmooth: false });
  const bad: [unknown, RegExp][] = [
    [{ ...ok, cfg: 'abc' }, /: cfg must be a number in \[0, 50\], got "abc"$/],
    [{ ...ok, cfg_schedule: 'cosine' }, /: cfg_schedule must be one of linear, constant, got "cosine"$/],
    [{ ...ok, seed: undefined }, /: seed is required$/],
    [{ ...ok, seed: -1 }, /: seed must be/],
    [{ ...ok, n: 2 }, /: unknown field "n"$/],
    [{ ...ok, v: 2 }, /: v must be/],
    [{ ...ok, prompt: ' ' }, /: prompt must be a non-empty string/],
    [{ ...ok, model: '' }, /: model must be/],
    [{ ...ok, deliver: 'email' }, /: deliver must be/],
    [{ ...ok, __proto__x: 1 }, /unknown field/],
    [null, /must be a JSON object/],
    ['a string', /must be a JSON object/],
    [[1, 2], /must be a JSON object/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseJobPayload(v), re);
});

test('--seeds and prompt files', () => {
  assert.deepEqual(parseSeeds('3'), [3]);
  assert.deepEqual(parseSeeds('1-3,7, 9-10'), [1, 2, 3, 7, 9, 10]);
  for (const s of ['', 'a', '3-1', '1.5', '-2', '1-2-3']) assert.throws(() => parseSeeds(s), /--seeds/);
  const txt = join(dir, 'p.txt');
  writeFileSync(txt, 'one\r\n\n  two  \n');
  assert.deepEqual(readPrompts(txt), [{ prompt: 'one', settings: {} }, { prompt: 'two', settings: {} }]);
  const jl = join(dir, 'p.jsonl');
  writeFileSync(jl, '{"prompt": "a", "seed": 4, "cfg": 2}\n\n{"prompt": "b", "top_k": 5}\n');
  assert.deepEqual(readPrompts(jl), [{ prompt: 'a', seed: 4, settings: { cfg: 2 } }, { prompt: 'b', seed: undefined, settings: { top_k: 5 } }]);
  writeFileSync(jl, '{"prompt": "a"}\n{"prompt": "b", "cfg": "x"}\n');
  assert.throws(() => readPrompts(jl), /p\.jsonl:2: cfg must be a number in \[0, 50\], got "x"/);
  writeFileSync(jl, '{"prompt": "a", "n": 2}\n');
  assert.throws(() => readPrompts(jl), /p\.jsonl:1: unknown field "n"/);
  writeFileSync(jl, '{"prompt": \n');
  assert.throws(() => readPrompts(jl), /p\.jsonl:1: not JSON/);
  writeFileSync(jl, '\n');
  assert.throws(() => readPrompts(jl), /has no prompts/);
  assert.throws(() => readPrompts(join(dir, 'nope.txt')), /cannot read .*nope.txt \(ENOENT\)/);
});

test('Redis URLs: redis:// and rediss:// (TLS), passwords never shown', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { url: 'redis://127.0.0.1:6379', tls: false, display: 'redis://127.0.0.1:6379' });
  const t = parseRedisUrl('rediss://user:s3cret@cache.example:6380/2');
  assert.equal(t.tls, true);
  assert.equal(t.display, 'rediss://user:***@cache.example:6380/2');
  assert.ok(!redactUrl('redis://:pw@h:1').includes('pw'));
  for (const [u, re] of [['http://h:1', /not a redis:\/\/ or rediss:\/\/ URL/], ['redis://:pw@h:1/x', /database .* must be a number/], ['not a url:pw@', /must be a URL/]] as const) {
    assert.throws(() => parseRedisUrl(u), (e: Error) => re.test(e.message) && !e.message.includes('pw'));
  }
});

test('manifest: one line per id across two writers and restarts; stale temps of a killed write removed', async () => {
  const path = join(dir, 'manifest.jsonl');
  const a = new ManifestIndex(path), b = new ManifestIndex(path);
  const line = (id: string) => ({ id, prompt: 'p', seed: 1, model: 'm', settings: {}, file: `${id}.png`, seconds: 1, worker: 'w', missing_words: [] });
  assert.equal(await a.record(line('j1')), true);
  assert.equal(await b.record(line('j1')), false); // b sees a's line
  assert.equal(await b.record(line('j2')), true);
  assert.equal(await a.has('j2'), true);
  assert.equal(await new ManifestIndex(path).record(line('j2')), false); // a restarted worker
  assert.deepEqual(readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id), ['j1', 'j2']);
  writeFileSync(join(dir, '.jx.png.123.abcdef.tmp'), 'half');
  writeFileSync(join(dir, '.jy.png.123.abcdef.tmp'), 'other');
  assert.equal(await removeStaleTemps(dir, 'jx.png'), 1);
  assert.equal(await removeStaleTemps(dir, 'jx.png'), 0);
});
