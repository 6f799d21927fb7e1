// The hybrid tokenizer's config (official HARTAutoEncoderConfig / HARTAutoEncoderWithDiscConfig,
// hart/modules/models/autoencoder/configuration.py): field names and defaults as in the official
// code, parsed from a model folder's tokenizer/config.json with strict checking.
import { f, type Field, parseFields } from '../../io/schema.ts';

export interface HartTokenizerConfig {
  model_type: 'hart_autoencoder_with_disc' | 'hart_autoencoder';
  /** Codebook size V. */
  vocab_size: number;
  /** Latent channels Cvae. */
  z_channels: number;
  /** Base channel count of the VQGAN encoder/decoder. */
  ch: number;
  /** Channel multiplier per resolution; the latent is 2^(len−1) times smaller than the image. */
  ch_mult: number[];
  dropout: number;
  /** Commitment weight of the VQ loss. */
  beta: number;
  /** Cosine (normalised) codebook lookup instead of L2; the hybrid encode path always uses L2. */
  using_znorm: boolean;
  /** Kernel size of quant_conv / post_quant_conv. */
  quant_conv_ks: number;
  /** φ residual ratio: Phi(h) = (1−|r|)·h + |r|·conv3x3(h); |r| ≤ 1e-6 means φ = identity. */
  quant_resi: number;
  /** 0: one φ per scale, 1: one shared φ, K ≥ 2: K partially shared φ convs. */
  share_quant_resi: number;
  /** Number of φ convs when share_quant_resi = 0 (0 = one per entry of v_patch_nums). */
  default_qresi_counts: number;
  /** Default scale schedule (pn per scale); also the row count of the unused ema_vocab_hit_SV buffer. */
  v_patch_nums: number[];
  test_mode: boolean;
  /** FSQ leftover, unused. */
  levels: number[];
  quantizer_type: 'var' | 'var_hybrid';
  /** In the JSON but never read by the official code. */
  hybrid: boolean;
  /** Stored by the official VAR quantizer but never used. */
  disable_quant_resi: boolean;
  /** Training option: freeze encoder, quantizer and quant_conv. */
  freeze_codebook_for_hybrid: boolean;
  /** A second decoder (decoder2, post_quant_conv2) for the discrete-only path in training. */
  double_decoder: boolean;
  /**
   * HART.js extension, not in the official config: the VQGAN's GroupNorm group count (official
   * code: always 32). With a small `ch`, 32 groups of one channel are instance norms, whose last
   * use before conv_out removes each channel's spatial mean, i.e. the image's absolute colour;
   * small trained models use fewer groups. Written to config.json only when it is not 32, and
   * `hart export --official` refuses a tokenizer whose value is not 32.
   */
  norm_groups: number;
}

/** Official defaults (HARTAutoEncoderConfig.__init__). */
export const TOKENIZER_CONFIG_DEFAULTS: Readonly<HartTokenizerConfig> = Object.freeze({
  model_type: 'hart_autoencoder_with_disc',
  vocab_size: 4096,
  z_channels: 32,
  ch: 160,
  ch_mult: [1, 1, 2, 2, 4],
  dropout: 0.0,
  beta: 0.25,
  using_znorm: false,
  quant_conv_ks: 3,
  quant_resi: 0.5,
  share_quant_resi: 4,
  default_qresi_counts: 0,
  v_patch_nums: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
  test_mode: false,
  levels: [8, 8, 8, 6, 5],
  quantizer_type: 'var',
  hybrid: false,
  disable_quant_resi: false,
  freeze_codebook_for_hybrid: true,
  double_decoder: false,
  norm_groups: 32,
});

/** Hugging Face bookkeeping keys that may appear in a saved config.json; accepted and ignored. */
const HF_KEYS = new Set([
  'architectures', 'transformers_version', '_name_or_path', 'torch_dtype', '_commit_hash', 'auto_map',
]);

/** Generous bounds (released: vocab 4096, ch 160, 5 levels) that keep sizes and loops finite. */
const FIELDS: Record<keyof HartTokenizerConfig, Field<unknown>> = {
  model_type: f.oneOf(['hart_autoencoder_with_disc', 'hart_autoencoder']), quantizer_type: f.oneOf(['var', 'var_hybrid']),
  vocab_size: f.int(1, 1 << 24), z_channels: f.int(1, 1 << 14), ch: f.int(1, 1 << 14), ch_mult: f.list(f.int(1, 64), 1, 8),
  dropout: f.number(0, 1), beta: f.number(-1e6, 1e6), using_znorm: f.bool(), quant_conv_ks: f.int(1, 15), quant_resi: f.number(-1e6, 1e6),
  share_quant_resi: f.int(0, 64), default_qresi_counts: f.int(0, 64), v_patch_nums: f.list(f.int(1, 1024), 1, 64), test_mode: f.bool(),
  levels: f.list(f.int(0, 1 << 16), 0, 64), hybrid: f.bool(), disable_quant_resi: f.bool(), freeze_codebook_for_hybrid: f.bool(), double_decoder: f.bool(),
  norm_groups: f.int(1, 1024),
};

/**
 * Parses a tokenizer config.json object: official field names, official defaults for missing
 * fields, unknown fields rejected (HF bookkeeping keys excepted), values checked for type, range
 * and consistency. `what` names the file in messages.
 */
export function parseTokenizerConfig(json: unknown, what = 'tokenizer config'): HartTokenizerConfig {
  const checked = parseFields(json, FIELDS, what, HF_KEYS);
  const cfg = { ...structuredClone(TOKENIZER_CONFIG_DEFAULTS), ...checked } as HartTokenizerConfig;
  validateTokenizerConfig(cfg, what);
  return cfg;
}

/** Throws if the config cannot describe a working tokenizer. */
export function validateTokenizerConfig(c: HartTokenizerConfig, what = 'tokenizer config'): void {
  const fail = (msg: string): never => { throw new Error(`${what}: ${msg}`); };
  if (c.vocab_size < 1) fail(`vocab_size ${c.vocab_size} must be positive`);
  if (c.z_channels < 1) fail(`z_channels ${c.z_channels} must be positive`);
  if (c.ch_mult.length < 1 || c.ch_mult.some((m) => m < 1)) fail(`ch_mult ${JSON.stringify(c.ch_mult)} must be a non-empty list of positive integers`);
  for (const m of [1, ...c.ch_mult]) {
    if ((c.ch * m) % c.norm_groups !== 0) fail(`ch·mult = ${c.ch * m} is not divisible by the ${c.norm_groups} GroupNorm groups (norm_groups)`);
  }
  if (c.quant_conv_ks < 1 || c.quant_conv_ks % 2 === 0) fail(`quant_conv_ks ${c.quant_conv_ks} must be odd (padding ks//2 keeps the size)`);
  if (c.share_quant_resi < 0) fail(`share_quant_resi ${c.share_quant_resi} must be ≥ 0`);
  if (c.default_qresi_counts < 0) fail(`default_qresi_counts ${c.default_qresi_counts} must be ≥ 0`);
  if (c.v_patch_nums.length < 1 || c.v_patch_nums.some((p) => p < 1)) fail(`v_patch_nums ${JSON.stringify(c.v_patch_nums)} must be positive`);
  if (c.double_decoder && c.quantizer_type !== 'var_hybrid') fail('double_decoder needs quantizer_type "var_hybrid"');
}

/** Image-to-latent downsampling factor: 2^(len(ch_mult)−1). */
export function downsampleFactor(c: HartTokenizerConfig): number {
  return 2 ** (c.ch_mult.length - 1);
}
