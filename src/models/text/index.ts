// The text encoder: Qwen2 (config, weights, layer graphs, host-side runner) and the official prompt
// handling (system prompt, 300-token padding, mask, position ids) — hart-spec §1.1.
export * from './config.ts';
export * from './system-prompt.ts';
export * from './weights.ts';
export * from './qwen2.ts';
export * from './encoder.ts';
export * from './prompt-tokenizer.ts';
export * from './text-encoder.ts';
export * from './byte-level-tokenizer.ts';
