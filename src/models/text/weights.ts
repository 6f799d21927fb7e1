// Finds the Qwen2 language-model weights in a checkpoint's tensor names and maps them to canonical
// prefix-free names (embed_tokens.weight, layers.{i}.…, norm.weight). Accepted prefixes:
// "model.language_model." (Qwen2-VL saved by transformers ≥ 4.52), "model." (Qwen2 / older
// Qwen2-VL), and none (a bare Qwen2Model state dict). Everything else — `visual.*`, `lm_head.*`,
// `model.visual.*` — is skipped and reported once per prefix (hart-spec §10 item 11).
import type { Qwen2Config } from './config.ts';
import { qwen2ParamShapes } from './config.ts';

const LM_PREFIXES = ['model.language_model.', 'language_model.model.', 'model.', ''];
const LM_BODY = /^(embed_tokens\.|norm\.|layers\.\d+\.)/;
/** Buffers some older checkpoints saved inside the language model; recomputed, never read. */
const IGNORED = /\.rotary_emb\.inv_freq$/;

export interface LanguageModelWeights {
  /** canonical name → the checkpoint's name */
  names: Map<string, string>;
  /** The prefix the language model was found under ("" for none). */
  prefix: string;
  /** Skipped non-language-model names, grouped by prefix, e.g. {prefix: "visual.", count: 390}. */
  skipped: { prefix: string; count: number }[];
}

function skipPrefix(name: string): string {
  const parts = name.split('.');
  if (parts.length === 1) return name;
  const n = (parts[0] === 'model' || parts[0] === 'language_model') && parts.length > 2 ? 2 : 1;
  return parts.slice(0, n).join('.') + '.';
}

/**
 * Selects the language-model weights among `checkpointNames` and checks them against the config:
 * every expected weight present, no unexpected weight inside the language model (e.g. layers
 * beyond num_hidden_layers). Shapes are checked later, when the graph binds them.
 */
export function selectLanguageModelWeights(checkpointNames: Iterable<string>, cfg: Qwen2Config): LanguageModelWeights {
  const all = [...checkpointNames];
  const prefix = LM_PREFIXES.find((p) => all.some((n) => n.startsWith(p) && LM_BODY.test(n.slice(p.length))));
  if (prefix === undefined) {
    throw new Error(`no Qwen2 language-model weights found (looked for embed_tokens/layers/norm under ${LM_PREFIXES.map((p) => JSON.stringify(p)).join(', ')}); first names: ${all.slice(0, 5).join(', ')}`);
  }
  const names = new Map<string, string>();
  const skipped = new Map<string, number>();
  for (const n of all) {
    const body = n.startsWith(prefix) ? n.slice(prefix.length) : null;
    if (body !== null && LM_BODY.test(body)) {
      if (!IGNORED.test(body)) names.set(body, n);
      continue;
    }
    const p = skipPrefix(n);
    skipped.set(p, (skipped.get(p) ?? 0) + 1);
  }
  const expected = qwen2ParamShapes(cfg);
  const missing = [...expected.keys()].filter((k) => !names.has(k));
  if (missing.length) {
    throw new Error(`text encoder checkpoint lacks ${missing.length} weight(s) the config implies, e.g. ${missing.slice(0, 3).map((k) => prefix + k).join(', ')}`);
  }
  const extra = [...names.keys()].filter((k) => !expected.has(k));
  if (extra.length) {
    throw new Error(`text encoder checkpoint has ${extra.length} language-model weight(s) the config does not use (num_hidden_layers ${cfg.num_hidden_layers}?), e.g. ${extra.slice(0, 3).map((k) => prefix + k).join(', ')}`);
  }
  return { names, prefix, skipped: [...skipped].map(([p, count]) => ({ prefix: p, count })) };
}
