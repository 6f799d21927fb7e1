// `hart generate`: prompt → PNG files (A1111-style `parameters` + UTF-8 prompt metadata), a
// progress bar per stage on stderr. Every option, the model folder and the output path are checked
// before any model loads; Ctrl-C stops at the next stage and writes nothing.
import { MATMUL_PRECISIONS, type MatmulPrecision } from '../models/transformer/precision.ts';
import { mkdir, open, unlink, stat } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { atomicWriteFile } from '../io/files.node.ts';
import { encodePng } from '../io/png.ts';
import { nodeRuntime } from '../runtime/node.node.ts';
import { HartPipeline } from '../pipeline/hart-pipeline.ts';
import { resolveModel, UserError } from '../pipeline/default-model.node.ts';
import { cliNumber, parseGenerationRequest, RequestError, toGenerateOptions } from '../api/request.ts';
import { encodeImagePng } from '../api/metadata.ts';
import { progressBars } from './progress.ts';

export interface GenerateCliOptions {
  output: string;
  model?: string;
  textEncoder?: string;
  seed?: string;
  cfg?: string;
  cfgSchedule?: string;
  topK?: string;
  topP?: string;
  temperature?: string;
  steps?: string;
  moreSmooth: boolean;
  batch?: string;
  threads?: string;
  /** Matrix precision of the transformer blocks (default: the model's, else float32). */
  precision?: string;
  previewDir?: string;
  quiet?: boolean;
  /** --no-metadata sets false. */
  metadata?: boolean;
  /** Cancels the generation (the CLI wires Ctrl-C to it). */
  signal?: AbortSignal;
}

/** Output paths: out.png for one image, out-1.png, out-2.png, … for several. */
export function outputPaths(output: string, n: number): string[] {
  if (n === 1) return [output];
  const ext = extname(output) || '.png';
  const stem = output.slice(0, output.length - extname(output).length);
  return Array.from({ length: n }, (_, i) => `${stem}-${i + 1}${ext}`);
}

/**
 * Checks that files can be created in `dir` (made if missing): the nearest existing ancestor is a
 * folder we can write to. Probes with a real file, so read-only mounts fail here too, not after the
 * generation.
 */
