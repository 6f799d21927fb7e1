// Training building blocks: host-side AdamW / clipping / EMA / LR schedule, and the in-graph AdamW step.
export * from './optim.ts';
export * from './adamw-graph.ts';
