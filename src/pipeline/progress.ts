// Progress events of a generation: one per scale with a cheap preview decoded from the current
// f_hat (coarse-to-fine), then the diffusion and decode stages.
import type { ImageCHW } from '../io/png.ts';

export interface PreviewEvent {
  stage: 'scale' | 'diffusion' | 'decode' | 'done';
  /** Scale index si (stage 'scale'), else the number of scales. */
  step: number;
  total: number;
  /** Seconds since the generation started. */
  elapsed: number;
  /** One low-resolution RGB preview per image (stage 'scale' only, when previews are on). */
  previews?: ImageCHW[];
}
