// Level embedding parity: lvl_embed (TimestepEmbedder: sinusoid + MLP) for every level and the
// per-token lvl_pos of the whole sequence, against the fixture's emb.* tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitOnnx, Graph } from '../../../src/graph/index.ts';
import { Params } from '../../../src/nn/index.ts';
import { nodeRuntime } from '../../../src/runtime/node.node.ts';
import { levelEmbed, levelEmbedTable } from '../../../src/models/transformer/index.ts';
import { float32, tensor } from '../../tables/reference.ts';
import { fixtureModel, report } from './helpers.ts';

test('level embeddings match emb.lvl_embed_levels and emb.lvl_pos_1L', async () => {
  const { cfg, store } = fixtureModel();
  const g = new Graph();
  const p = new Params(g, store);
  const lvl = g.input('lvl', 'int64', [1, 'S']);
  const rt = nodeRuntime({ threads: 1 });
  const s = await rt.load(emitOnnx({ outputs: { table: levelEmbedTable(p, cfg), pos: levelEmbed(p, cfg, lvl) } }));
  const ids = tensor('emb.lvl_1L').data;
  const r = await s.run({ lvl: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (v) => BigInt(v)) } });
  const e1 = report('lvl_embed levels', r.table.data as Float32Array, float32('emb.lvl_embed_levels'));
  const e2 = report('lvl_pos_1L', r.pos.data as Float32Array, float32('emb.lvl_pos_1L'));
  assert.deepEqual(r.pos.shape, [1, 162, 64]);
  assert.ok(e1 < 1e-5 && e2 < 1e-5, `${e1} ${e2}`);
  await rt.dispose();
});
