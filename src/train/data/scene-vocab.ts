// The scenes vocabulary of reference/scenes.md, shared by the generator (scenes.ts) and the checker
// (src/eval/scenes-check.ts): 8 colours with their sRGB values, 4 shapes, 4 relations, the 4
// caption categories with their exact caption forms, a formatter and a parser, and the held-out
// attribute combinations (fixed here: changing them changes every split).

export const COLOURS = {
  red: [220, 40, 40],
  orange: [245, 140, 30],
  yellow: [240, 210, 40],
  green: [40, 170, 70],
  blue: [40, 90, 220],
  purple: [140, 60, 190],
  pink: [240, 120, 180],
  black: [30, 30, 30],
} as const satisfies Record<string, readonly [number, number, number]>;
export type Colour = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as Colour[];

export const SHAPES = ['circle', 'square', 'triangle', 'star'] as const;
export type Shape = (typeof SHAPES)[number];

export const RELATIONS = ['left of', 'right of', 'above', 'below'] as const;
export type Relation = (typeof RELATIONS)[number];

/** Caption categories in scenes.md order; scene i of a split has category CATEGORIES[i % 4]. */
export const CATEGORIES = ['single', 'counting', 'two objects', 'position'] as const;
export type SceneCategory = (typeof CATEGORIES)[number];

export const COUNT_WORDS = { 2: 'two', 3: 'three', 4: 'four' } as const;

export interface ColourShape { colour: Colour; shape: Shape }

/** What a caption asks for: the multiset of objects (A first, B second for two objects/position). */
export interface SceneCaption {
  category: SceneCategory;
  objects: ColourShape[];
  /** position only: objects[0] is {relation} objects[1]. */
  relation?: Relation;
}

/** The converse relation: A left of B ⇔ B right of A. */
export function converse(r: Relation): Relation {
  return ({ 'left of': 'right of', 'right of': 'left of', above: 'below', below: 'above' } as const)[r];
}

/**
 * Held-out colour–shape pairs: never drawn in the 'train' (or 'test') split, in any category;
 * every 'heldout' single/counting/two-objects scene contains one. Each shape and colour once.
 */
export const HELD_OUT_PAIRS: readonly ColourShape[] = [
  { colour: 'red', shape: 'triangle' },
  { colour: 'yellow', shape: 'star' },
  { colour: 'blue', shape: 'circle' },
  { colour: 'pink', shape: 'square' },
];

/**
 * Held-out relation triples (shape A, relation, shape B), any colours: a 'train'/'test' position
 * caption never has one of these nor its converse (B, converse(relation), A), so the spatial
 * arrangement itself is never captioned in training; 'heldout' position scenes use exactly these
 * (and their converses), with colour–shape pairs that are not held out.
 */
export const HELD_OUT_TRIPLES: readonly { a: Shape; relation: Relation; b: Shape }[] = [
  { a: 'circle', relation: 'left of', b: 'square' },
  { a: 'triangle', relation: 'above', b: 'circle' },
  { a: 'star', relation: 'right of', b: 'triangle' },
  { a: 'square', relation: 'below', b: 'star' },
];

export function isHeldOutPair(o: ColourShape): boolean {
  return HELD_OUT_PAIRS.some((p) => p.colour === o.colour && p.shape === o.shape);
}

export function isHeldOutTriple(a: Shape, relation: Relation, b: Shape): boolean {
  return HELD_OUT_TRIPLES.some((t) => (t.a === a && t.relation === relation && t.b === b)
    || (t.a === b && t.relation === converse(relation) && t.b === a));
}

/** Does a caption use a held-out combination (a held-out pair anywhere, or a held-out triple)? */
export function usesHeldOut(c: SceneCaption): boolean {
  if (c.objects.some(isHeldOutPair)) return true;
  return c.relation !== undefined && isHeldOutTriple(c.objects[0].shape, c.relation, c.objects[1].shape);
}

/** The exact caption forms of scenes.md. */
export function formatCaption(c: SceneCaption): string {
  const one = (o: ColourShape) => `a ${o.colour} ${o.shape}`;
  const [a, b] = c.objects;
  switch (c.category) {
    case 'single': return one(a);
    case 'counting': return `${COUNT_WORDS[c.objects.length as 2 | 3 | 4]} ${a.colour} ${a.shape}s`;
    case 'two objects': return `${one(a)} and ${one(b)}`;
    case 'position': return `${one(a)} ${c.relation} ${one(b)}`;
  }
}

