"""Grader of homework 3 (my_object.py): is the new object a word the captions can carry and a sprite the
24 x 24 renderer can draw, are the six old objects drawn and captioned exactly as before, and can a
simple reader tell the new one from them?

    make homework ASSIGNMENT=03_scene_object
"""

import itertools
import re

import numpy as np
import pytest
import torch

import minidiff
from grading import attempt, fail, load, measured
from minidiff import scenes as S

ALPHABET = ".#lste"  # the letters of scenes.SPRITES' pixel art
MAX_SIZE = max(max(len(a), len(a[0])) for a in S.SPRITES.values())  # 8: the largest of the six
JITTERS = list(itertools.product((-1, 0, 1), repeat=2))  # how far render may move a thing (rows, columns)


def _tables() -> tuple:
    return S.OBJECTS, S.COLOURS, tuple(S.SPRITES), tuple(S.RGB), S.TWO, S.ONE


@pytest.fixture(scope="module")
def mine():
    before = _tables()
    module = load(__file__, "my_object.py")
    if _tables() != before:
        fail("importing my_object.py changed minidiff.scenes' own tables (OBJECTS, SPRITES, ...): leave minidiff as "
             "it is and extend it from your file (a dict of your own, {**scenes.SPRITES, WORD: SPRITE}), so that "
             "everything else that uses scenes sees the six objects it was made for")
    for name in ("render", "caption", "parse"):
        if not callable(getattr(module, name, None)):
            fail(f"my_object.py must define a function {name} (see the starter)")
    return module


@pytest.fixture(scope="module")
def word(mine):
    word = getattr(mine, "WORD", None)
    if word is None:
        fail("not attempted yet: WORD is None; name your object, e.g. WORD = \"moon\"")
    if not isinstance(word, str) or not re.fullmatch(r"[a-z]+", word):
        fail(f"WORD = {word!r}: it must be one word of lower-case letters a-z (scenes.words splits captions into "
             "such words)")
    taken = {"a colour": S.COLOURS, "an object already": S.OBJECTS, "a place": S.POSITIONS,
             "a background": S.BACKGROUNDS}
    for what, words in taken.items():
        if word in words:
            fail(f"WORD = {word!r} is {what} of the scenes: choose a word that names something new")
    if word in S.vocabulary():
        fail(f"WORD = {word!r} is already a word of the captions ({', '.join(S.vocabulary()[:12])}, ...): parse "
             "could not tell the object from that word")
    return word


@pytest.fixture(scope="module")
def sprite(mine):
    art = getattr(mine, "SPRITE", None)
    if art is None:
        fail("not attempted yet: SPRITE is None; draw your object as rows of pixel art, like scenes.SPRITES")
    if isinstance(art, str) or not isinstance(art, (list, tuple)) or not all(isinstance(r, str) for r in art):
        fail(f"SPRITE must be a list of strings, one per row of pixels (like scenes.SPRITES['fish']), got "
             f"{type(art).__name__}")
    return list(art)


def _mask(art, letters: str = "#lste") -> np.ndarray:
    return np.array([[ch in letters for ch in row] for row in art])


