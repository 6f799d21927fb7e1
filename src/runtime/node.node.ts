// Node adapter: a Runtime on onnxruntime-node (CPU; CUDA when asked for and present). Models with
// external data (weights over 2 GB) are written to a temporary folder and loaded from the path.
import { ort } from './ort-node.node.ts';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import type { OnnxModel } from '../graph/onnx/emit.ts';
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.ts';

async function createFromFolder(model: OnnxModel, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  const dir = await mkdtemp(join(tmpdir(), 'hart-onnx-'));
  try {
    const x = model.externalData!;
    const fh = await open(join(dir, x.location), 'w');
    try {
      for (const c of x.chunks) {
        let done = 0;
        while (done < c.bytes.byteLength) {
          const n = Math.min(c.bytes.byteLength - done, 1 << 30);
          const { bytesWritten } = await fh.write(c.bytes, done, n, c.offset + done);
          done += bytesWritten;
        }
      }
    } finally {
      await fh.close();
    }
    const path = join(dir, 'model.onnx');
    await writeFile(path, model.bytes);
    return await ort.InferenceSession.create(path, options) as InferenceSession;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function nodeRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(ort, { createWithExternalData: createFromFolder, ...options });
}
