"""A small world of captioned scenes for text to image (lesson 10), made from a seed.

A scene is a background and one or two coloured objects at named places:

    scene = Scene("beach", (Thing("gold", "fish", "left"), Thing("red", "can", "right")))
    image = render(scene)                       # (3, 24, 24) in [-1, 1]
    caption(scene, template=0)                  # 'a gold fish and a red can on the beach'

Two objects stand either left and right or top and bottom. Captions come from several templates with
the word order varied ("on the beach, a red can next to a gold fish"), so a model has to read which
colour belongs to which object; some templates name the places, most do not.

Held out of training, on purpose, so that the lesson can ask whether a model composes what it has
seen into something it has not (see `held_out`):
  - any scene with a gold fish beside a red can, and any gold fish on the beach: the opening story's
    "goldfish sipping a can of cola on a beach" is never shown, although every one of its parts is;
  - about one in twelve of all other (background, object, object) combinations, fixed by a hash.
`sample_scenes(n, seed, split)` draws from the 'train' or 'held_out' side of that line only.
"""

import difflib
import functools
import re
import zlib
from typing import NamedTuple

import numpy as np
import torch

SIZE = 24  # pixels per side: 32 costs 1.8x per training step, and 24 draws every shape recognisably
BACKGROUNDS = ("beach", "grass", "night", "snow")
OBJECTS = ("fish", "can", "ball", "star", "boat", "tree")
COLOURS = ("gold", "red", "blue", "green", "white", "black")
POSITIONS = ("left", "right", "top", "bottom")
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


class Thing(NamedTuple):
    """One object in a scene: its colour, what it is, and where it stands."""

    colour: str
    object: str
    position: str


class Scene(NamedTuple):
    """A background and one or two Things."""

    background: str
    things: tuple

    def combination(self) -> tuple:
        """(background, sorted (colour, object) pairs): what a caption without places pins down."""
        return (self.background, tuple(sorted((t.colour, t.object) for t in self.things)))


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


def vocabulary() -> list[str]:
    """Every word a caption can use, sorted: every template, both orders of both layouts."""
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


@functools.cache
def _known() -> frozenset:
    return frozenset(vocabulary())


def check_words(text: str, where: str = "parse") -> list[str]:
    """The caption's words, refusing any word no caption uses (as text.Tokenizer does): dropped, it would
    make "a purple fish on the moon" ask for any fish anywhere."""
    if not isinstance(text, str):
        raise ValueError(f"{where}: a caption must be a string, got {type(text).__name__}")
    tokens = re.findall(r"[a-z]+|,|[^\sa-z,]+", text.lower())  # what Tokenizer.split finds, symbols included
    unknown = list(dict.fromkeys(w for w in tokens if w not in _known()))
    if unknown:
        known = sorted(_known())
        near = {w: difflib.get_close_matches(w, known, n=2, cutoff=0.5) for w in unknown}
        hints = [f"{' or '.join(repr(m) for m in near[w])} for {w!r}" for w in unknown if near[w]]
        hint = f"; did you mean {', '.join(hints)}?" if hints else "."
        raise ValueError(f"{where}: unknown word{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(w) for w in unknown)} in {text!r}{hint} The scenes know {len(known)} "
                         f"words: {' '.join(known)} (colours {', '.join(COLOURS)}; objects {', '.join(OBJECTS)}; "
                         f"backgrounds {', '.join(BACKGROUNDS)})")
    return tokens


def parse(text: str) -> Scene:
    """What a caption asks for, as a Scene whose unnamed parts are None: the background (None when the
    caption names none), and the things in the order named, each with position None unless placed.
    A word no caption uses is an error that names it."""
    tokens, things, background = check_words(text), [], None
    places = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
    for i, word in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if word in ("beach", "grass", "night", "snow"):
            background = word
        elif word in OBJECTS:
            colour = tokens[i - 1] if i and tokens[i - 1] in COLOURS else None
            things.append([colour, word, None])
        elif word in places and things:
            if nxt == "of":  # "a red can to the left of a gold fish": this one left, the next right
                things[-1][2], pending = word, places[word]
                things.append(["__pending__", pending])
            else:  # "a red can on the left"
                things[-1][2] = word
        elif word in ("above", "below") and things:
            things[-1][2] = "top" if word == "above" else "bottom"
            things.append(["__pending__", "bottom" if word == "above" else "top"])
    out, pending = [], None
    for item in things:
        if item[0] == "__pending__":
            pending = item[1]
            continue
        if pending is not None:
            item[2], pending = pending, None
        out.append(Thing(*item))
    return Scene(background, tuple(out))


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
