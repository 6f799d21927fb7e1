// The hybrid tokenizer (HART §3.2; official hart/modules/models/autoencoder): config, VQGAN
// encoder/decoder builders, the multi-scale residual quantizer and the compiled HartTokenizer.
export * from './config.ts';
export * from './vqgan.ts';
export * from './quant.ts';
export * from './tokenizer.ts';