/**
 * A caption that names less than the scene shows (training data only, the recipe's `transformer.partial_captions`):
 * 'colour' drops the colour words ("a circle", "three circles", "a circle left of a star"),
 * 'shape' replaces each shape by "one" ("a red one", "a red one and a blue one"). Null where the
 * result would not tell the objects apart (two objects / position of one shape, or of one colour)
 * or has no form (counting without shapes).
 */
export function partialCaption(c: SceneCaption, drop: 'colour' | 'shape'): string | null {
  const [a, b] = c.objects;
  if (drop === 'colour') {
    if (b && c.category !== 'counting' && a.shape === b.shape) return null;
    switch (c.category) {
      case 'single': return `a ${a.shape}`;
      case 'counting': return `${COUNT_WORDS[c.objects.length as 2 | 3 | 4]} ${a.shape}s`;
      case 'two objects': return `a ${a.shape} and a ${b.shape}`;
      case 'position': return `a ${a.shape} ${c.relation} a ${b.shape}`;
    }
  }
  if (c.category === 'counting' || (b && a.colour === b.colour)) return null;
  switch (c.category) {
    case 'single': return `a ${a.colour} one`;
    case 'two objects': return `a ${a.colour} one and a ${b.colour} one`;
    case 'position': return `a ${a.colour} one ${c.relation} a ${b.colour} one`;
  }
}

const COLOUR_RE = COLOUR_NAMES.join('|');
const SHAPE_RE = SHAPES.join('|');
const ONE = `a (${COLOUR_RE}) (${SHAPE_RE})`;
const PATTERNS = {
  single: new RegExp(`^${ONE}$`),
  counting: new RegExp(`^(two|three|four) (${COLOUR_RE}) (${SHAPE_RE})s$`),
  twoObjects: new RegExp(`^${ONE} and ${ONE}$`),
  position: new RegExp(`^${ONE} (left of|right of|above|below) ${ONE}$`),
};

/**
 * Parses a scenes caption (case and surrounding/repeated spaces ignored) into the objects it asks
 * for; null when it is not one of the four forms. Two objects / position captions must name two
 * different colour–shape pairs (scenes.md), otherwise null too.
 */
export function parseCaption(text: string): SceneCaption | null {
  const t = text.trim().toLowerCase().replace(/\s+/g, ' ');
  let m: RegExpMatchArray | null;
  if ((m = t.match(PATTERNS.single))) return { category: 'single', objects: [{ colour: m[1] as Colour, shape: m[2] as Shape }] };
  if ((m = t.match(PATTERNS.counting))) {
    const n = { two: 2, three: 3, four: 4 }[m[1] as 'two' | 'three' | 'four'];
    return { category: 'counting', objects: Array.from({ length: n }, () => ({ colour: m![2] as Colour, shape: m![3] as Shape })) };
  }
  const pair = (m: RegExpMatchArray, i: number, j: number): ColourShape[] | null => {
    const a = { colour: m[i] as Colour, shape: m[i + 1] as Shape };
    const b = { colour: m[j] as Colour, shape: m[j + 1] as Shape };
    return a.colour === b.colour && a.shape === b.shape ? null : [a, b];
  };
  if ((m = t.match(PATTERNS.twoObjects))) {
    const objects = pair(m, 1, 3);
    return objects && { category: 'two objects', objects };
  }
  if ((m = t.match(PATTERNS.position))) {
    const objects = pair(m, 1, 4);
    return objects && { category: 'position', objects, relation: m[3] as Relation };
  }
  return null;
}

/** Every word a scenes caption can contain (for the caption tokenizer). */
export function sceneVocabulary(): string[] {
  return [...new Set([
    'a', 'and', ...Object.values(COUNT_WORDS), ...COLOUR_NAMES, ...SHAPES, ...SHAPES.map((s) => `${s}s`),
    ...RELATIONS.flatMap((r) => r.split(' ')),
  ])];
}
