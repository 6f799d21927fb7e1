// Node adapter: a Runtime on onnxruntime-node (CPU; CUDA when asked for and present). Models with
// external data (weights over 2 GB) are written to a temporary folder and loaded from the path.
// Hashing uses node:crypto; models are cached on disk (model-cache.node.ts) unless
// turned off (modelCache: false, or HART_CACHE_DIR=off).
import { ort, ortNative } from './ort-node.node.ts';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { writeExternalData } from './external-data.node.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import type { OnnxModel } from '../graph/onnx/emit.ts';
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.ts';
import { DiskModelCache, defaultCacheDir, type DiskModelCacheOptions } from './model-cache.node.ts';
import { physicalCores } from './cpu-cores.node.ts';
import { u8s8Saturates } from './cpu-features.node.ts';

async function createFromFolder(model: OnnxModel, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  const dir = await mkdtemp(join(tmpdir(), 'hart-onnx-'));
  try {
    await writeExternalData(join(dir, model.externalData!.location), model.externalData!);
    const path = join(dir, 'model.onnx');
    await writeFile(path, model.bytes);
    return await ort.InferenceSession.create(path, options) as InferenceSession;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function nodeSha256(parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export interface NodeRuntimeOptions extends Omit<RuntimeOptions, 'modelCache'> {
  /**
   * The on-disk model cache: false turns it off; an object sets its folder, size
   * bound and the smallest model it keeps. Default: on, in defaultCacheDir() (off when
   * HART_CACHE_DIR=off).
   */
  modelCache?: boolean | DiskModelCacheOptions;
}

/** The disk cache nodeRuntime would use with these options, or undefined when it is off. */
export function nodeModelCache(opt: NodeRuntimeOptions['modelCache']): DiskModelCache | undefined {
  if (opt === false) return undefined;
  const o = typeof opt === 'object' ? opt : {};
  const dir = o.dir ?? defaultCacheDir();
  return dir ? new DiskModelCache({ ...o, dir }) : undefined;
}

/**
 * ONNX Runtime for Node. Defaults beside RuntimeOptions': intra-op threads = the physical cores
 * this process may use (cpu-cores.node.ts; ORT's own choice where unknown), spinning stopped at the
 * end of each run (RuntimeOptions.forceSpinningStop), the on-disk model cache on.
 */
export function nodeRuntime(options: NodeRuntimeOptions = {}): Runtime {
  const { modelCache, threads, ...rest } = options;
  // the onnxruntime-web fallback returns pre-allocated outputs unwritten (see RuntimeOptions.outputsInPlace)
  return new Runtime(ort, {
    createWithExternalData: createFromFolder, sha256: nodeSha256, modelCache: nodeModelCache(modelCache), outputsInPlace: ortNative,
    forceSpinningStop: true, u8s8Saturates: u8s8Saturates(), ...rest, threads: threads || physicalCores(),
  });
}

export { DiskModelCache, defaultCacheDir };
