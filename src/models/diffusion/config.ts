// DiffLoss configuration (HART §4, hart/modules/diffusion/diffloss.py::DiffLoss): the sizes of the
// residual-diffusion MLP and its sampler, read from the transformer's config.json (diff_width,
// diff_depth, embed_dim, num_sampling_steps, diffusion_batch_mul) and the tokenizer's (z_channels).

export interface DiffLossConfig {
  /** target_channels: the latent channels Cvae of a residual token (tokenizer z_channels; 32 released). */
  in_channels: number;
  /** model_channels of SimpleMLPAdaLN (diff_width; 1024 released). */
  width: number;
  /** num_res_blocks (diff_depth; 6 released). */
  depth: number;
  /** z_channels: the condition width, the transformer's embed_dim C. */
  z_channels: number;
  /** timestep_respacing of gen_diffusion ("8"). */
  num_sampling_steps: string;
  /** Rows repeated per token in the training loss (HARTForT2I.forward_diff_loss; 4 released). */
  diffusion_batch_mul: number;
  /** DiffLoss.vae_scale: targets are divided by it for training, samples multiplied by it. */
  vae_scale: number;
  /** Diffusion steps of the training process (create_diffusion's diffusion_steps). */
  diffusion_steps: number;
}

/** The fields of HARTForT2IConfig (llm/config.json) that size the diffusion head. */
export interface DiffHeadTransformerConfig {
  embed_dim: number;
  diff_width: number;
  diff_depth: number;
  num_sampling_steps: string | number;
  diffusion_batch_mul?: number;
  sampler?: string;
}

/** DiffLoss as HARTForT2I.__init__ builds it: target_channels = Cvae, z_channels = C. */
export function diffLossConfig(transformer: DiffHeadTransformerConfig, tokenizer: { z_channels: number }): DiffLossConfig {
  if (transformer.sampler !== undefined && transformer.sampler !== 'iddpm') {
    throw new Error(`diffusion sampler "${transformer.sampler}" is not implemented (only "iddpm", as officially)`);
  }
  return {
    in_channels: tokenizer.z_channels,
    width: transformer.diff_width,
    depth: transformer.diff_depth,
    z_channels: transformer.embed_dim,
    num_sampling_steps: String(transformer.num_sampling_steps),
    diffusion_batch_mul: transformer.diffusion_batch_mul ?? 4,
    vae_scale: 0.6,
    diffusion_steps: 1000,
  };
}
