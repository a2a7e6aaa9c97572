"""A small world of captioned scenes for text to image (lesson 10), made from a seed.

A scene is a background and one or two coloured objects at named places:

    scene = Scene("beach", (Thing("gold", "fish", "left"), Thing("red", "can", "right")))
    image = render(scene)                       # (3, 24, 24) in [-1, 1]
    caption(scene, template=0)                  # 'a gold fish and a red can on the beach'

Two objects stand either left and right or top and bottom. Captions come in two languages: the ten
templates here (TWO, ONE: `caption`, `random_caption`), all that lesson 10's pixel model was trained on,
and the grammar of minidiff.captions (`say`, `parse`), of which the templates are a part: several
phrasings for every place and relation, synonyms, either clause order, what lesson 11's models read.
Either way a model has to read which colour belongs to which object.

Held out of training, on purpose, so that the lesson can ask whether a model composes what it has
seen into something it has not (see `held_out`):
  - any scene with a gold fish beside a red can, and any gold fish on the beach: the opening story's
    "goldfish sipping a can of cola on a beach" is never shown, although every one of its parts is;
  - about one in twelve of all other (background, object, object) combinations, fixed by a hash.
`sample_scenes(n, seed, split)` draws from the 'train' or 'held_out' side of that line only.
"""

import re
import zlib

import numpy as np
import torch

# What a scene is made of, and the grammar of its captions, live in minidiff.captions; they are read from
# here too (scenes.Scene, scenes.parse), as lesson 10 and its homework do.
from .captions import (BACKGROUNDS, COLOURS, OBJECTS, POSITIONS, Scene, Thing, check_words,  # noqa: F401
                       parse, say, vocabulary as grammar_vocabulary)

SIZE = 24  # pixels per side: 32 costs 1.8x per training step, and 24 draws every shape recognisably
PAIRS = (("left", "right"), ("top", "bottom"))  # where two objects stand
CENTRES = {"left": (12, 6), "right": (12, 17), "top": (6, 12), "bottom": (17, 12)}  # (row, col)
BACKGROUND_WORDS = {"beach": "on the beach", "grass": "on the grass", "night": "at night", "snow": "in the snow"}

RGB = {"gold": (0.96, 0.72, 0.08), "red": (0.86, 0.08, 0.08), "blue": (0.12, 0.28, 0.92),
       "green": (0.08, 0.68, 0.16), "white": (0.98, 0.98, 0.98), "black": (0.04, 0.04, 0.04)}

# Pixel art, one string per row. '#': the object's colour; 'l': a lighter shade of it (a sail, a
# highlight, a can's band); 's': silver (a can's rims); 't': trunk brown; 'e': a dark eye.
SPRITES = {
    "fish": [".###...#",
             "#####.##",
             "#e######",
             "#####.##",
             ".###...#"],
    "can": [".sss.",
            "#####",
            "#####",
            "#lll#",
            "#lll#",
            "#####",
            "#####",
            ".sss."],
    "ball": ["..###..",
             ".#####.",
             "#ll####",
             "#l#####",
             "#######",
             ".#####.",
             "..###.."],
    "star": ["...#...",
             "...#...",
             "#######",
             ".#####.",
             "..###..",
             ".##.##.",
             "##...##"],
    "boat": ["...t....",
             "..lt....",
             ".llt....",
             "lllt....",
             "########",
             ".######.",
             "..####.."],
    "tree": ["...#...",
             "..###..",
             ".#####.",
             "..###..",
             ".#####.",
             "#######",
             "...t...",
             "...t..."],
}


# ---- which combinations training never sees ----------------------------------------------------

HELD_OUT_PAIRS = ((("gold", "fish"), ("red", "can")),)  # never together
HELD_OUT_PLACES = ((("gold", "fish"), "beach"),)  # never on that background
GOLDFISH_PROMPT = "a gold fish and a red can on the beach"


def _hashed_out(combination: tuple) -> bool:
    # A fixed hash (crc32 of the words), not Python's hash(), which changes between runs.
    return zlib.crc32(repr(combination).encode()) % 12 == 0


def held_out(scene: Scene) -> bool:
    """True when `scene` is on the held-out side: the goldfish rules, or a hashed-out combination."""
    items = {(t.colour, t.object) for t in scene.things}
    if any(a in items and b in items for a, b in HELD_OUT_PAIRS):
        return True
    if any(item in items and scene.background == bg for item, bg in HELD_OUT_PLACES):
        return True
    return len(scene.things) == 2 and _hashed_out(scene.combination())


# ---- drawing -------------------------------------------------------------------------------------

