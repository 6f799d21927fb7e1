// `hart bench convert`: what float16 storage and int4 Linear weights cost in accuracy, on the parity
// fixture (the official run's context, arg-max choices, cfg 4.5 and recorded diffusion noise;
// bench/fixture-run.ts). The fixture is converted to float32, float16, int4 (float32 rest) and
// int4 + float16 in a temp folder; each is run end to end and compared with the float32 run:
//   image      max |Δ| and mean |Δ| of the final image (pixels in [0, 1])
//   logits@0   max |Δ| of scale 0's logits (same input for every variant: the text context)
//   tf logits  max |Δ| over all scales with the float32 run's inputs (teacher forcing), and its
//              ratio to the largest |logit| (the model's error alone, without diverging choices)
//   tokens     arg-max choices that differ from the float32 run, per scale (free running)
// The fixture's weights are random (not trained), so these are upper-bound-ish indications.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertHart } from '../src/convert/convert.node.ts';
import { nodeRuntime } from '../src/runtime/node.node.ts';
import { FIXTURE_DIR, maxAbs, maxAbsDiff, runFixture, teacherForcedLogits } from './fixture-run.ts';

export interface AccuracyRow {
  variant: string;
  bytes: number;
  image_max: number;
  image_mean: number;
  image_vs_official_max: number;
  logits0_max: number;
  tf_logits_max: number;
  tf_logits_rel: number;
  token_mismatches: number[];
}

export async function convertAccuracy(threads = 2): Promise<AccuracyRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hart-convert-acc-'));
  const runtime = nodeRuntime({ threads });
  try {
    const variants = [
      { variant: 'float32', dtype: 'float32', quantize: 'none' },
      { variant: 'float16', dtype: 'float16', quantize: 'none' },
      { variant: 'int4', dtype: 'float32', quantize: 'int4' },
      { variant: 'int4+float16', dtype: 'float16', quantize: 'int4' },
    ] as const;
    const rows: AccuracyRow[] = [];
    let base: Awaited<ReturnType<typeof runFixture>> | undefined;
    for (const v of variants) {
      const out = join(dir, v.variant);
      const r = await convertHart(FIXTURE_DIR, out, { dtype: v.dtype, quantize: v.quantize });
      const run = await runFixture(out, runtime);
      base ??= run;
      const tf = await teacherForcedLogits(run.model, base.inputs);
      let tfMax = 0, scale = 0;
      tf.forEach((l, si) => { tfMax = Math.max(tfMax, maxAbsDiff(l, base!.logits[si])); scale = Math.max(scale, maxAbs(base!.logits[si])); });
      let mean = 0;
      for (let i = 0; i < run.image.length; i++) mean += Math.abs(run.image[i] - base.image[i]);
      rows.push({
        variant: v.variant, bytes: r.bytes,
        image_max: maxAbsDiff(run.image, base.image), image_mean: mean / run.image.length,
        image_vs_official_max: maxAbsDiff(run.image, run.reference),
        logits0_max: maxAbsDiff(run.logits[0], base.logits[0]),
        tf_logits_max: tfMax, tf_logits_rel: tfMax / scale,
        token_mismatches: run.tokens.map((t, si) => t.reduce((n, x, j) => n + (x !== base!.tokens[si][j] ? 1 : 0), 0)),
      });
    }
    return rows;
  } finally {
    await runtime.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchConvertAccuracy(o: { json?: boolean }): Promise<void> {
  const rows = await convertAccuracy();
  const e = (x: number) => x.toExponential(2);
  process.stdout.write('variant        size KiB  image max|Δ|  image mean|Δ|  vs official  logits@0 max|Δ|  tf logits max|Δ| (rel)  token mismatches per scale\n');
  for (const r of rows) {
    process.stdout.write(`${r.variant.padEnd(13)} ${(r.bytes / 1024).toFixed(0).padStart(9)}  ${e(r.image_max).padStart(12)}  ${e(r.image_mean).padStart(13)}  ` +
      `${e(r.image_vs_official_max).padStart(11)}  ${e(r.logits0_max).padStart(15)}  ${`${e(r.tf_logits_max)} (${e(r.tf_logits_rel)})`.padStart(22)}  ${r.token_mismatches.join(',')}\n`);
  }
  if (o.json) process.stdout.write(JSON.stringify({ fixture: 'hart-parity-tiny', rows }) + '\n');
}