def test_sprite_fits_the_renderer(sprite):
    h = len(sprite)
    widths = {len(row) for row in sprite}
    if h == 0 or widths == {0}:
        fail("SPRITE is empty: draw your object as rows of pixel art, like scenes.SPRITES")
    if len(widths) > 1:
        fail(f"SPRITE's rows have different lengths {sorted(widths)}: every row must be as long as the others "
             "(pad with '.')")
    w = widths.pop()
    odd = sorted({ch for row in sprite for ch in row} - set(ALPHABET))
    if odd:
        fail(f"SPRITE uses {odd}: the renderer knows only {ALPHABET!r} ('.' nothing, '#' the thing's colour, 'l' a "
             "lighter shade, 's' silver, 't' trunk brown, 'e' a dark eye)")
    if h > MAX_SIZE or w > MAX_SIZE:
        fail(f"SPRITE is {h} rows x {w} columns; at most {MAX_SIZE} x {MAX_SIZE}, like the largest of the six: things "
             f"stand at {S.CENTRES} (row, column) and move a pixel either way, so a larger one would run into its "
             "neighbour or, outline included, off the 24 x 24 image")
    mask = _mask(sprite)
    if not mask[0].any() or not mask[-1].any() or not mask[:, 0].any() or not mask[:, -1].any():
        fail("SPRITE has an empty first or last row or column: trim it, so that the object is centred on its place")
    if h < 4 or w < 4 or mask.sum() < 12:
        fail(f"SPRITE is {h} x {w} with {mask.sum()} pixels drawn: make it at least 4 x 4 with 12 pixels, or a model "
             "(and a person) will hardly see what it is")
    coloured = _mask(sprite, "#l").sum()
    if coloured < mask.sum() / 2:
        fail(f"only {coloured} of SPRITE's {mask.sum()} pixels take the thing's colour ('#' or 'l'): a red and a blue "
             "one would look alike, and captions name the colour")
    pieces = _pieces(mask)
    if pieces > 1:
        fail(f"SPRITE falls apart into {pieces} pieces (pixels touching side to side): draw one connected shape, "
             "or it reads as several things")


def _pieces(mask: np.ndarray) -> int:
    """How many 4-connected pieces the drawn pixels form."""
    seen, count = np.zeros_like(mask), 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count, stack = count + 1, [start]
        while stack:
            r, c = stack.pop()
            if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and mask[r, c] and not seen[r, c]:
                seen[r, c] = True
                stack += [(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)]
    return count


