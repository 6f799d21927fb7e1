// The one list of Philox stream purposes (see philox.ts for the addressing scheme). A purpose
// names which draw a stream feeds; the index within it is the scale si or the diffusion step.
// Changing a number changes every image made with it.
export const PURPOSE = {
  /** One uniform per token for the multinomial draw at scale si (index = si). */
  tokenSampling: 1,
  /** One Gumbel per (token, vocabulary entry) for the more_smooth path at scale si (index = si). */
  gumbel: 2,
  /** Diffusion noise: draw 0 = x_T, 1 + i = the noise of step i (index = draw). */
  diffusionNoise: 3,
  // Training data (src/train/data/): 16 and up, so training's own purposes can take 4–15.
  /** Scene i of the 'train' split: content and layout draws (index = i). */
  sceneTrain: 16,
  /** Scene i of the 'test' split (in-distribution evaluation; index = i). */
  sceneTest: 17,
  /** Scene i of the 'heldout' split (held-out attribute combinations; index = i). */
  sceneHeldOut: 18,
  /** Batch composition at a training step: source and item of every slot (index = step). */
  dataBatch: 19,
  /** Recolouring of a training scene's objects for the tokenizer / decoder stages (index = scene index). */
  dataRecolour: 20,
  /** Whether (and how) a training scene's caption is shortened to a partial one (index = scene index). */
  dataPartialCaption: 21,
  /** Whether (and in which form) a training emoji's caption is its plain label (index = step; words 2b, 2b+1 for slot b). */
  dataPlainCaption: 22,
} as const;
