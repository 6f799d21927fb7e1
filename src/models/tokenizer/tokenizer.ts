// HartTokenizer: the hybrid tokenizer (official HARTAutoEncoder, hart_autoencoder.py) as compiled
// ONNX graphs run by a Runtime passed in: img → f (encoder + quant_conv), the multi-scale quantizer's
// encode paths, the teacher-forcing input, the per-scale inference update of f_hat, and
// f_hat → img (post_quant_conv + decoder). Each graph is built and compiled once per shape
// (batch size symbolic) and cached; the loop over scales in inference stays with the caller.
import { Graph, emitOnnx, type Tensor } from '../../graph/index.ts';
import { Params, type WeightStore, conv2d } from '../../nn/index.ts';
import { toFloat32 } from '../../io/dtypes.ts';
import { SMALL_GRAPH, type CompiledModel, type LoadOptions, type Runtime } from '../../runtime/runtime.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import { type HartTokenizerConfig, downsampleFactor, validateTokenizerConfig } from './config.ts';
import { decoder, encoder } from './vqgan.ts';
import { Quantizer } from './quant.ts';

export interface HartTokenizerOptions {
  /** Weight-name prefix of the autoencoder in the store: 'vae' for the official HARTAutoEncoderWithDisc file; auto-detected when omitted. */
  prefix?: string;
}

export interface ScaleOptions {
  /** Scale schedule; defaults to config.v_patch_nums. Its last entry must equal the latent size. */
  patchNums?: number[];
}

export interface EncodeResult {
  /** Codebook indices per scale: int64 [B, pn²], tokens row-major. */
  idx_Bl: HostTensor[];
  /** Continuous residual before the last scale's code is subtracted: float32 [B, HW, Cvae]. */
  f_rest_wo_last_discrete: HostTensor;
  /** The continuous latent f = quant_conv(encoder(img)): float32 [B, Cvae, h, w]. */
  f: HostTensor;
}

export class HartTokenizer {
  /** Codebook quantize.embedding.weight as float32 [vocab_size × z_channels], row-major. */
  readonly codebook: Float32Array;
  private models = new Map<string, Promise<CompiledModel>>();

  private constructor(
    readonly config: HartTokenizerConfig,
    private store: WeightStore,
    readonly runtime: Runtime,
    readonly prefix: string,
  ) {
    const e = store.get(this.name('quantize.embedding.weight'));
    if (!e) throw new Error(`tokenizer weights: missing ${this.name('quantize.embedding.weight')}`);
    if (e.shape.join() !== [config.vocab_size, config.z_channels].join()) {
      throw new Error(`tokenizer weights: codebook has shape [${e.shape}], the config implies [${config.vocab_size},${config.z_channels}]`);
    }
    this.codebook = toFloat32(e.dtype as never, e.data as never);
  }

  /** A tokenizer over official-named weights (`vae.encoder.…`, or without the `vae.` prefix); graphs run on `runtime`. */
  static fromWeights(config: HartTokenizerConfig, store: WeightStore, runtime: Runtime, options: HartTokenizerOptions = {}): HartTokenizer {
    validateTokenizerConfig(config);
    let prefix = options.prefix;
    if (prefix === undefined) {
      if (store.get('vae.quantize.embedding.weight')) prefix = 'vae';
      else if (store.get('quantize.embedding.weight')) prefix = '';
      else throw new Error('tokenizer weights: found neither vae.quantize.embedding.weight nor quantize.embedding.weight');
    }
    return new HartTokenizer(config, store, runtime, prefix);
  }

  get Cvae(): number { return this.config.z_channels; }
  /** Image-to-latent downsampling factor (16 for the official ch_mult). */
  get downsample(): number { return downsampleFactor(this.config); }