def _check_scene(scene: Scene) -> None:
    if not isinstance(scene, Scene):
        raise ValueError(f"scenes: expected a Scene(background, things), got {type(scene).__name__}")
    if scene.background not in BACKGROUNDS:
        raise ValueError(f"scenes: unknown background {scene.background!r}; choose one of {BACKGROUNDS}")
    if not 1 <= len(scene.things) <= 2:
        raise ValueError(f"scenes: a scene holds one or two things, got {len(scene.things)}")
    for thing in scene.things:
        for value, allowed in zip(thing, (COLOURS, OBJECTS, POSITIONS)):
            if value not in allowed:
                raise ValueError(f"scenes: unknown value {value!r} in {thing}; choose one of {allowed}")
    places = tuple(t.position for t in scene.things)
    if len(places) == 2 and tuple(sorted(places, key=POSITIONS.index)) not in PAIRS:
        raise ValueError(f"scenes: two things stand left and right or top and bottom, got {places}")


def _background(name: str, rng: np.random.Generator) -> np.ndarray:
    image = np.empty((SIZE, SIZE, 3))
    horizon = 8 + rng.integers(-1, 2)  # the sky's lower edge moves a row either way
    if name == "beach":
        image[:] = (0.93, 0.83, 0.58)  # sand
        image[:horizon + 6] = (0.10, 0.42, 0.72)  # sea
        image[:horizon] = (0.58, 0.80, 0.95)  # sky
    elif name == "grass":
        image[:] = (0.33, 0.62, 0.22)
        image[:horizon] = (0.58, 0.80, 0.95)
    elif name == "night":
        image[:] = (0.05, 0.07, 0.22)
        for _ in range(rng.integers(3, 7)):  # a few single-pixel stars, nothing like the star object
            image[rng.integers(0, SIZE), rng.integers(0, SIZE)] = 0.85
    else:  # snow
        image[:] = (0.95, 0.96, 0.99)
        image[:horizon] = (0.72, 0.75, 0.80)
    return image


def _paint(image: np.ndarray, thing: Thing, rng: np.random.Generator) -> None:
    art = SPRITES[thing.object]
    h, w = len(art), len(art[0])
    colour = np.array(RGB[thing.colour])
    shades = {"#": colour, "l": 0.55 * colour + 0.45, "s": np.array((0.75, 0.75, 0.78)),
              "t": np.array((0.45, 0.28, 0.12)), "e": np.array((0.05, 0.05, 0.05))}
    if thing.colour == "white":  # a white eye would vanish: keep it dark, and the band grey
        shades["l"] = np.array((0.8, 0.8, 0.8))
    if thing.colour == "black":
        shades["e"] = np.array((0.9, 0.9, 0.9))
    row, col = CENTRES[thing.position]
    top, left = row - h // 2 + rng.integers(-1, 2), col - w // 2 + rng.integers(-1, 2)
    mask = np.array([[ch != "." for ch in line] for line in art])
    # A one-pixel outline, dark (light for black things), so every colour shows on every background.
    ring = np.zeros((h + 2, w + 2), bool)
    for dr, dc in ((0, 1), (2, 1), (1, 0), (1, 2)):
        ring[dr:dr + h, dc:dc + w] |= mask
    ring[1:-1, 1:-1] &= ~mask
    edge = 0.85 if thing.colour == "black" else 0.08
    rows, cols = np.nonzero(ring)
    image[top - 1 + rows, left - 1 + cols] = edge
    for r, line in enumerate(art):
        for c, ch in enumerate(line):
            if ch != ".":
                image[top + r, left + c] = shades[ch]


def render(scene: Scene, seed: int = 0) -> torch.Tensor:
    """The scene as a (3, SIZE, SIZE) float32 image in [-1, 1]; `seed` moves things by a pixel or so."""
    _check_scene(scene)
    rng = np.random.default_rng(seed)
    image = _background(scene.background, rng)
    for thing in scene.things:
        _paint(image, thing, rng)
    image = np.clip(image * (1 + 0.03 * rng.standard_normal()), 0, 1)  # a little light or shade
    return torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) * 2 - 1)


# ---- drawing many ------------------------------------------------------------------------------

