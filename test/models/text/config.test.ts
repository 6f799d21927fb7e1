// Qwen2 config parsing (src/models/text/config.ts): qwen2 and qwen2_vl layouts, defaults, errors,
// and the 1.5B benchmark config's size against Qwen2-1.5B's published parameter count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQwen2Config, qwen2_1_5bConfig, qwen2ParamCount } from '../../../src/models/text/config.ts';

// The shape of Qwen2-1.5B's config.json (public HF file), including keys we ignore.
const qwen2Json = {
  architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643,
  hidden_act: 'silu', hidden_size: 1536, initializer_range: 0.02, intermediate_size: 8960,
  max_position_embeddings: 131072, max_window_layers: 28, model_type: 'qwen2', num_attention_heads: 12,
  num_hidden_layers: 28, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0,
  sliding_window: 131072, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.40.1',
  use_cache: true, use_sliding_window: false, vocab_size: 151936,
};

test('qwen2 config.json: fields read, other HF keys ignored', () => {
  const c = parseQwen2Config(qwen2Json);
  assert.deepEqual(c, { ...qwen2_1_5bConfig(), max_position_embeddings: 131072, sliding_window: 131072 });
  assert.equal(c.head_dim, 128);
});

test('qwen2_vl: top-level text fields, text_config overriding them, M-RoPE accepted, vision_config ignored', () => {
  const vl = {
    model_type: 'qwen2_vl', hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12,
    num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1e6, vocab_size: 151936, max_position_embeddings: 32768,
    rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] }, vision_config: { depth: 32, embed_dim: 1280 },
    vision_start_token_id: 151652,
  };
  assert.equal(parseQwen2Config(vl).hidden_size, 1536);
  const nested = parseQwen2Config({ model_type: 'qwen2_vl', vision_config: {}, text_config: { ...vl, model_type: 'qwen2_vl_text', num_hidden_layers: 3 } });
  assert.equal(nested.num_hidden_layers, 3);
  assert.equal(nested.model_type, 'qwen2_vl');
});

test('defaults and errors', () => {
  const min = { model_type: 'qwen2', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 10 };
  const c = parseQwen2Config(min);
  assert.equal(c.num_key_value_heads, 4);
  assert.equal(c.rope_theta, 10000);
  assert.equal(c.rms_norm_eps, 1e-6);
  assert.equal(parseQwen2Config({ ...min, head_dim: 32 }).head_dim, 32);
  assert.throws(() => parseQwen2Config({ ...min, model_type: 'llama' }), /not a Qwen2 text model/);
  assert.throws(() => parseQwen2Config({ ...min, hidden_size: undefined }), /missing "hidden_size"/);
  assert.throws(() => parseQwen2Config({ ...min, num_key_value_heads: 3 }), /not a multiple/);
  assert.throws(() => parseQwen2Config({ ...min, hidden_act: 'gelu' }), /hidden_act/);
  assert.throws(() => parseQwen2Config({ ...min, rope_scaling: { type: 'yarn', factor: 4 } }), /rope_scaling/);
  assert.throws(() => parseQwen2Config([1]), /not a JSON object/);
});

test('the 1.5B benchmark config has Qwen2-1.5B\'s 1,543,714,304 parameters', () => {
  assert.equal(qwen2ParamCount(qwen2_1_5bConfig()), 1_543_714_304);
});