export async function checkWritableDir(dir: string, what: string): Promise<void> {
  let d = resolve(dir);
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  if (!statSync(d).isDirectory()) throw new UserError(`${what}: ${d} is not a folder`);
  const probe = join(d, `.hart-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await (await open(probe, 'wx')).close();
    await unlink(probe);
  } catch (e) {
    throw new UserError(`${what}: cannot write in ${d} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

async function checkOutputs(output: string, n: number): Promise<string[]> {
  if (!output) throw new UserError('-o/--output must be a file name');
  if (extname(output).toLowerCase() !== '.png') throw new UserError(`-o ${output}: the output must be a .png file`);
  const paths = outputPaths(output, n);
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (s?.isDirectory()) throw new UserError(`-o ${output}: ${p} is a folder`);
  }
  await checkWritableDir(dirname(resolve(paths[0])), `-o ${output}`);
  return paths;
}

function abortError(signal: AbortSignal): boolean {
  return signal.aborted;
}

export async function generateCommand(promptWords: string[], o: GenerateCliOptions): Promise<void> {
  // 1. every option, before anything loads
  let req;
  try {
    req = parseGenerationRequest({
      prompt: promptWords.join(' ').trim(),
      n: cliNumber(o.batch),
      seed: cliNumber(o.seed),
      cfg: cliNumber(o.cfg),
      cfg_schedule: o.cfgSchedule,
      top_k: cliNumber(o.topK),
      top_p: cliNumber(o.topP),
      temperature: cliNumber(o.temperature),
      steps: cliNumber(o.steps),
      ...(o.moreSmooth === false ? { more_smooth: false } : {}),
    }, 'cli');
  } catch (e) {
    if (e instanceof RequestError && e.field === 'prompt' && !promptWords.join('').trim()) {
      throw new UserError('give a prompt, e.g. hart generate "a red circle above a blue square"');
    }
    throw e instanceof RequestError ? new UserError(e.message) : e;
  }
  const n = req.n ?? 1;
  if (req.seed !== undefined && req.seed + n - 1 > Number.MAX_SAFE_INTEGER) throw new UserError(`--seed ${req.seed} + --batch ${n} goes past 2^53`);
  const threads = cliNumber(o.threads);
  if (threads !== undefined && !(typeof threads === 'number' && Number.isInteger(threads) && threads >= 1 && threads <= 1024)) {
    throw new UserError(`--threads must be an integer in [1, 1024], got ${JSON.stringify(o.threads)}`);
  }
  if (o.precision !== undefined && !(MATMUL_PRECISIONS as readonly string[]).includes(o.precision)) {
    throw new UserError(`--precision must be one of ${MATMUL_PRECISIONS.join(', ')}, got ${JSON.stringify(o.precision)}`);
  }
  const paths = await checkOutputs(o.output, n);
  if (o.previewDir) await checkWritableDir(o.previewDir, `--preview-dir ${o.previewDir}`);
  const model = await resolveModel(o.model, o.textEncoder);

  const signal = o.signal ?? new AbortController().signal;
  const bars = progressBars(process.stderr, { quiet: o.quiet });
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`${s}\n`); };
  if (model.demo) {
    log('hart: no embedded model yet (models/default); using the random-weight parity model '
      + '(../shared/fixtures/hart-parity-tiny) with a random text encoder: the image is noise, but every stage runs.');
  }

  // 2. load
  const runtime = nodeRuntime({ threads: threads as number | undefined });
  try {
    bars.next('load');
    // the text encoder loads and encodes first inside generate(); its own bar ends when the prompt is encoded
    const textEncoder = async () => {
      const enc = await model.textEncoder(runtime);
      return {
        release: enc.release?.bind(enc),
        encodePrompts: async (...a: Parameters<typeof enc.encodePrompts>) => {
          const r = await enc.encodePrompts(...a);
          bars.next('scales');
          return r;
        },
      };
    };
    const pipe = await HartPipeline.fromPretrained(model.files, {
      runtime, textEncoder, keepTextEncoder: false, singleShot: true,
      precision: o.precision as MatmulPrecision | undefined,
      onLoadProgress: (e) => bars.update(e.done, e.total, e.done < e.total ? e.what : ''),
    }).catch((e: Error) => { throw new UserError(`cannot load the model ${model.dir}: ${e.message}`); });
    if (abortError(signal)) throw new DOMException('cancelled', 'AbortError');
    // 3. generate
    bars.next('text');
    const N = pipe.model.transformer.dims.patchNums.length;
    const t0 = performance.now();
    const result = await pipe.generate(Array.from({ length: n }, () => req.prompt), {
      ...toGenerateOptions(req),
      signal,
      previews: !!o.previewDir,
      onProgress: async (e) => {
        if (e.stage === 'scale') bars.update(e.step + 1, N);
        else if (e.stage === 'diffusion') { bars.update(N - 1, N); bars.next('diffusion'); }
        else if (e.stage === 'decode') bars.next('decode');
        else if (e.stage === 'done') bars.next();
        if (o.previewDir && e.previews) {
          await mkdir(o.previewDir, { recursive: true });
          for (const [b, im] of e.previews.entries()) {
            await atomicWriteFile(join(o.previewDir, `preview-${b + 1}-scale-${String(e.step).padStart(2, '0')}.png`), encodePng(im));
          }
        }
      },
    });
    const cut = result.truncated.filter(Boolean).length;
    if (cut) log(`hart: warning: the prompt is longer than the ${pipe.model.transformerConfig.context_token} tokens the model reads; the rest was ignored`);
    const missing = result.missingWords[0] ?? [];
    if (missing.length) {
      log(`hart: note: the model's vocabulary has no ${missing.map((w) => JSON.stringify(w)).join(', ')} (it reads ${missing.length === 1 ? 'that word' : 'those words'} letter by letter, so ${missing.length === 1 ? 'it' : 'they'} may be ignored); its MODEL_CARD.md says what it was trained on`);
    }
    // 4. write (atomically: a reader, or a Ctrl-C, never sees half a file)
    await mkdir(dirname(resolve(paths[0])), { recursive: true });
    for (const [i, im] of result.images.entries()) {
      if (abortError(signal)) throw new DOMException('cancelled', 'AbortError');
      const png = encodeImagePng(im, o.metadata === false ? false : {
        prompt: req.prompt, seed: result.seeds[i], settings: result.settings, width: im.width, height: im.height, model: model.name,
      });
      await atomicWriteFile(paths[i], png);
      log(`hart: wrote ${paths[i]} (${im.width}×${im.height}, seed ${result.seeds[i]})`);
    }
    log(`hart: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    await pipe.dispose();
  } finally {
    await runtime.dispose();
  }
}
