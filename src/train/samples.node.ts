// Sample grids of a model folder during and after training: one image per prompt (seed 1, the
// model's sampling defaults), laid out in a grid PNG with the prompts in its metadata.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadHartPipeline } from '../index.node.ts';
import { encodePng, type ImageCHW } from '../io/png.ts';

/** Tiles equally sized CHW images in rows of `cols` (white gaps of `gap` px). */
export function gridImage(images: readonly ImageCHW[], cols: number, gap = 2): ImageCHW {
  const w = images[0].width, h = images[0].height, n = images.length;
  const rows = Math.ceil(n / cols);
  const W = cols * w + (cols + 1) * gap, H = rows * h + (rows + 1) * gap;
  const data = new Float32Array(3 * W * H).fill(1);
  images.forEach((im, i) => {
    const x0 = gap + (i % cols) * (w + gap), y0 = gap + Math.floor(i / cols) * (h + gap);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) data[c * W * H + (y0 + y) * W + x0 + x] = im.data[c * w * h + y * w + x];
  });
  return { width: W, height: H, data };
}

export async function writeSampleGrid(modelDir: string, prompts: readonly string[], out: string, threads?: number, seed = 1): Promise<void> {
  const pipe = await loadHartPipeline(modelDir, { threads });
  try {
    const { images } = await pipe.generate([...prompts], { seed });
    await mkdir(dirname(out), { recursive: true });
    const cols = Math.min(8, Math.ceil(Math.sqrt(prompts.length * 2)));
    await writeFile(out, encodePng(gridImage(images, cols), { prompts: prompts.join('\n') }, ['prompts']));
  } finally {
    await pipe.dispose();
  }
}
