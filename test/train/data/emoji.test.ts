// Emoji data (reference/datasets.md): the emoji.json × emojibase join covers every image of both
// sets, captions and held-out split as documented, balanced weights, compositing of every PNG
// colour type (checked against hand-computed pixels and against the packages' own sprite sheets),
// and the one-line message when the packages are missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decode, type DecodedPng } from 'fast-png';
import {
  EMOJI_SOURCES, compositeOnWhite, emojiPackageDirs, emojiRecords, emojiWeights, hashString, isHeldOutEmoji, loadEmojiDataset, normHexcode,
  type EmojiRecord,
} from '../../../src/train/data/emoji.node.ts';

const records = emojiRecords();
const bySet = (set: string) => records.filter((r) => r.set === set);

test('the join covers all 3,786 images of each set (1,911 base + 1,875 skin-tone variants) with captions', () => {
  for (const set of ['twitter', 'google'] as const) {
    const r = bySet(set);
    assert.equal(r.length, 3786);
    assert.equal(r.filter((x) => !x.variant).length, 1911);
    assert.equal(r.filter((x) => x.variant).length, 1875);
    assert.equal(new Set(r.map((x) => x.image)).size, 3786);
    assert.equal(new Set(r.map((x) => x.label)).size, 3786); // CLDR labels are unique (datasets.md)
    for (const x of r) assert.equal(x.caption, `${EMOJI_SOURCES[set].style}: ${x.label}`);
  }
  const find = (image: string) => records.find((r) => r.set === 'twitter' && r.image === image)!;
  assert.equal(find('1f35f.png').caption, 'twemoji: french fries');
  assert.deepEqual(find('1f35f.png').tags, ['fast', 'food', 'french', 'fries']);
  assert.equal(find('1f1ef-1f1f4.png').label, 'flag: Jordan');
  assert.equal(find('1f448-1f3fc.png').label, 'backhand index pointing left: medium-light skin tone');
  assert.equal(find('1f469-1f3fb-200d-2764-fe0f-200d-1f469-1f3ff.png').label, 'couple with heart: woman, woman, light skin tone, dark skin tone');
  const tux = find('1f935-1f3ff-200d-2640-fe0f.png');
  assert.equal(tux.label, 'woman in tuxedo: dark skin tone');
  assert.deepEqual(tux.tags, ['formal', 'tuxedo', 'wedding', 'woman']); // a skin variant carries its base's tags
  assert.equal(records.find((r) => r.set === 'google' && r.image === '1f35f.png')!.caption, 'noto: french fries');
  assert.equal(normHexcode('1f469-1f3fb-200d-2764-fe0f-200d-1f469-1f3ff'), '1F469-1F3FB-200D-2764-200D-1F469-1F3FF');
});

test('held out by base emoji: variants follow their base in both sets, about 5 % of bases', () => {
  const status = new Map<string, boolean>();
  for (const r of records) {
    if (status.has(r.base)) assert.equal(r.heldOut, status.get(r.base), r.image);
    else status.set(r.base, r.heldOut);
    assert.equal(r.heldOut, isHeldOutEmoji(r.base));
  }
  const frac = [...status.values()].filter(Boolean).length / status.size;
  assert.ok(frac > 0.03 && frac < 0.07, `held-out fraction ${frac}`);
  // the hash is FNV-1a + fmix32: known values computed by hand from the definitions
  assert.equal(hashString(''), fmix(0x811c9dc5));
  assert.equal(hashString('a'), fmix(Math.imul(0x811c9dc5 ^ 0x61, 0x01000193) >>> 0));
});

function fmix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0; h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35) >>> 0; h ^= h >>> 16;
  return h >>> 0;
}

test('balanced weights: every (set, base) group weighs 1 in total; uniform: 1 per image', () => {
  const w = emojiWeights(records, 'balanced');
  const sums = new Map<string, number>();
  records.forEach((r, i) => sums.set(`${r.set} ${r.base}`, (sums.get(`${r.set} ${r.base}`) ?? 0) + w[i]));
  for (const s of sums.values()) assert.ok(Math.abs(s - 1) < 1e-12);
  assert.equal(sums.size, 2 * 1911);
  const wave = records.findIndex((r) => r.set === 'twitter' && r.image === '1f44b.png');
  assert.equal(w[wave], 1 / 6); // base + 5 tones
  assert.deepEqual([...new Set(emojiWeights(records, 'uniform'))], [1]);
});

