// MODEL_CARD.md of a model trained by `hart train`: what it is, the data and artwork licences,
// the recipe, and the limits. Metrics are appended by `hart eval` (see the default model's card).
import type { Recipe } from './recipe.ts';

export function modelCard(recipe: Recipe, run: { steps: number }): string {
  const t = recipe.transformer, k = recipe.tokenizer;
  return `# ${recipe.name}: a small HART trained by HART.js

A HART (hybrid autoregressive transformer) text-to-image model at ${recipe.resolution}×${recipe.resolution} px, trained
from scratch on this repository's data with \`hart train recipes/${recipe.name}.json\`.

| part | size |
| --- | --- |
| hybrid tokenizer | VQGAN ch ${k.config.ch}, ch_mult [${k.config.ch_mult}], ${k.config.vocab_size} codes × ${k.config.z_channels} channels, scales [${recipe.patch_nums}] |
| transformer | ${t.config.depth} blocks, width ${t.config.embed_dim}, ${t.config.num_heads} heads, ${t.config.context_token} context tokens |
| residual diffusion | SimpleMLPAdaLN width ${t.config.diff_width}, depth ${t.config.diff_depth}, ${t.config.num_sampling_steps} sampling steps |
| text encoder | Qwen2 architecture, ${recipe.text_encoder.config.num_hidden_layers} layers, width ${recipe.text_encoder.config.hidden_size}, trained jointly with the transformer |

Training: tokenizer ${k.steps} steps × ${k.batch} images; transformer ${run.steps} steps × ${t.batch} images.

## Data and licences

- Twemoji graphics © Twitter, Inc. and other contributors, CC-BY 4.0 (via the npm package
  emoji-datasource-twitter 16.0.0), captioned "twemoji: <CLDR label>".
- Noto Emoji © Google, Apache-2.0 (via emoji-datasource-google 16.0.0), captioned "noto: <CLDR label>".
- Captions: CLDR labels from emojibase-data 17.0.0 (MIT).
- Procedural scenes (shapes, colours, counts, relations) drawn by HART.js
  (\`src/train/data/scenes.ts\`, the vocabulary of \`shared/reference/scenes.md\`).
- Held out from training: ~5% of base emoji (all their skin tones), and some colour–shape pairs and
  relation–pair triples of the scenes (\`src/train/data/scene-vocab.ts\`).

## Limits

A small model trained for a short time on two CPU cores: it draws emoji-like pictures and simple
coloured shapes, not photographs; prompts outside its vocabulary are spelled in characters and
rarely work.
`;
}
