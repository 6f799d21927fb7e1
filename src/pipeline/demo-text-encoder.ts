// A stand-in text encoder for the random-weight parity model, used only until the embedded default
// model exists: a 1-layer Qwen2 (hidden 32 = the tiny model's context_dim) with random weights and
// a byte-level tokenizer. It produces valid conditioning, not meaning. Browser-safe.
import type { Runtime } from '../runtime/runtime.ts';
import { RandomWeightStore } from '../nn/random-weights.ts';
import { writeSafetensors, safetensorsSource } from '../io/safetensors.ts';
import { byteLevelTokenizer, qwen2ParamShapes, QwenTextEncoder, type Qwen2Config } from '../models/text/index.ts';
import type { PromptEncoder } from './hart-pipeline.ts';
import type { Tensor } from '../io/dtypes.ts';

/** The folder contents of the demo encoder: config.json, tokenizer.json, tokenizer_config.json, model.safetensors. */
export function demoTextEncoderFiles(contextDim = 32): { config: Qwen2Config; tokenizerJson: object; tokenizerConfig: object; safetensors: Uint8Array } {
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
  return { config, tokenizerJson: tok.tokenizerJson, tokenizerConfig: tok.tokenizerConfig, safetensors: writeSafetensors(weights) };
}

export async function demoTextEncoder(runtime: Runtime, contextDim = 32): Promise<PromptEncoder> {
  const f = demoTextEncoderFiles(contextDim);
  return QwenTextEncoder.fromPretrained({
    config: f.config, tokenizerJson: f.tokenizerJson, tokenizerConfig: f.tokenizerConfig,
    weights: await safetensorsSource(f.safetensors),
  }, runtime);
}
