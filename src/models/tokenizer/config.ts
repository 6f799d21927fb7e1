// The hybrid tokenizer's config (official HARTAutoEncoderConfig / HARTAutoEncoderWithDiscConfig,
// hart/modules/models/autoencoder/configuration.py): field names and defaults as in the official
// code, parsed from a model folder's tokenizer/config.json with strict checking.

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
});

/** Hugging Face bookkeeping keys that may appear in a saved config.json; accepted and ignored. */
const HF_KEYS = new Set([
  'architectures', 'transformers_version', '_name_or_path', 'torch_dtype', '_commit_hash', 'auto_map',
]);

type Kind = 'int' | 'number' | 'bool' | 'ints';
const FIELDS: Record<Exclude<keyof HartTokenizerConfig, 'model_type' | 'quantizer_type'>, Kind> = {
  vocab_size: 'int', z_channels: 'int', ch: 'int', ch_mult: 'ints', dropout: 'number', beta: 'number',
  using_znorm: 'bool', quant_conv_ks: 'int', quant_resi: 'number', share_quant_resi: 'int',
  default_qresi_counts: 'int', v_patch_nums: 'ints', test_mode: 'bool', levels: 'ints', hybrid: 'bool',
  disable_quant_resi: 'bool', freeze_codebook_for_hybrid: 'bool', double_decoder: 'bool',
};

function checkKind(key: string, v: unknown, kind: Kind): void {
  const ok = kind === 'int' ? Number.isInteger(v)
    : kind === 'number' ? typeof v === 'number' && Number.isFinite(v)
    : kind === 'bool' ? typeof v === 'boolean'
    : Array.isArray(v) && v.every((x) => Number.isInteger(x));
  if (!ok) throw new Error(`tokenizer config: "${key}" must be ${kind === 'ints' ? 'a list of integers' : `a ${kind}`}, got ${JSON.stringify(v)}`);
}

/**
 * Parses a tokenizer config.json object: official field names, official defaults for missing
 * fields, unknown fields rejected (HF bookkeeping keys excepted), values checked for consistency.
 */
export function parseTokenizerConfig(json: unknown): HartTokenizerConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('tokenizer config: expected a JSON object');
  const cfg = structuredClone(TOKENIZER_CONFIG_DEFAULTS) as HartTokenizerConfig;
  const unknown: string[] = [];
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    if (HF_KEYS.has(key)) continue;
    if (key === 'model_type') {
      if (v !== 'hart_autoencoder_with_disc' && v !== 'hart_autoencoder') {
        throw new Error(`tokenizer config: model_type ${JSON.stringify(v)} is not a HART tokenizer (expected "hart_autoencoder_with_disc" or "hart_autoencoder")`);
      }
      cfg.model_type = v;
    } else if (key === 'quantizer_type') {
      if (v !== 'var' && v !== 'var_hybrid') throw new Error(`tokenizer config: quantizer_type ${JSON.stringify(v)} is not "var" or "var_hybrid"`);
      cfg.quantizer_type = v;
    } else if (Object.hasOwn(FIELDS, key)) {
      checkKind(key, v, FIELDS[key as keyof typeof FIELDS]);
      (cfg as unknown as Record<string, unknown>)[key] = Array.isArray(v) ? [...v] : v;
    } else unknown.push(key);
  }
  if (unknown.length) {
    throw new Error(`tokenizer config: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (known: model_type, quantizer_type, ${Object.keys(FIELDS).join(', ')})`);
  }
  validateTokenizerConfig(cfg);
  return cfg;
}

/** Throws if the config cannot describe a working tokenizer. */
export function validateTokenizerConfig(c: HartTokenizerConfig): void {
  const fail = (msg: string): never => { throw new Error(`tokenizer config: ${msg}`); };
  if (c.vocab_size < 1) fail(`vocab_size ${c.vocab_size} must be positive`);
  if (c.z_channels < 1) fail(`z_channels ${c.z_channels} must be positive`);
  if (c.ch_mult.length < 1 || c.ch_mult.some((m) => m < 1)) fail(`ch_mult ${JSON.stringify(c.ch_mult)} must be a non-empty list of positive integers`);
  for (const m of [1, ...c.ch_mult]) {
    if ((c.ch * m) % 32 !== 0) fail(`ch·mult = ${c.ch * m} is not divisible by the 32 GroupNorm groups`);
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
