// Philox stream purposes of training draws (see random/philox.ts): each is addressed by
// (recipe seed, purpose, step), so a resumed run draws exactly what an uninterrupted one would.
// Kept apart from random/purposes.ts (generation) by starting at 0x100.
export const TRAIN_PURPOSE = {
  /** Tokenizer stage: which samples decode the discrete-only latent (one uniform per sample). */
  skipContinuous: 0x100,
  /** Transformer stage: classifier-free-guidance condition drop (one uniform per sample). */
  condDrop: 0x101,
  /** Transformer stage: the order that picks the kept last-scale tokens (n uniforms per sample). */
  lastScaleOrder: 0x102,
  /** Residual diffusion: training timesteps (one uniform per row). */
  diffusionT: 0x103,
  /** Residual diffusion: the noise of q_sample (one normal per value). */
  diffusionNoise: 0x104,
  /** Tokenizer stage: dead-code restarts (which encoder outputs replace unused codes). */
  deadCodes: 0x105,
  /** Residual diffusion with diff_index "sampled": the Gumbel draws of the target's index (one per kept token and code). */
  diffusionIndex: 0x106,
  /** Transformer stage with self_correction: which codes of the scales before the last are swapped, and for which neighbour (two uniforms per token). */
  selfCorrection: 0x107,
} as const;
