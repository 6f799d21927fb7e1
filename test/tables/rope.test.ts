// Tests for src/tables/rope.ts: bit-exact against the official RoPE tables of the fixture
// (infer.s*.rope_cos/sin, infer.s*.img_pos_ids, train_*.rope_cos/sin) and close to a float64
// evaluation of the formulas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contextRope, imagePositions, imageRope, trainingRope, ropeInvFreq1D, ropeInvFreq2D } from '../../src/tables/rope.ts';
import { tensor, float32, maxAbsDiff } from './reference.ts';

const PATCH_NUMS = [1, 2, 3, 4, 5, 6, 8];
const HD = 32;

/** context position ids of the 2B CFG rows: cond rows from the fixture, uncond rows all 0 */
function ctxRows(): number[][] {
  const p = tensor('ctx.context_position_ids');
  assert.deepEqual(p.shape, [2, 8]);
  const cond = [Array.from(p.data.subarray(0, 8)), Array.from(p.data.subarray(8, 16))];
  return [...cond, new Array(8).fill(0), new Array(8).fill(0)];
}

function stack(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

test('inference RoPE tables equal the official ones bit for bit (infer.s*.rope_*)', () => {
  const rows = ctxRows();
  const s0 = rows.map((r) => contextRope(r, HD));
  assert.deepEqual(stack(s0.map((t) => t.cos)), float32('infer.s0.rope_cos'));
  assert.deepEqual(stack(s0.map((t) => t.sin)), float32('infer.s0.rope_sin'));
  for (let si = 1; si < PATCH_NUMS.length; si++) {
    const pn = PATCH_NUMS[si];
    assert.deepEqual(tensor(`infer.s${si}.rope_cos`).shape, [4, pn * pn, HD]);
    assert.deepEqual(stack(rows.map(() => imagePositions(pn, 8))), float32(`infer.s${si}.img_pos_ids`), `s${si} positions`);
    const t = rows.map((r) => imageRope(pn, 8, r[r.length - 1], HD));
    assert.deepEqual(stack(t.map((x) => x.cos)), float32(`infer.s${si}.rope_cos`), `s${si} cos`);
    assert.deepEqual(stack(t.map((x) => x.sin)), float32(`infer.s${si}.rope_sin`), `s${si} sin`);
  }
});

test('training RoPE tables equal the official ones (train_full, train_masked with kept tokens)', () => {
  const rows = ctxRows().slice(0, 2);
  const full = rows.map((r) => trainingRope(r, PATCH_NUMS, HD));
  assert.deepEqual(stack(full.map((t) => t.cos)), float32('train_full.rope_cos'));
  assert.deepEqual(stack(full.map((t) => t.sin)), float32('train_full.rope_sin'));
  const kept = tensor('train_masked.kept_last_scale'); // [2, 64] bool
  const masked = rows.map((r, b) => {
    const keep = new Array(154 - 64).fill(1).concat(Array.from(kept.data.subarray(b * 64, (b + 1) * 64)));
    return trainingRope(r, PATCH_NUMS, HD, keep);
  });
  assert.deepEqual(tensor('train_masked.rope_cos').shape, [2, 130, HD]);
  assert.deepEqual(stack(masked.map((t) => t.cos)), float32('train_masked.rope_cos'));
  assert.deepEqual(stack(masked.map((t) => t.sin)), float32('train_masked.rope_sin'));
});

test('positions are (i / pn)·G in float32, not i·(G / pn)', () => {
  const p = imagePositions(6, 8);
  let differs = 0;
  for (let i = 0; i < 6; i++) {
    assert.equal(p[2 * (i * 6)], Math.fround(Math.fround(i / 6) * 8));
    if (p[2 * (i * 6)] !== Math.fround(i * Math.fround(8 / 6))) differs++;
  }
  assert.ok(differs > 0);
  // row-major tokens, (row, column) coordinates
  assert.deepEqual(Array.from(imagePositions(2, 8)), [0, 0, 0, 4, 4, 0, 4, 4]);
});

test('tables follow the float64 formulas (layout [x·f, x·f, y·f, y·f]) within float32 error', () => {
  for (const hd of [32, 64]) {
    const inv1 = Array.from({ length: hd / 2 }, (_, k) => 10000 ** (-(2 * k) / hd));
    const inv2 = Array.from({ length: hd / 4 }, (_, k) => 10000 ** (-(4 * k) / hd));
    assert.ok(maxAbsDiff(ropeInvFreq1D(hd), inv1) < 1e-7);
    assert.ok(maxAbsDiff(ropeInvFreq2D(hd), inv2) < 1e-7);
    const pos = [0, 1, 2, 5, 17, 299];
    const c = contextRope(pos, hd);
    const want = pos.flatMap((p) => Array.from({ length: hd }, (_, d) => Math.cos(p * inv1[d % (hd / 2)])));
    assert.ok(maxAbsDiff(c.cos, want) < 2e-5);
    const pn = 7, G = 64, off = 41;
    const t = imageRope(pn, G, off, hd);
    const wantCos: number[] = [], wantSin: number[] = [];
    for (let i = 0; i < pn; i++)
      for (let j = 0; j < pn; j++)
        for (let d = 0; d < hd; d++) {
          const coord = d < hd / 2 ? (i * G) / pn + off : (j * G) / pn + off;
          wantCos.push(Math.cos(coord * inv2[d % (hd / 4)]));
          wantSin.push(Math.sin(coord * inv2[d % (hd / 4)]));
        }
    assert.ok(maxAbsDiff(t.cos, wantCos) < 5e-5, `hd ${hd}`);
    assert.ok(maxAbsDiff(t.sin, wantSin) < 5e-5, `hd ${hd}`);
  }
});
