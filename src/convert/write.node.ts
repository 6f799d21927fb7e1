// Streaming safetensors writer for `hart convert`: the header is built from the plan (names, dtypes,
// shapes are known before any data is read), then each tensor is produced, written and dropped in
// name order, so a multi-GB checkpoint is never held in memory; the file is written atomically
// (temp file + fsync + rename, io/files.node.ts).
import { bytesOf, checkData, numel, type TensorData } from '../io/dtypes.ts';
import { encodeSafetensorsHeader } from '../io/safetensors.ts';
import { atomicWriteFile } from '../io/files.node.ts';
import type { PlannedTensor } from './plan.ts';

/** Writes `tensors` to `path`; `produce(t)` returns each tensor's data (called once per tensor, in name order). */
export async function writeSafetensorsStreaming(
  path: string, tensors: readonly PlannedTensor[], produce: (t: PlannedTensor) => Promise<TensorData>, metadata?: Record<string, string>,
): Promise<number> {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const { header, order, dataLength } = encodeSafetensorsHeader(tensors.map((t) => [t.name, { dtype: t.dtype, shape: t.shape }]), metadata);
  await atomicWriteFile(path, async (write) => {
    await write(header);
    for (const name of order) {
      const t = byName.get(name)!;
      const data = await produce(t);
      checkData(t.dtype, data, `convert: ${name}`);
      if (data.length !== numel(t.shape)) throw new Error(`convert: ${name} produced ${data.length} values for [${t.shape}]`);
      await write(bytesOf(data));
    }
  });
  return header.byteLength + dataLength;
}
