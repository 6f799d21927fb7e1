// The residual diffusion head (HART §4): SimpleMLPAdaLN, its IDDPM sampler and its training loss.
export * from './config.ts';
export * from './timestep-embedder.ts';
export * from './simple-mlp-adaln.ts';
export * from './net.ts';
export * from './noise.ts';
export * from './p-sample.ts';
export * from './sampler.ts';
export * from './loss.ts';
