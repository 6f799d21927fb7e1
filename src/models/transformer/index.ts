// The HART transformer (hybrid autoregressive transformer over the context prefix and the token
// pyramid): config, graph builders (training forward, KV-cached step), host-side sequence helpers
// and the HartTransformer driver.
export * from './config.ts';
export * from './embeddings.ts';
export * from './attention.ts';
export * from './block.ts';
export * from './head.ts';
export * from './forward.ts';
export * from './step.ts';
export * from './sequence.ts';
export * from './weights.ts';
export * from './hart-transformer.ts';
export * from './precision.ts';
