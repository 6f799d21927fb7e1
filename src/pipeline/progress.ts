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

/**
 * Where one generation's time goes, read from its progress events (each marks the end of what came
 * before it: scale si's step, then the last scale's, the diffusion, the decoder). Pass `onProgress`
 * to generate(); then `stages(total)` gives seconds of text (before the loop), scale_0 … scale_{K−1}
 * (each scale's transformer step with its sampling and next-scale input), diffusion and decode.
 */
export function stageClock(): { onProgress: (e: PreviewEvent) => void; stages: (totalSeconds: number) => Record<string, number> } {
  const marks: { label: string; at: number }[] = [];
  return {
    onProgress: (e) => {
      const label = e.stage === 'scale' ? `scale_${e.step}` : e.stage === 'diffusion' ? `scale_${e.step - 1}` : e.stage === 'decode' ? 'diffusion' : 'decode';
      marks.push({ label, at: e.elapsed });
    },
    stages: (total) => {
      const out: Record<string, number> = { text: Math.max(0, total - (marks.at(-1)?.at ?? total)) };
      let prev = 0;
      for (const m of marks) { out[m.label] = (out[m.label] ?? 0) + m.at - prev; prev = m.at; }
      return out;
    },
  };
}

/** stageClock's stages summed to text / scales / diffusion / decode. */
export function coarseStages(stages: Record<string, number>): { text: number; scales: number; diffusion: number; decode: number } {
  const scales = Object.entries(stages).filter(([k]) => k.startsWith('scale_')).reduce((s, [, v]) => s + v, 0);
  return { text: stages.text ?? 0, scales, diffusion: stages.diffusion ?? 0, decode: stages.decode ?? 0 };
}