def _placed(art, size: int = 14) -> np.ndarray:
    """The sprite's mask on a size x size canvas, placed as render places it on its centre."""
    h, w = len(art), len(art[0])
    canvas = np.zeros((size, size), bool)
    canvas[size // 2 - h // 2:size // 2 - h // 2 + h, size // 2 - w // 2:size // 2 - w // 2 + w] = _mask(art)
    return canvas


def _shape_distance(a, b, shift: int = 2) -> int:
    """Pixels where two sprites differ, at the best relative shift of up to `shift` pixels."""
    pa, pb = _placed(a), _placed(b)
    return min(int((pa ^ np.roll(pb, (dr, dc), (0, 1))).sum()) for dr in range(-shift, shift + 1)
               for dc in range(-shift, shift + 1))


def test_sprite_differs_from_the_six(sprite):
    test_sprite_fits_the_renderer(sprite)
    old = {(a, b): _shape_distance(S.SPRITES[a], S.SPRITES[b]) for a, b in itertools.combinations(S.OBJECTS, 2)}
    (a, b), least = min(old.items(), key=lambda kv: kv[1])
    mine = {o: _shape_distance(sprite, S.SPRITES[o]) for o in S.OBJECTS}
    closest = min(mine, key=mine.get)
    measured(__file__, f"shape: your sprite differs from the nearest of the six, the {closest}, in {mine[closest]} "
                       f"pixels (best shift); the closest two of the six, {a} and {b}, in {least}")
    if mine[closest] < least - 1:
        fail(f"your sprite differs from the {closest}'s in only {mine[closest]} pixels (at the best shift of up to 2 "
             f"pixels); the closest two of the six ({a} and {b}) differ in {least}: change its outline so that it "
             "cannot be taken for a " + closest)


# ---- render -----------------------------------------------------------------------------------------

def _render(mine, scene, seed: int) -> torch.Tensor:
    image = attempt(f"render({S.prompt(scene)!r}, seed={seed})", mine.render, scene, seed)
    if not isinstance(image, torch.Tensor) or image.shape != (3, S.SIZE, S.SIZE) or image.dtype != torch.float32:
        fail(f"render must return a (3, {S.SIZE}, {S.SIZE}) float32 tensor in [-1, 1], like scenes.render; got "
             f"{getattr(image, 'shape', type(image).__name__)} {getattr(image, 'dtype', '')}")
    if not torch.isfinite(image).all() or image.min() < -1 or image.max() > 1:
        fail(f"render({S.prompt(scene)!r}) has values outside [-1, 1]: clip to [0, 1], then scale by 2 x - 1")
    return image


def test_render_keeps_the_six_as_they_were(mine):
    rng = np.random.default_rng(0)
    for k in range(40):
        scene = S.random_scene(rng, "all")
        theirs, yours = S.render(scene, seed=k), _render(mine, scene, k)
        gap = (theirs - yours).abs()
        if gap.max() > 1e-6:
            row, col = divmod(int(gap.amax(0).argmax()), S.SIZE)
            fail(f"render({S.prompt(scene)!r}, seed={k}) differs from scenes.render by up to "
                 f"{gap.max().item():.3g} (at row {row}, column {col}): scenes with the six old objects must come "
                 "out exactly as before. Take the same random draws in the same order as scenes.render (background, "
                 "two per thing, one of light)")


def _scene(word, colour, place, background="snow", partner=None):
    things = (S.Thing(colour, word, place),) + ((partner,) if partner else ())
    return S.Scene(background, things)


def _footprint(art, top: int, left: int, outline: bool = True) -> np.ndarray:
    """Where a sprite placed at (top, left) changes the image: its pixels and, with outline, the ring around them."""
    out = np.zeros((S.SIZE + 2, S.SIZE + 2), bool)  # one spare pixel each side, cut off at the end
    mask = _mask(art)
    h, w = mask.shape
    out[top + 1:top + 1 + h, left + 1:left + 1 + w] = mask
    if outline:
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out[1:-1, 1:-1]


def _where_drawn(mine, word, sprite, place, background, seed, partner=None):
    """(top, left) of the new thing in render's image, found by changing its colour: the pixels that change are
    its '#' and 'l' pixels. Fails when they are not the sprite's, at its place."""
    a = _render(mine, _scene(word, "red", place, background, partner), seed)
    b = _render(mine, _scene(word, "blue", place, background, partner), seed)
    changed = ((a - b).abs() > 1e-6).any(0).numpy()
    if not changed.any():
        fail(f"a red {word} and a blue {word} on the {place} look the same: render does not paint your object in the "
             "thing's colour (or at all)")
    h, w = len(sprite), len(sprite[0])
    row, col = S.CENTRES[place]
    coloured = _mask(sprite, "#l")
    for dr, dc in JITTERS:
        top, left = row - h // 2 + dr, col - w // 2 + dc
        expected = np.zeros_like(changed)
        expected[top:top + h, left:left + w] = coloured
        if (expected == changed).all():
            return top, left, a
    fail(f"changing the colour of a {word} on the {place} changes {changed.sum()} pixels, but SPRITE has "
         f"{coloured.sum()} pixels of the thing's colour ('#' and 'l'), centred on scenes.CENTRES[{place!r}] = "
         f"{S.CENTRES[place]} (top = row - h // 2, left = col - w // 2, each moved by -1, 0 or 1): paint SPRITE there, "
         "'#' in scenes.RGB[colour] and 'l' in the lighter shade, as scenes._paint does")


def test_render_draws_the_new_object(mine, word, sprite):
    test_sprite_fits_the_renderer(sprite)
    for k, (place, background) in enumerate(itertools.product(S.POSITIONS, ("snow", "grass"))):
        top, left, image = _where_drawn(mine, word, sprite, place, background, seed=k)
        ring = _footprint(sprite, top, left) & ~_footprint(sprite, top, left, outline=False)
        if not (image[:, torch.from_numpy(ring)] < -0.7).all():
            fail(f"a red {word} on the {place} ({background}) has no dark outline: scenes draws a one-pixel ring "
                 "around every thing (0.08, or 0.85 for black things), so that every colour shows on every background")


def test_render_leaves_the_rest_of_the_scene(mine, word, sprite):
    """With a second thing, everything but the new thing is drawn as scenes.render draws it with a stand-in."""
    test_sprite_fits_the_renderer(sprite)
    cases = [("left", S.Thing("gold", "fish", "right"), "beach"), ("top", S.Thing("green", "tree", "bottom"), "night"),
             ("right", S.Thing("white", "boat", "left"), "grass"), ("bottom", S.Thing("black", "star", "top"), "snow")]
    for k, (place, partner, background) in enumerate(cases):
        top, left, image = _where_drawn(mine, word, sprite, place, background, seed=10 + k, partner=partner)
        stand_in = next(o for o in S.OBJECTS if o != partner.object)
        theirs = S.render(_scene(stand_in, "red", place, background, partner), seed=10 + k)
        art = S.SPRITES[stand_in]
        row, col = S.CENTRES[place]
        dr, dc = top - (row - len(sprite) // 2), left - (col - len(sprite[0]) // 2)  # the jitter drawn
        theirs_top, theirs_left = row - len(art) // 2 + dr, col - len(art[0]) // 2 + dc
        ours = _footprint(sprite, top, left) | _footprint(art, theirs_top, theirs_left)
        differ = ((image - theirs).abs() > 1e-6).any(0).numpy() & ~ours
        if differ.any():
            r, c = np.argwhere(differ)[0]
            fail(f"in '{S.prompt(_scene(word, 'red', place, background, partner))}' the rest of the scene (background, "
                 f"the {partner.object}, the light) differs from scenes.render's with a {stand_in} in its place, "
                 f"first at row {r}, column {c}: paint your object with the same random draws as the six (two "
                 "rng.integers(-1, 2), rows then columns), so that everything after it is drawn as before")


# ---- captions ---------------------------------------------------------------------------------------

def _swap(scene, word):
    """The scene with `word`'s things given a stand-in object the scene does not use, and that object."""
    other = next(o for o in S.OBJECTS if o not in {t.object for t in scene.things})
    return S.Scene(scene.background, tuple(t._replace(object=other) if t.object == word else t
                                           for t in scene.things)), other


def _expected(scene, word, template):
    """The caption minidiff would write if it knew `word`, and what its parse would read back."""
    swapped, other = _swap(scene, word)
    text = re.sub(rf"\b{other}\b", word, S.caption(swapped, template))
    read = S.parse(S.caption(swapped, template))
    things = tuple(t._replace(object=word) if t.object == other else t for t in read.things)
    return text, S.Scene(read.background, things)


def _new_scenes(word):
    colours = itertools.cycle(S.COLOURS)
    for background, place in itertools.product(S.BACKGROUNDS, S.POSITIONS):
        yield S.Scene(background, (S.Thing(next(colours), word, place),))
    pairs = S.PAIRS + tuple(p[::-1] for p in S.PAIRS)  # left and right, top and bottom, both ways round
    for background, other, pair in itertools.product(S.BACKGROUNDS, S.OBJECTS, pairs):
        a, b = S.Thing(next(colours), word, pair[0]), S.Thing(next(colours), other, pair[1])
        yield S.Scene(background, (a, b))
        yield S.Scene(background, (b, a))


def test_captions_name_it_and_parse_back(mine, word):
    checked = 0
    for scene in _new_scenes(word):
        for template in range(len(S.TWO if len(scene.things) == 2 else S.ONE)):
            text, read = _expected(scene, word, template)
            yours = attempt(f"caption({scene}, template={template})", mine.caption, scene, template)
            if yours != text:
                fail(f"caption({scene}, template={template}) = {yours!r}; expected {text!r}: the templates of "
                     "scenes.TWO and scenes.ONE, filled as scenes.caption fills them, with your word for the object")
            back = attempt(f"parse({text!r})", mine.parse, text)
            if back != read:
                fail(f"parse({text!r}) = {back}; expected {read}: the things in the order the caption names them, "
                     "each with its colour and (where the caption gives one) its place, as scenes.parse reads captions")
            checked += 1
    rng = np.random.default_rng(1)
    for _ in range(100):
        scene = S.random_scene(rng, "all")
        template = int(rng.integers(len(S.TWO if len(scene.things) == 2 else S.ONE)))
        text = S.caption(scene, template)
        same = (attempt("caption", mine.caption, scene, template) == text
                and attempt("parse", mine.parse, text) == S.parse(text))
        if not same:
            fail(f"on a scene of the six old objects, caption or parse disagrees with scenes' ({text!r}): captions "
                 "without your object must stay exactly as they were")
    measured(__file__, f"captions: {checked} captions naming the {word} parse back to their scenes; old ones unchanged")


# ---- a reader: can it tell the new object from the six? ----------------------------------------------

NOISE = 1.0  # the reader sees the outline through noise as strong as the outline itself


def _outlines(images: torch.Tensor, size: int = 12) -> torch.Tensor:
    """(N, 3, 24, 24) renders of one thing -> (N, size * size): where its dark outline is, which shows its shape
    whatever its colour and background, cut out around the outline's middle (so, wherever the thing stands)."""
    v = (images + 1) / 2
    dark = ((v > 0.03) & (v < 0.13)).all(1).numpy()  # (N, 24, 24): the outline (and any dark eye)
    out = []
    for m in dark:
        rows, cols = np.nonzero(m)
        if len(rows) == 0:
            out.append(np.zeros(size * size, np.float32))
            continue
        r, c = (rows.min() + rows.max() + 1) // 2, (cols.min() + cols.max() + 1) // 2
        padded = np.pad(m, size)
        r, c = r + size // 2, c + size // 2  # the window's corner, in the padded map
        out.append(padded[r:r + size, c:c + size].astype(np.float32).ravel())
    return torch.from_numpy(np.stack(out))


def test_a_reader_tells_it_apart(mine, word, sprite):
    """A nearest-centroid reader (a linear classifier): the mean outline of each object over renders of all
    colours, backgrounds and places, then fresh renders seen through noise, each read as the nearest mean."""
    test_sprite_fits_the_renderer(sprite)
    objects = S.OBJECTS + (word,)
    colours = [c for c in S.COLOURS if c != "black"]  # black things have a light outline
    places = minidiff.by_mode(full=S.POSITIONS, fast=("left", "top"))
    shown, fresh = minidiff.by_mode(full=(range(2), range(2, 4)), fast=(range(1), range(1, 2)))

    def renders(seeds):
        images, labels = [], []
        for k, (o, c, bg, p) in enumerate(itertools.product(objects, colours, S.BACKGROUNDS, places)):
            for seed in seeds:
                images.append(_render(mine, S.Scene(bg, (S.Thing(c, o, p),)), 1000 * seed + k))
                labels.append(objects.index(o))
        return _outlines(torch.stack(images)), torch.tensor(labels)

    seen, seen_labels = renders(shown)
    means = torch.stack([seen[seen_labels == k].mean(0) for k in range(len(objects))])  # (7, 144)
    test, truth = renders(fresh)
    test = test + NOISE * torch.randn(test.shape, generator=torch.Generator().manual_seed(0))
    read = torch.cdist(test, means).argmin(1)
    recall = {o: (read[truth == k] == k).double().mean().item() for k, o in enumerate(objects)}
    taken = {o: (read[truth == k] == len(objects) - 1).double().mean().item() for k, o in enumerate(objects[:-1])}
    measured(__file__, f"reader: a nearest-centroid reader of outlines through noise (sd {NOISE:g}) reads "
                       f"{recall[word]:.0%} of fresh {word}s right; the six: "
                       + ", ".join(f"{o} {recall[o]:.0%}" for o in objects[:-1])
                       + f" ({int((truth == 0).sum())} renders each)")
    if recall[word] < 0.85:
        wrong = read[(truth == len(objects) - 1) & (read != len(objects) - 1)]
        confused = objects[int(torch.mode(wrong).values)]
        fail(f"a reader that knows the mean outline of each object reads only {recall[word]:.0%} of rendered "
             f"{word}s as {word}s through noise (most often as a {confused}); the six score about 90% to 100%: give "
             "your object an outline that differs more from the others'")
    worst = max(taken, key=taken.get)
    if taken[worst] > 0.1:
        fail(f"a reader that knows the mean outline of each object takes {taken[worst]:.0%} of rendered {worst}s for "
             f"{word}s: your object's outline is too close to the {worst}'s")
