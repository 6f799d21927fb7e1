// The official inference run of the parity fixture (../shared/fixtures/hart-parity-tiny), replayed
// on any model folder with the fixture's weights: its recorded context, arg-max token choices
// (temperature 0), cfg 4.5 and recorded diffusion noise, as test/pipeline/generate-loop.test.ts.
// Captures each scale's logits and inputs, so a converted (float16, int4) folder can be compared
// with the float32 one end to end and scale by scale with the float32 run's inputs (teacher forcing).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../src/io/safetensors.ts';
import { diskFiles } from '../src/io/file-access.node.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { loadHart, type LoadedHart } from '../src/pipeline/load.ts';
import { runGeneration, type EncodedContext } from '../src/pipeline/generate-loop.ts';
import { resolveOptions } from '../src/pipeline/options.ts';
import { cfgMix } from '../src/pipeline/sampling.ts';
import { cfgRamp } from '../src/tables/schedules.ts';

export const FIXTURE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'fixtures', 'hart-parity-tiny');

let reference: Map<string, { shape: number[]; data: ArrayLike<number | bigint> }> | undefined;
function ref(name: string) {
  reference ??= readSafetensors(new Uint8Array(readFileSync(join(FIXTURE_DIR, 'reference.safetensors'))), 'reference.safetensors');
  const t = reference.get(name);
  if (!t) throw new Error(`fixture reference.safetensors has no tensor ${name}`);
  return t;
}

/** The fixture's encoded context (the official run's text features). */
export function fixtureContext(): EncodedContext {
  const ctx = ref('ctx.context'), pos = ref('ctx.context_position_ids');
  const [B, T] = pos.shape;
  const p = Array.from(pos.data as ArrayLike<number | bigint>, Number);
  return {
    context: { dtype: 'float32', shape: ctx.shape, data: Float32Array.from(ctx.data as ArrayLike<number>) },
    positionIds: Array.from({ length: B }, (_, b) => p.slice(b * T, (b + 1) * T)),
  };
}

/** The official run's final images in [0, 1], concatenated (float32). */
export function fixtureImage(): Float32Array {
  return ref('infer.image').data as Float32Array;
}

export interface FixtureRun {
  model: LoadedHart;
  /** All images' pixels in [0, 1], concatenated. */
  image: Float32Array;
  /** The official run's images (same layout as `image`). */
  reference: Float32Array;
  /** Per scale: logits before CFG [2B, l, V]. */
  logits: Float32Array[];
  /** Per scale: the input step() got (undefined at scale 0). */
  inputs: (HostTensor | undefined)[];
  /** Per scale: the arg-max token of the CFG-mixed logits, per row. */
  tokens: Int32Array[];
}

/** Runs the fixture's official generation on a model folder. */
export async function runFixture(dir: string, runtime: Runtime): Promise<FixtureRun> {
  const model = await loadHart(diskFiles(dir), runtime);
  const ctx = fixtureContext();
  const B = ctx.context.shape[0];
  const N = model.transformer.dims.numScales, V = model.transformer.dims.V;
  const ramp = cfgRamp(4.5, N);
  const logits: Float32Array[] = [], inputs: (HostTensor | undefined)[] = [], tokens: Int32Array[] = [];
  const t = model.transformer;
  const step = t.step.bind(t);
  t.step = async (gen, next) => {
    const out = await step(gen, next);
    const l = out.logits_BlV.data as Float32Array;
    logits.push(Float32Array.from(l));
    inputs.push(next && { ...next, data: Float32Array.from(next.data as Float32Array) });
    const mixed = cfgMix(l, B, ramp[out.si]);
    const rows = mixed.length / V, arg = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let v = 1; v < V; v++) if (mixed[r * V + v] > mixed[r * V + best]) best = v;
      arg[r] = best;
    }
    tokens.push(arg);
    return out;
  };
  const recordedNoise = (draw: number, rows: number, channels: number) =>
    (ref(`rng.infer.${String(2 + draw).padStart(2, '0')}.randn`).data as Float32Array).slice(0, rows * channels);
  const images = await runGeneration(model, ctx, {
    ...resolveOptions(B, { cfg: 4.5, temperature: 0, moreSmooth: false }),
    hooks: { diffusionNoise: recordedNoise },
  });
  t.step = step;
  const image = new Float32Array(images.reduce((s, im) => s + im.data.length, 0));
  let o = 0;
  for (const im of images) { image.set(im.data, o); o += im.data.length; }
  const reference = fixtureImage();
  return { model, image, reference, logits, inputs, tokens };
}

/** Each scale's logits of `model` when fed the inputs another run recorded (teacher forcing). */
export async function teacherForcedLogits(model: LoadedHart, inputs: (HostTensor | undefined)[]): Promise<Float32Array[]> {
  const ctx = fixtureContext();
  const gen = await model.transformer.begin(ctx.context, ctx.positionIds, ctx.mask);
  const out: Float32Array[] = [];
  for (const next of inputs) out.push(Float32Array.from((await model.transformer.step(gen, next)).logits_BlV.data as Float32Array));
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
