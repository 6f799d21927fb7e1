// Writes an emitted model's external data (its weights file) to disk: each chunk at its offset,
// in writes of at most 1 GiB (a single write of more is cut short by the OS).
import { open } from 'node:fs/promises';
import type { ExternalData } from '../graph/onnx/emit.ts';

export async function writeExternalData(path: string, x: ExternalData): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (const c of x.chunks) {
      for (let done = 0; done < c.bytes.byteLength;) {
        const { bytesWritten } = await fh.write(c.bytes, done, Math.min(c.bytes.byteLength - done, 1 << 30), c.offset + done);
        done += bytesWritten;
      }
    }
  } finally {
    await fh.close();
  }
}
