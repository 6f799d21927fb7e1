// Which model `hart` (generate, info, serve) and loadHartPipeline() use when none is named: the
// embedded default model (models/default in the package, trained by recipes/default-base.json,
// default.json, default-3.json, default-5.json, default-6.json, default-9.json, default-10.json and
// default-11.json in turn). The random-weight parity model (../shared/fixtures/hart-parity-tiny)
// still runs when named with --model, with a random byte-level text encoder standing in for the
// missing one.
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diskFiles } from '../io/file-access.node.ts';
import type { FileAccess } from '../io/file-access.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { PromptEncoder } from './hart-pipeline.ts';
import { detectLayout, type HartFolderLayout } from './load.ts';
import { loadTextEncoder } from './text-encoder-folder.ts';

/** The package root (src/pipeline/../.. in a checkout, dist/pipeline/../.. when installed). */
export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const EMBEDDED_MODEL = join(PACKAGE_ROOT, 'models', 'default');
export const DEMO_MODEL = join(PACKAGE_ROOT, '..', 'shared', 'fixtures', 'hart-parity-tiny');

/** A user-facing error: printed as one line by the CLI, a 4xx by the server. */
export class UserError extends Error {
  override name = 'UserError';
}

export function embeddedModelExists(): boolean {
  return existsSync(join(EMBEDDED_MODEL, 'hart.json'));
}

/**
 * The model used when none is given: the embedded one. (The parity fixture is no fallback: it
 * draws noise; pass it with --model to run it.)
 */
export function defaultModelDir(): string {
  if (embeddedModelExists()) return EMBEDDED_MODEL;
  throw new UserError('no model: this HART.js has no embedded model (models/default); pass a model folder '
    + '(--model <dir>: a HART.js folder with hart.json, or the official hart-0.7b-1024px)');
}

export const isDemoModel = (dir: string): boolean => resolve(dir) === resolve(DEMO_MODEL);

/** The name recorded in PNG metadata and shown by the server: never an absolute path. */
export function modelName(dir: string): string {
  if (resolve(dir) === resolve(EMBEDDED_MODEL)) return 'hart-js-default';
  return basename(resolve(dir));
}

export interface ModelRef {
  dir: string;
  name: string;
  files: FileAccess;
  layout: HartFolderLayout;
  /** True for the random parity model (no meaningful images). */
  demo: boolean;
  textEncoderDir?: string;
  /** Loads the text encoder on the given runtime. */
  textEncoder: (runtime: Runtime) => Promise<PromptEncoder>;
}

/**
 * Checks a model folder (and text-encoder folder) without loading weights: the layout files are
 * there and readable, hart.json parses. Errors are UserErrors naming the folder.
 */
export async function resolveModel(dir?: string, textEncoderDir?: string, o: { requireTextEncoder?: boolean } = {}): Promise<ModelRef> {
  const d = dir ?? defaultModelDir();
  if (!existsSync(d)) throw new UserError(`model folder ${d} does not exist`);
  if (!statSync(d).isDirectory()) throw new UserError(`model folder ${d} is not a folder`);
  const files = diskFiles(d);
  let layout: HartFolderLayout;
  try {
    layout = await detectLayout(files);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const demo = isDemoModel(d) && !textEncoderDir;
  let textEncoder: ModelRef['textEncoder'];
  if (textEncoderDir) {
    if (!existsSync(join(textEncoderDir, 'config.json')) || !existsSync(join(textEncoderDir, 'tokenizer.json'))) {
      throw new UserError(`text-encoder folder ${textEncoderDir} needs config.json and tokenizer.json`);
    }
    textEncoder = (rt) => loadTextEncoder(diskFiles(textEncoderDir), rt);
  } else if (demo) {
    textEncoder = async (rt) => (await import('./demo-text-encoder.ts')).demoTextEncoder(rt);
  } else {
    const sub = layout.hartJson?.parts.text_encoder ?? 'text_encoder';
    if (!(await files.exists(`${sub}/config.json`)) && (o.requireTextEncoder ?? true)) {
      throw new UserError(`${d} has no ${sub}/ folder; pass a Qwen2 text-encoder folder (--text-encoder <dir>)`);
    }
    textEncoder = (rt) => loadTextEncoder(files.sub(sub), rt);
  }
  return { dir: d, name: modelName(d), files, layout, demo, textEncoderDir, textEncoder };
}
