// A stand-in text encoder for the random-weight parity model, used by `hart generate` only until
// the embedded model exists: a 1-layer Qwen2 (hidden 32 = the tiny model's context_dim) with
// random weights and a byte-level tokenizer. It produces valid conditioning, not meaning.
import type { Runtime } from '../runtime/runtime.ts';
import { RandomWeightStore } from '../nn/random-weights.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import { safetensorsSource } from '../io/safetensors.ts';
import { byteLevelTokenizer, qwen2ParamShapes, QwenTextEncoder, type Qwen2Config } from '../models/text/index.ts';
import type { PromptEncoder } from '../pipeline/hart-pipeline.ts';
import type { Tensor } from '../io/dtypes.ts';

export async function demoTextEncoder(runtime: Runtime, contextDim = 32): Promise<PromptEncoder> {
  const tok = byteLevelTokenizer();
  const config: Qwen2Config = {
    model_type: 'qwen2', vocab_size: 259, hidden_size: contextDim, intermediate_size: 2 * contextDim,
    num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: contextDim / 2,
    rms_norm_eps: 1e-6, rope_theta: 1e6, max_position_embeddings: 32768, hidden_act: 'silu',
    use_sliding_window: false, sliding_window: null,
  };
  const store = new RandomWeightStore(20241016);
  const weights = new Map<string, Tensor>();
  for (const [name, shape] of qwen2ParamShapes(config)) weights.set(name, store.get(name, shape) as Tensor);
  return QwenTextEncoder.fromPretrained({
    config, tokenizerJson: tok.tokenizerJson, tokenizerConfig: tok.tokenizerConfig,
    weights: await safetensorsSource(writeSafetensors(weights)),
  }, runtime);
}
