// `hart generate`: prompts → PNG files (settings in the PNG's tEXt metadata), progress on stderr.
import { mkdir } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { diskFiles } from '../io/file-access.node.ts';
import { atomicWriteFile } from '../io/files.node.ts';
import { encodePng } from '../io/png.ts';
import { nodeRuntime } from '../runtime/node.node.ts';
import { HartPipeline, type PromptEncoder } from '../pipeline/hart-pipeline.ts';
import { loadTextEncoder } from '../pipeline/text-encoder-folder.ts';
import { detectLayout } from '../pipeline/load.ts';
import type { GenerateOptions } from '../pipeline/options.ts';

export interface GenerateCliOptions {
  output: string;
  model?: string;
  textEncoder?: string;
  seed?: string;
  cfg?: string;
  topK?: string;
  topP?: string;
  temperature?: string;
  steps?: string;
  moreSmooth: boolean;
  batch?: string;
  threads?: string;
  previewDir?: string;
  quiet?: boolean;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_MODEL = join(REPO, 'models', 'default');
const DEMO_MODEL = join(REPO, '..', 'shared', 'fixtures', 'hart-parity-tiny');

function num(name: string, v: string | undefined, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${v}"`);
  }
  return n;
}

/** Output paths: out.png for one image, out-1.png, out-2.png, … for several. */
export function outputPaths(output: string, n: number): string[] {
  if (n === 1) return [output];
  const ext = extname(output) || '.png';
  const stem = output.slice(0, output.length - extname(output).length);
  return Array.from({ length: n }, (_, i) => `${stem}-${i + 1}${ext}`);
}

export async function generateCommand(promptWords: string[], o: GenerateCliOptions): Promise<void> {
  const prompt = promptWords.join(' ').trim();
  if (!prompt) throw new Error('give a prompt, e.g. hart generate "a red circle above a blue square"');
  const batch = num('batch', o.batch, true) ?? 1;
  if (batch < 1 || batch > 64) throw new Error(`--batch must be in [1, 64], got ${batch}`);
  const options: GenerateOptions = {
    seed: num('seed', o.seed, true),
    cfg: num('cfg', o.cfg),
    topK: num('top-k', o.topK, true),
    topP: num('top-p', o.topP),
    temperature: num('temperature', o.temperature),
    diffusionSteps: num('steps', o.steps, true),
    moreSmooth: o.moreSmooth,
  };
  const threads = num('threads', o.threads, true);
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`${s}\n`); };
  const runtime = nodeRuntime({ threads });

  let modelDir = o.model;
  let textEncoder: (() => Promise<PromptEncoder>) | undefined;
  if (!modelDir) {
    if (existsSync(join(DEFAULT_MODEL, 'hart.json'))) modelDir = DEFAULT_MODEL;
    else {
      if (!existsSync(join(DEMO_MODEL, 'llm', 'config.json'))) {
        throw new Error('no model: there is no embedded model yet (models/default) and the parity model '
          + `${DEMO_MODEL} is not there either; pass --model <dir> (a HART.js folder or the official hart-0.7b-1024px)`);
      }
      modelDir = DEMO_MODEL;
      log('hart: no embedded model yet (models/default); using the random-weight parity model from '
        + '../shared/fixtures/hart-parity-tiny with a random byte-level text encoder: the image is noise, '
        + 'but every stage of the pipeline runs.');
      const { demoTextEncoder } = await import('./demo-text-encoder.ts');
      textEncoder = () => demoTextEncoder(runtime);
    }
  }
  const files = diskFiles(modelDir);
  await detectLayout(files);
  if (o.textEncoder) textEncoder = () => loadTextEncoder(diskFiles(o.textEncoder!), runtime);
  else if (!textEncoder) {
    if (await files.exists('text_encoder/config.json')) textEncoder = () => loadTextEncoder(files.sub('text_encoder'), runtime);
    else throw new Error(`${modelDir} has no text_encoder/ folder; pass --text-encoder <dir> (a Qwen2 folder)`);
  }
  log(`hart: loading ${modelDir}`);
  const pipe = await HartPipeline.fromPretrained(files, { runtime, textEncoder, keepTextEncoder: false, singleShot: true });
  const prompts = Array.from({ length: batch }, () => prompt);
  const t0 = performance.now();
  const result = await pipe.generate(prompts, {
    ...options,
    previews: !!o.previewDir,
    onProgress: async (e) => {
      if (e.stage === 'scale') log(`  scale ${e.step + 1}/${e.total}  ${e.elapsed.toFixed(2)} s`);
      else log(`  ${e.stage}  ${e.elapsed.toFixed(2)} s`);
      if (o.previewDir && e.previews) {
        await mkdir(o.previewDir, { recursive: true });
        for (const [b, im] of e.previews.entries()) {
          await atomicWriteFile(join(o.previewDir, `preview-${b + 1}-scale-${String(e.step).padStart(2, '0')}.png`), encodePng(im));
        }
      }
    },
  });
  result.truncated.forEach((t) => { if (t) log('hart: warning: the prompt was longer than the model reads and was cut'); });
  const paths = outputPaths(o.output, result.images.length);
  for (const [i, im] of result.images.entries()) {
    const meta = {
      prompt, seed: String(result.seeds[i]), model: modelDir,
      settings: JSON.stringify({ ...result.settings, seeds: undefined, seed: result.seeds[i] }),
      software: 'hart-js',
    };
    await mkdir(dirname(resolve(paths[i])), { recursive: true });
    await atomicWriteFile(paths[i], encodePng(im, meta));
    log(`hart: wrote ${paths[i]} (${im.width}×${im.height}, seed ${result.seeds[i]})`);
  }
  log(`hart: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  await pipe.dispose();
  await runtime.dispose();
}