  /** img [B, 3, H, W] in [−1, 1] → encoder output and f = quant_conv(encoder(img)), both [B, Cvae, H/16, W/16]. */
  async imgToF(img_B3HW: HostTensor): Promise<{ encoder_out: HostTensor; f: HostTensor }> {
    const [, C, H, W] = checkRank4(img_B3HW, 'img');
    if (C !== 3) throw new Error(`img must have 3 channels, got ${C}`);
    const d = this.downsample;
    if (H % d || W % d) throw new Error(`image size ${H}×${W} is not a multiple of ${d}`);
    const m = await this.model(`encoder:${H}x${W}`, (g, p) => {
      const img = g.input('img', 'float32', ['B', 3, H, W]);
      const encoder_out = encoder(p.scope('encoder'), img, this.config);
      const ks = this.config.quant_conv_ks;
      const f = conv2d(p.scope('quant_conv'), encoder_out, this.Cvae, ks, { padding: ks >> 1 });
      return { encoder_out, f };
    });
    const r = await m.run({ img: img_B3HW });
    return { encoder_out: r.encoder_out, f: r.f };
  }

  /** img_to_idxBl_and_frest: the hybrid tokens of an image (indices per scale + continuous residual). */
  async encode(img_B3HW: HostTensor, options: ScaleOptions = {}): Promise<EncodeResult> {
    const { f } = await this.imgToF(img_B3HW);
    return { ...(await this.fToIdxBlAndFrest(f, options)), f };
  }

  /** HARTHybridQuantizer.f_to_idxBl_and_frest on f [B, Cvae, h, w]. */
  async fToIdxBlAndFrest(f_BChw: HostTensor, options: ScaleOptions = {}): Promise<{ idx_Bl: HostTensor[]; f_rest_wo_last_discrete: HostTensor }> {
    if (this.config.quantizer_type !== 'var_hybrid') throw new Error('f_to_idxBl_and_frest needs quantizer_type "var_hybrid"');
    const pns = this.patchNums(f_BChw, options);
    const m = await this.model(`frest:${pns}`, (g, p) => {
      const f = g.input('f', 'float32', ['B', this.Cvae, pns.at(-1)!, pns.at(-1)!]);
      const r = new Quantizer(p.scope('quantize'), this.config).fToIdxBlAndFrest(f, pns);
      return { ...indexOutputs(r.idx_Bl), f_rest_wo_last_discrete: r.f_rest_wo_last_discrete };
    });
    const r = await m.run({ f: f_BChw });
    return { idx_Bl: pns.map((_, si) => r[`idx_s${si}`]), f_rest_wo_last_discrete: r.f_rest_wo_last_discrete };
  }

  /** VectorQuantizer2.f_to_idxBl_or_fhat (VAR: φ at every scale): the indices and the cumulative f_hat after every scale. */
  async fToIdxBlOrFhat(f_BChw: HostTensor, options: ScaleOptions = {}): Promise<{ idx_Bl: HostTensor[]; f_hat: HostTensor[] }> {
    const pns = this.patchNums(f_BChw, options);
    const m = await this.model(`var:${pns}`, (g, p) => {
      const f = g.input('f', 'float32', ['B', this.Cvae, pns.at(-1)!, pns.at(-1)!]);
      const r = new Quantizer(p.scope('quantize'), this.config).fToIdxBlOrFhat(f, pns);
      return { ...indexOutputs(r.idx_Bl), ...Object.fromEntries(r.f_hat.map((t, si) => [`f_hat_s${si}`, t])) };
    });
    const r = await m.run({ f: f_BChw });
    return { idx_Bl: pns.map((_, si) => r[`idx_s${si}`]), f_hat: pns.map((_, si) => r[`f_hat_s${si}`]) };
  }

  /** idxBl_to_var_input: teacher-forcing input x_BLCv_wo_first_l [B, Σpn² − pn₀², Cvae] from idx_Bl[0..SN−2] (further entries ignored). */
  async idxBlToVarInput(idx_Bl: HostTensor[], options: ScaleOptions = {}): Promise<HostTensor> {
    const pns = options.patchNums ?? this.config.v_patch_nums;
    if (idx_Bl.length < pns.length - 1) throw new Error(`idxBlToVarInput: ${idx_Bl.length} index maps for ${pns.length} scales`);
    const m = await this.model(`varinput:${pns}`, (g, p) => {
      const idx = pns.slice(0, -1).map((pn, si) => g.input(`idx_s${si}`, 'int64', ['B', pn * pn]));
      return { x_BLCv_wo_first_l: new Quantizer(p.scope('quantize'), this.config).idxBlToVarInput(idx, pns) };
    });
    const feeds: Record<string, HostTensor> = {};
    pns.slice(0, -1).forEach((pn, si) => {
      checkShape(idx_Bl[si], [idx_Bl[0].shape[0], pn * pn], `idx_Bl[${si}]`);
      feeds[`idx_s${si}`] = toInt64(idx_Bl[si]);
    });
    return (await m.run(feeds)).x_BLCv_wo_first_l;
  }

