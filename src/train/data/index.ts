// Training data for HART.js (browser-safe part): procedural scenes, emoji records/captions/splits
// (pixels come from emoji.node.ts), seeded streaming batches and the caption tokenizer.
// Node-only: ./emoji.node.ts (loads the emoji packages), ./prefetch-worker.node.ts (worker thread).
export * from './scene-vocab.ts';
export * from './scenes.ts';
export * from './emoji-join.ts';
export * from './stream.ts';
export * from './caption-tokenizer.ts';