def random_scene(rng: np.random.Generator, split: str = "train") -> Scene:
    """One scene from the `split` side ('train', 'held_out' or 'all'), drawn with numpy's `rng`."""
    if split not in ("train", "held_out", "all"):
        raise ValueError(f"random_scene: split must be 'train', 'held_out' or 'all', got {split!r}")
    while True:  # rejection: about 1 in 6 scenes is held out, so a few draws suffice either way
        background = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
        if rng.random() < 0.25:
            things = (Thing(COLOURS[rng.integers(6)], OBJECTS[rng.integers(6)], POSITIONS[rng.integers(4)]),)
        else:
            a, b = rng.choice(36, size=2, replace=False)  # two different (colour, object) pairs
            places = PAIRS[rng.integers(2)][::rng.choice((1, -1))]
            things = tuple(Thing(COLOURS[k // 6], OBJECTS[k % 6], p) for k, p in zip((a, b), places))
        scene = Scene(background, things)
        if split == "all" or held_out(scene) == (split == "held_out"):
            return scene


def sample_scenes(n: int, seed: int, split: str = "train") -> tuple[torch.Tensor, list]:
    """n scenes of `split` and their images (n, 3, SIZE, SIZE) in [-1, 1]; the same seed, the same scenes."""
    rng = np.random.default_rng(seed)
    scenes = [random_scene(rng, split) for _ in range(n)]
    jitter = rng.integers(0, 2**31, size=n)
    images = torch.stack([render(s, int(j)) for s, j in zip(scenes, jitter)]) if n else \
        torch.zeros(0, 3, SIZE, SIZE)
    return images, scenes


# ---- captions -------------------------------------------------------------------------------------

def _name(thing: Thing) -> str:
    return f"a {thing.colour} {thing.object}"


def _relation(a: Thing, b: Thing) -> str:
    return {"left": "to the left of", "right": "to the right of", "top": "above", "bottom": "below"}[a.position]


TWO = ("{a} and {b} {bg}", "{bg}, {b} next to {a}", "{a} beside {b} {bg}", "{bg}, {a} and {b}",
       "{a} on the {pa} and {b} on the {pb} {bg}", "{a} {rel} {b} {bg}")
ONE = ("{a} {bg}", "{bg}, {a}", "{a} on the {pa}, {bg}", "{bg}, {a} on the {pa}")
PLACE_TEMPLATES = {"two": (4, 5), "one": (2, 3)}  # the templates that name where things stand


def caption(scene: Scene, template: int = 0) -> str:
    """The scene in words, from one of the templates (TWO for two things, ONE for one)."""
    _check_scene(scene)
    templates = TWO if len(scene.things) == 2 else ONE
    if not 0 <= template < len(templates):
        raise ValueError(f"caption: template must be in 0..{len(templates) - 1}, got {template}")
    a, b = scene.things[0], scene.things[-1]
    return templates[template].format(a=_name(a), b=_name(b), pa=a.position, pb=b.position,
                                      rel=_relation(a, b), bg=BACKGROUND_WORDS[scene.background])


def random_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A caption from a random template, with the two things in a random order."""
    if len(scene.things) == 2 and rng.random() < 0.5:
        scene = Scene(scene.background, scene.things[::-1])
    return caption(scene, int(rng.integers(len(TWO if len(scene.things) == 2 else ONE))))


def words(text: str) -> list[str]:
    """Lower-case words and commas: 'On the beach, a can' -> ['on', 'the', 'beach', ',', 'a', 'can']."""
    return re.findall(r"[a-z]+|,", text.lower())


def vocabulary(language: str = "grammar") -> list[str]:
    """Every word a caption can use, sorted: of the grammar (minidiff.captions: what lesson 11's models
    read and a learner may type) or of the ten 'templates' (TWO and ONE: what lesson 10's pixel model
    was trained on, and all it knows)."""
    if language == "grammar":
        return grammar_vocabulary()
    if language != "templates":
        raise ValueError(f"vocabulary: language must be 'grammar' or 'templates', got {language!r}")
    found = set()
    for bg in BACKGROUNDS:
        for c in COLOURS:
            for o in OBJECTS:
                for first, second in PAIRS + tuple(p[::-1] for p in PAIRS):
                    two = Scene(bg, (Thing(c, o, first), Thing(c, o, second)))
                    one = Scene(bg, two.things[:1])
                    for scene in (two, one):
                        for k in range(len(TWO if len(scene.things) == 2 else ONE)):
                            found.update(words(caption(scene, k)))
    return sorted(found)


# ---- prompts for measuring a model -------------------------------------------------------------

def prompt(scene: Scene) -> str:
    """The plainest caption of a scene or of a wish (positions may be None): 'a gold fish and a red can
    on the beach', with places only when the scene gives them."""
    parts = []
    for thing in scene.things:
        place = f" on the {thing.position}" if thing.position else ""
        parts.append(f"a {thing.colour} {thing.object}{place}")
    return " and ".join(parts) + (f" {BACKGROUND_WORDS[scene.background]}" if scene.background else "")


def combinations(split: str) -> list:
    """Every (background, two different (colour, object) pairs) on one side of the line, as Scenes with
    no positions, in a fixed order: 'train' (2,283 of them) or 'held_out' (237)."""
    if split not in ("train", "held_out"):
        raise ValueError(f"combinations: split must be 'train' or 'held_out', got {split!r}")
    items = [(c, o) for c in COLOURS for o in OBJECTS]
    out = []
    for bg in BACKGROUNDS:
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                placed = Scene(bg, (Thing(*a, "left"), Thing(*b, "right")))
                if held_out(placed) == (split == "held_out"):
                    out.append(Scene(bg, (Thing(*a, None), Thing(*b, None))))
    return out


def prompt_set(split: str, k: int, seed: int = 0) -> list[str]:
    """k prompts of two things on a background, drawn without replacement from `split`'s combinations;
    the goldfish prompt is kept out (it is measured on its own)."""
    pool = [s for s in combinations(split) if prompt(s) != GOLDFISH_PROMPT]
    pick = np.random.default_rng(seed).choice(len(pool), size=min(k, len(pool)), replace=False)
    return [prompt(pool[i]) for i in sorted(pick)]


def swap_pairs(k: int, seed: int = 0) -> list[tuple[str, str]]:
    """k pairs of prompts that swap the colours of two objects ('a red fish and a blue can on the
    grass', 'a blue fish and a red can on the grass'), both sides seen in training: the same words, so
    only word order tells them apart."""
    rng, pairs = np.random.default_rng(seed), []
    seen = {s.combination() for s in combinations("train")}
    while len(pairs) < k:
        c1, c2 = rng.choice(COLOURS, 2, replace=False)
        o1, o2 = rng.choice(OBJECTS, 2, replace=False)
        bg = BACKGROUNDS[rng.integers(4)]
        a = Scene(bg, (Thing(c1, o1, None), Thing(c2, o2, None)))
        b = Scene(bg, (Thing(c2, o1, None), Thing(c1, o2, None)))
        if a.combination() in seen and b.combination() in seen and (prompt(a), prompt(b)) not in pairs:
            pairs.append((prompt(a), prompt(b)))
    return pairs


# ---- prompt sets for measuring how a model reads wording -------------------------------------------

GOLDFISH_WORDINGS = ("a goldfish next to a can of cola at the beach",  # two held-out phrases
                     "a gold fish and a red can on the beach",  # the plainest wording (scenes.GOLDFISH_PROMPT)
                     "on the sand, a red tin beside a golden fish",
                     "A goldfish with a cola can by the sea",
                     "at the beach, the red can near the goldfish")


def _template_captions(scene: Scene) -> set:
    """The ten templates' captions of a scene, both orders of its things."""
    orders = {scene.things, scene.things[::-1]}
    return {caption(Scene(scene.background, o), k) for o in orders for k in range(len(TWO if len(o) == 2 else ONE))}


def wording_prompts(kind: str, k: int, seed: int = 0, vocabulary=None) -> list[str]:
    """k captions of two-thing scenes for one row of the wording table:
    'seen' (training's combinations in training's phrasings), 'held_out_phrasing' (training's
    combinations, each caption with a held-out phrase) or 'held_out_both' (held-out combinations in
    held-out phrasings). With a `vocabulary` (a model's words, e.g. vocabulary('templates')), only
    captions in those words that are none of the ten templates: new wording a model of the templates
    can read. The same seed, the same captions."""
    if kind not in ("seen", "held_out_phrasing", "held_out_both"):
        raise ValueError(f"wording_prompts: kind must be 'seen', 'held_out_phrasing' or 'held_out_both', got {kind!r}")
    known = None if vocabulary is None else set(vocabulary)
    rng, out = np.random.default_rng(seed), []
    for _ in range(200 * k):  # rejection; a bound, so that a vocabulary too small to say anything stops
        if len(out) == k:
            return out
        scene = random_scene(rng, "held_out" if kind == "held_out_both" else "train")
        if len(scene.things) != 2:
            continue
        if kind != "seen" and scene.things[0].position in ("bottom", "right") and rng.random() < 0.5:
            scene = scene._replace(things=scene.things[::-1])  # either thing may come first
        try:
            text = say(scene, rng, "seen" if kind == "seen" else "held_out")
        except ValueError:  # no held-out phrase fits this scene: draw another
            continue
        if known is None or (set(words(text)) <= known and text not in _template_captions(scene)):
            out.append(text)
    raise ValueError(f"wording_prompts: found only {len(out)} of {k} {kind!r} captions within the vocabulary given")


def binding_prompts(k: int, seed: int = 0) -> list[str]:
    """4k captions: k colour-swapped pairs ('a red fish and a blue can', 'a blue fish and a red can', both
    sides seen in training), each side with the place first and last: only which colour word stands
    next to which object word tells the two apart."""
    out = []
    for pair in swap_pairs(k, seed):
        for text in pair:
            place = BACKGROUND_WORDS[parse(text).background]
            things = text.removesuffix(f" {place}")
            out += [f"{things} {place}", f"{place}, {things}"]
    return out
