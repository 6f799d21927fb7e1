// Neural-network building blocks shared by the HART models.
export * from './params.ts';
export * from './layers.ts';
export * from './attention.ts';
export * from './random-weights.ts';
export * from './int4.ts';
