// The models `hart bench generate` times: `tiny` is the official-format fixture
// (hart-parity-tiny, loaded by src/pipeline/load.ts) with a tiny random Qwen2 as its text encoder;
// `full` is the released 0.7B configuration at 1024×1024 with random weights (random-models.ts)
// and a Qwen2-1.5B-sized random text encoder. Both give the pipeline's parts, the text encoder's
// config and the shapes the FLOP count needs. `full` takes an image size: 1024 px is the released
// schedule (hart-spec §1.2); 256 and 512 px use the official code's schedules for those sizes,
// VAR's (1,2,3,4,5,6,8,10,13,16) — the HARTForT2IConfig default — and (1,2,3,4,6,9,13,18,24,32):
// the same 0.7B transformer, fewer and smaller scales (the 256 px schedule's 3.55 TFLOP is the
// issue's "3.6 TFLOP" floor). Each model can rebuild its transformer with other options (matrix
// precision) from the same weights.
import { diskFiles } from '../src/io/file-access.node.ts';
import { loadHart } from '../src/pipeline/load.ts';
import type { HartParts } from '../src/pipeline/generate-loop.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { HartTransformer, hartDims, type HARTForT2IConfig } from '../src/models/transformer/index.ts';
import { HartTokenizer, type HartTokenizerConfig } from '../src/models/tokenizer/index.ts';
import { DiffusionSampler, diffLossConfig, type DiffLossConfig } from '../src/models/diffusion/index.ts';
import { qwen2_1_5bConfig, type Qwen2Config } from '../src/models/text/index.ts';
import type { HartTransformerOptions } from '../src/models/transformer/index.ts';
import { ignoredBuffers, parseHartConfig } from '../src/models/transformer/index.ts';
import { parseTokenizerConfig } from '../src/models/tokenizer/index.ts';
import { int4Source, MapWeightStore, type StoredTensor } from '../src/nn/index.ts';
import { openWeights } from '../src/io/weights.ts';
import { BenchWeightStore, FULL_PATCH_NUMS, fullTokenizerConfig, fullTransformerConfig } from './random-models.ts';
import type { DecoderShape, TransformerShape } from './generate-flops.ts';

export type BenchConfigName = 'tiny' | 'full';

/** Image size (px) → patch_nums of the full configuration (see the header). */
export const SIZE_PATCH_NUMS: Record<number, number[]> = {
  256: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
  512: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32],
  1024: FULL_PATCH_NUMS,
};

export interface BenchModel {
  parts: HartParts;
  transformerConfig: HARTForT2IConfig;
  tokenizerConfig: HartTokenizerConfig;
  diffusionConfig: DiffLossConfig;
  shape: TransformerShape;
  decoder: DecoderShape;
  /** Weight values made or read (parameters of transformer + diffusion + tokenizer so far). */
  description: string;
  /** Seconds spent drawing random weights so far (0 for weights read from files). */
  drawSeconds(): number;
  /** A transformer from the same weights with other options (the caller releases the old one). */
  makeTransformer(opts: HartTransformerOptions): Promise<HartTransformer>;
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
  const files = diskFiles(fixtureDir);
  const h = await loadHart(files, rt);
  const diffusionConfig = diffLossConfig(h.transformerConfig, h.tokenizerConfig);
  const makeTransformer = async (opts: HartTransformerOptions) => {
    // the same weights loadHart read (llm/ema_model.bin)
    const src = int4Source(await openWeights(files.sub('llm'), h.transformerWeights.replace(/^llm\//, '')));
    const map = new Map<string, StoredTensor>();
    const skip = ignoredBuffers(h.transformerConfig);
    try {
      for (const n of src.names()) if (!skip.has(n)) map.set(n, await src.read(n) as StoredTensor);
    } finally {
      await src.close();
    }
    return HartTransformer.fromWeights(h.transformerConfig, new MapWeightStore(map), rt, { ...opts, vocabSize: h.transformer.dims.V, Cvae: h.transformer.dims.Cvae });
  };
  return {
    parts: { transformer: h.transformer, tokenizer: h.tokenizer, diffusion: h.diffusion },
    transformerConfig: h.transformerConfig, tokenizerConfig: h.tokenizerConfig, diffusionConfig,
    ...shapes(h.transformerConfig, h.tokenizerConfig, h.transformer.dims.V),
    description: `fixture ${fixtureDir} (${h.transformerWeights})`,
    drawSeconds: () => 0,
    makeTransformer,
  };
}

/** The released configuration with random weights at `size` px; graphs compile one after another to bound memory. */
export async function buildFullModel(rt: Runtime, attn: HartTransformerOptions, say: (s: string) => void, size = 1024): Promise<BenchModel> {
  const patch_nums = SIZE_PATCH_NUMS[size];
  if (!patch_nums) throw new Error(`--size must be one of ${Object.keys(SIZE_PATCH_NUMS).join(', ')}, got ${size}`);
  const tc = parseHartConfig({ ...fullTransformerConfig(), patch_nums });
  const kc = parseTokenizerConfig({ ...fullTokenizerConfig(), v_patch_nums: patch_nums });
  const V = kc.vocab_size, Cvae = kc.z_channels;
  const tStore = new BenchWeightStore(1);
  const kStore = new BenchWeightStore(2);
  kStore.pin('quantize.embedding.weight', [V, Cvae]);
  const makeTransformer = async (opts: HartTransformerOptions) => {
    const t = performance.now();
    const made = tStore.made;
    const transformer = await HartTransformer.fromWeights(tc, tStore, rt, { ...opts, vocabSize: V, Cvae });
    say(`  transformer${opts.precision ? ` (${opts.precision})` : ''} compiled in ${((performance.now() - t) / 1000).toFixed(1)} s (${((tStore.made - made) / 1e6).toFixed(0)} M weight values made)`);
    return transformer;
  };
  const transformer = await makeTransformer(attn);
  const diffusionConfig = diffLossConfig(tc, kc);
  const t = performance.now();
  const diffusion = await DiffusionSampler.create(rt, tStore, diffusionConfig);
  say(`  diffusion MLP compiled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const tokenizer = HartTokenizer.fromWeights(kc, kStore, rt, { prefix: '' });
  return {
    parts: { transformer, tokenizer, diffusion }, transformerConfig: tc, tokenizerConfig: kc, diffusionConfig,
    ...shapes(tc, kc, V),
    description: `hart-0.7b-1024px configuration (hart-spec §3.1) at ${size} px (patch_nums ${patch_nums.join(',')}), random weights`,
    drawSeconds: () => tStore.seconds + kStore.seconds,
    makeTransformer,
  };
}
