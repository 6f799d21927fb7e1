// The models `hart bench generate` times: `tiny` is the official-format fixture
// (hart-parity-tiny, loaded by src/pipeline/load.ts) with a tiny random Qwen2 as its text encoder;
// `full` is the released 0.7B configuration at 1024×1024 with random weights (random-models.ts)
// and a Qwen2-1.5B-sized random text encoder. Both give the pipeline's parts, the text encoder's
// config and the shapes the FLOP count needs.
import { diskFiles } from '../src/io/file-access.node.ts';
import { loadHart } from '../src/pipeline/load.ts';
import type { HartParts } from '../src/pipeline/generate-loop.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { HartTransformer, hartDims, type HARTForT2IConfig } from '../src/models/transformer/index.ts';
import { HartTokenizer, type HartTokenizerConfig } from '../src/models/tokenizer/index.ts';
import { DiffusionSampler, diffLossConfig, type DiffLossConfig } from '../src/models/diffusion/index.ts';
import { qwen2_1_5bConfig, type Qwen2Config } from '../src/models/text/index.ts';
import type { AttentionOptions } from '../src/models/transformer/attention.ts';
import { BenchWeightStore, fullTokenizerConfig, fullTransformerConfig } from './random-models.ts';
import type { DecoderShape, TransformerShape } from './generate-flops.ts';

export type BenchConfigName = 'tiny' | 'full';

export interface BenchModel {
  parts: HartParts;
  transformerConfig: HARTForT2IConfig;
  tokenizerConfig: HartTokenizerConfig;
  diffusionConfig: DiffLossConfig;
  shape: TransformerShape;
  decoder: DecoderShape;
  /** Weight values made or read (parameters of transformer + diffusion + tokenizer so far). */
  description: string;
}

/** The text encoder each config is benchmarked with (random weights). */
export function benchTextConfig(name: BenchConfigName, contextDim: number): Qwen2Config {
  if (name === 'full') return qwen2_1_5bConfig();
  return {
    ...qwen2_1_5bConfig(), vocab_size: 1000, hidden_size: contextDim, intermediate_size: 2 * contextDim,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: contextDim / 4,
  };
}

function shapes(tc: HARTForT2IConfig, kc: HartTokenizerConfig, V: number): Pick<BenchModel, 'shape' | 'decoder'> {
  const d = hartDims(tc);
  return {
    shape: { C: d.C, depth: d.depth, heads: d.heads, ffnHidden: d.ffnHidden, T: d.T, contextDim: d.contextDim, patchNums: d.patchNums, V, Cvae: kc.z_channels },
    decoder: { ch: kc.ch, ch_mult: kc.ch_mult, z_channels: kc.z_channels, quant_conv_ks: kc.quant_conv_ks },
  };
}

export async function loadTinyModel(rt: Runtime, fixtureDir: string): Promise<BenchModel> {
  const h = await loadHart(diskFiles(fixtureDir), rt);
  const diffusionConfig = diffLossConfig(h.transformerConfig, h.tokenizerConfig);
  return {
    parts: { transformer: h.transformer, tokenizer: h.tokenizer, diffusion: h.diffusion },
    transformerConfig: h.transformerConfig, tokenizerConfig: h.tokenizerConfig, diffusionConfig,
    ...shapes(h.transformerConfig, h.tokenizerConfig, h.transformer.dims.V),
    description: `fixture ${fixtureDir} (${h.transformerWeights})`,
  };
}

/** The released configuration with random weights; graphs compile one after another to bound memory. */
export async function buildFullModel(rt: Runtime, attn: AttentionOptions, say: (s: string) => void): Promise<BenchModel> {
  const tc = fullTransformerConfig(), kc = fullTokenizerConfig();
  const V = kc.vocab_size, Cvae = kc.z_channels;
  const tStore = new BenchWeightStore(1);
  const kStore = new BenchWeightStore(2);
  kStore.pin('quantize.embedding.weight', [V, Cvae]);
  let t = performance.now();
  const transformer = await HartTransformer.fromWeights(tc, tStore, rt, { ...attn, vocabSize: V, Cvae });
  say(`  transformer compiled in ${((performance.now() - t) / 1000).toFixed(1)} s (${(tStore.made / 1e6).toFixed(0)} M weight values made)`);
  const diffusionConfig = diffLossConfig(tc, kc);
  t = performance.now();
  const diffusion = await DiffusionSampler.create(rt, tStore, diffusionConfig);
  say(`  diffusion MLP compiled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const tokenizer = HartTokenizer.fromWeights(kc, kStore, rt, { prefix: '' });
  return {
    parts: { transformer, tokenizer, diffusion }, transformerConfig: tc, tokenizerConfig: kc, diffusionConfig,
    ...shapes(tc, kc, V),
    description: 'hart-0.7b-1024px configuration (hart-spec §3.1), random weights',
  };
}