  /**
   * get_next_autoregressive_input at scale si: f_hat [B, Cvae, HW, HW] (zeros before scale 0) and
   * h_BChw [B, Cvae, pn_si, pn_si] (the last scale: [B, Cvae, HW, HW], codes + residual) →
   * the updated f_hat and the next scale's input `next` [B, Cvae, pn_{si+1}, pn_{si+1}] (= f_hat at the last scale).
   */
  async nextAutoregressiveInput(si: number, f_hat_BChw: HostTensor, h_BChw: HostTensor, options: ScaleOptions = {}): Promise<{ f_hat: HostTensor; next: HostTensor }> {
    const pns = this.patchNums(f_hat_BChw, options);
    if (!Number.isInteger(si) || si < 0 || si >= pns.length) throw new RangeError(`scale ${si} outside [0, ${pns.length})`);
    const HW = pns.at(-1)!, pn = pns[si];
    checkShape(h_BChw, [f_hat_BChw.shape[0], this.Cvae, pn, pn], 'h_BChw');
    const m = await this.model(`next:${si}:${pns}`, (g, p) => {
      // (ONNX names must be unique: the input is f_hat_in, the output f_hat.)
      const f_hat = g.input('f_hat_in', 'float32', ['B', this.Cvae, HW, HW]);
      const h = g.input('h', 'float32', ['B', this.Cvae, pn, pn]);
      return new Quantizer(p.scope('quantize'), this.config).nextAutoregressiveInput(si, pns, f_hat, h);
    }, SMALL_GRAPH); // a 3×3 convolution on the latent and two resamplings
    const r = await m.run({ f_hat_in: f_hat_BChw, h: h_BChw });
    return { f_hat: r.f_hat, next: r.next };
  }

  /** fhat_to_img: decoder(post_quant_conv(f_hat)) → img [B, 3, 16h, 16w], clamped to [−1, 1] unless clamp is false. */
  async decode(f_hat_BChw: HostTensor, options: { clamp?: boolean } = {}): Promise<HostTensor> {
    const [, C] = checkRank4(f_hat_BChw, 'f_hat');
    if (C !== this.Cvae) throw new Error(`f_hat has ${C} channels, the tokenizer ${this.Cvae}`);
    // one decoder graph for every latent size (symbolic h, w): previews reuse the full decoder's session
    const m = await this.model('decoder', (g, p) => {
      const f_hat = g.input('f_hat', 'float32', ['B', this.Cvae, 'h', 'w']);
      const ks = this.config.quant_conv_ks;
      const z = conv2d(p.scope('post_quant_conv'), f_hat, this.Cvae, ks, { padding: ks >> 1 });
      return { img: decoder(p.scope('decoder'), z, this.config) };
    });
    const img = (await m.run({ f_hat: f_hat_BChw })).img;
    if (options.clamp ?? true) {
      const d = img.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = d[i] < -1 ? -1 : d[i] > 1 ? 1 : d[i];
    }
    return img;
  }

  /**
   * HARTAutoEncoder.forward (training forward, values only): decoder output (unclamped) and
   * vq_loss; skipContinuous decodes the discrete-only sum (skip_continuous_prob = 1), otherwise
   * the continuous residual is added (hybrid quantizer).
   */
  async forward(img_B3HW: HostTensor, options: ScaleOptions & { skipContinuous: boolean }): Promise<{ out: HostTensor; vq_loss: HostTensor }> {
    const { f } = await this.imgToF(img_B3HW);
    const pns = this.patchNums(f, options);
    const skip = options.skipContinuous;
    const m = await this.model(`forward:${skip}:${pns}`, (g, p) => {
      const fin = g.input('f', 'float32', ['B', this.Cvae, pns.at(-1)!, pns.at(-1)!]);
      const r = new Quantizer(p.scope('quantize'), this.config).forward(fin, pns, skip);
      return { f_hat: r.f_hat, vq_loss: r.vq_loss };
    });
    const r = await m.run({ f });
    return { out: await this.decode(r.f_hat, { clamp: false }), vq_loss: r.vq_loss };
  }