test('compositing on white: straight alpha for RGBA, grey+alpha, palette with tRNS (4-bit), 16-bit, colour keys', () => {
  const png = (p: Partial<DecodedPng>): DecodedPng => ({ width: 2, height: 1, depth: 8, channels: 4, text: {}, data: new Uint8Array(), ...p } as DecodedPng);
  // RGBA: opaque red; half-transparent junk-free blue: 0·a + 255(1−a) with a = 128/255
  assert.deepEqual([...compositeOnWhite(png({ data: new Uint8Array([255, 0, 0, 255, 0, 0, 255, 128]) }))], [255, 0, 0, 127, 127, 255]);
  // fully transparent pixel with junk RGB becomes white
  assert.deepEqual([...compositeOnWhite(png({ data: new Uint8Array([41, 47, 51, 0, 10, 20, 30, 255]) }))], [255, 255, 255, 10, 20, 30]);
  // grey + alpha
  assert.deepEqual([...compositeOnWhite(png({ channels: 2, data: new Uint8Array([100, 255, 0, 51]) }))], [100, 100, 100, 204, 204, 204]);
  // 4-bit palette with alpha: indices 1, 0 packed in one byte (0x10)
  const palette = [[0, 0, 0, 0], [200, 100, 50, 255]];
  assert.deepEqual([...compositeOnWhite(png({ channels: 1, depth: 4, palette, data: new Uint8Array([0x10]) }))], [200, 100, 50, 255, 255, 255]);
  // 16-bit RGBA: half alpha over white
  assert.deepEqual([...compositeOnWhite(png({ depth: 16, data: new Uint16Array([0, 0, 0, 65535, 65535, 0, 0, 32768]) }))], [0, 0, 0, 255, 127, 127]);
  // RGB with a tRNS colour key
  assert.deepEqual([...compositeOnWhite(png({ channels: 3, transparency: new Uint16Array([1, 2, 3]), data: new Uint8Array([1, 2, 3, 1, 2, 4]) }))], [255, 255, 255, 1, 2, 4]);
});

/** PNG colour type from the IHDR chunk (byte 25): 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
function colourType(path: string): number {
  return readFileSync(path)[25];
}

test('palette and grey+alpha emoji match the packages’ own 32 px sprite sheets (all of them)', () => {
  const dirs = emojiPackageDirs();
  for (const set of ['twitter', 'google'] as const) {
    const dir = dirs.sets[set]!;
    const odd = (r: EmojiRecord) => r.set === set && colourType(join(dir, 'img', set, '64', r.image)) !== 6;
    const ds = loadEmojiDataset({ sets: [set], filter: odd });
    assert.equal(ds.records.length, set === 'twitter' ? 177 : 64); // datasets.md: 177 palette / 62 grey+alpha + 2 palette
    assert.equal(ds.licences[0].imageLicence, set === 'twitter' ? 'CC-BY-4.0' : 'Apache-2.0');
    const sheet = decode(readFileSync(join(dir, 'img', set, 'sheets-clean', '32.png')));
    const sheetRgb = compositeOnWhite(sheet);
    const pos = new Map<string, [number, number]>();
    for (const e of JSON.parse(readFileSync(join(dir, 'emoji.json'), 'utf8'))) {
      for (const v of [e, ...Object.values<typeof e>(e.skin_variations ?? {})]) pos.set(v.image, [v.sheet_x, v.sheet_y]);
    }
    // RMSE between our 64 px composite box-downsampled 2× and the sheet's 32 px image at (x, y).
    const rmse = (i: number, [sx, sy]: [number, number]) => {
      let se = 0;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) {
        let m = 0;
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) m += ds.pixels[i * 64 * 64 * 3 + ((2 * y + dy) * 64 + 2 * x + dx) * 3 + c] / 4;
        se += (m - sheetRgb[((sy * 34 + 1 + y) * sheet.width + sx * 34 + 1 + x) * 3 + c]) ** 2;
      }
      return Math.sqrt(se / 3072);
    };
    ds.records.forEach((r, i) => {
      const own = rmse(i, pos.get(r.image)!);
      // The sheet's 32 px art is drawn natively (datasets.md: RMSE 4.35/255 on average); a
      // decoding error (channels, palette, alpha) is far larger, as a wrong image shows.
      assert.ok(own < 15, `${set} ${r.image}: RMSE ${own}`);
      if (i === 0) assert.ok(rmse(i, pos.get(ds.records[1].image)!) > 30);
    });
  }
});

test('missing packages: one line saying how to install them', () => {
  assert.throws(() => emojiPackageDirs(['twitter'], '/nonexistent-dir/x.js'), (e: Error) => {
    assert.equal(e.message.includes('\n'), false);
    assert.match(e.message, /emoji-datasource-twitter, emojibase-data/);
    assert.match(e.message, /npm install --no-save emoji-datasource-twitter@16\.0\.0 emoji-datasource-google@16\.0\.0 emojibase-data@17\.0\.0/);
    return true;
  });
  assert.throws(() => loadEmojiDataset({ from: '/nonexistent-dir/x.js' }), /npm install --no-save/);
  // installed here: resolution from this repository works
  assert.equal(dirname(createRequire(import.meta.url).resolve('emojibase-data/package.json')), emojiPackageDirs().emojibase);
});