  /** embedding(idx) as a token map, in plain TypeScript: idx [B, pn²] → h [B, Cvae, pn, pn] float32. */
  idxBlToH(idx_Bl: HostTensor): HostTensor {
    const [B, l] = idx_Bl.shape;
    const pn = Math.round(Math.sqrt(l));
    if (idx_Bl.shape.length !== 2 || pn * pn !== l) throw new Error(`idx_Bl must be [B, pn²], got [${idx_Bl.shape}]`);
    const C = this.Cvae, V = this.config.vocab_size;
    const out = new Float32Array(B * C * l);
    const idx = idx_Bl.data;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < l; t++) {
        const v = Number(idx[b * l + t]);
        if (!(v >= 0 && v < V)) throw new RangeError(`index ${v} outside the codebook [0, ${V})`);
        for (let c = 0; c < C; c++) out[(b * C + c) * l + t] = this.codebook[v * C + c];
      }
    }
    return { dtype: 'float32', shape: [B, C, pn, pn], data: out };
  }

  /** Forgets this tokenizer's compiled graphs; the sessions stay in the runtime's cache until Runtime.dispose(). */
  clearCache(): void { this.models.clear(); }

  private name(n: string): string { return this.prefix ? `${this.prefix}.${n}` : n; }

  private patchNums(latent: HostTensor, options: ScaleOptions): number[] {
    const pns = options.patchNums ?? this.config.v_patch_nums;
    const [, C, h, w] = checkRank4(latent, 'latent');
    if (C !== this.Cvae) throw new Error(`latent has ${C} channels, the tokenizer ${this.Cvae}`);
    if (pns.length < 2 || pns.some((p) => !Number.isInteger(p) || p < 1)) throw new Error(`patch nums ${JSON.stringify(pns)} must be ≥ 2 positive integers`);
    if (pns.at(-1) !== h || pns.at(-1) !== w) throw new Error(`the last patch num ${pns.at(-1)} must equal the latent size ${h}×${w}`);
    return [...pns];
  }

  /** Builds (once per key) a graph over this tokenizer's weights and compiles it on the runtime. */
  private model(key: string, build: (g: Graph, p: Params) => Record<string, Tensor>, load?: LoadOptions): Promise<CompiledModel> {
    let m = this.models.get(key);
    if (!m) {
      const g = new Graph();
      const outputs = build(g, new Params(g, this.store, this.prefix));
      m = this.runtime.load(emitOnnx({ outputs }), load);
      this.models.set(key, m);
      m.catch(() => this.models.delete(key));
    }
    return m;
  }
}

function indexOutputs(idx_Bl: Tensor[]): Record<string, Tensor> {
  return Object.fromEntries(idx_Bl.map((t, si) => [`idx_s${si}`, t]));
}

function checkRank4(t: HostTensor, what: string): [number, number, number, number] {
  if (t.shape.length !== 4) throw new Error(`${what} must be [B, C, H, W], got [${t.shape}]`);
  if (t.dtype !== 'float32') throw new Error(`${what} must be float32, got ${t.dtype}`);
  return t.shape as [number, number, number, number];
}

function checkShape(t: HostTensor, shape: number[], what: string): void {
  if (t.shape.join() !== shape.join()) throw new Error(`${what} has shape [${t.shape}], expected [${shape}]`);
}

/** Index maps as int64 (accepts int32 or int64 host tensors). */
function toInt64(t: HostTensor): HostTensor {
  if (t.dtype === 'int64') return t;
  if (t.dtype !== 'int32') throw new Error(`indices must be int64 or int32, got ${t.dtype}`);
  return { dtype: 'int64', shape: t.shape, data: BigInt64Array.from(t.data as Int32Array, (v) => BigInt(v)) };
}
