"""The language of the captioned scenes: a grammar small enough to read in one screen (lessons 10-11).

    captions.say(scene, rng)          # 'on the sand, a golden fish beside the red tin'
    captions.parse("A goldfish next to a can of cola at the beach.")
    # Scene(background='beach', things=(Thing('gold', 'fish', None), Thing('red', 'can', None)))

A caption names one or two things and where the scene is, in either order, a comma or none between:

    caption = place [","] things  |  things [","] place  |  things
    things  = thing [position]
            | thing JOINER thing                    no places said          'a red can beside a fish'
            | thing RELATION thing                  the first one's place   'a star above a tree'
            | thing position "and" thing position                           'a can on the left and ...'
    thing   = [ARTICLE] [colour] object  |  [ARTICLE] compound            'goldfish' is a gold fish

Every slot has the phrasings in the tables below; letter case does not matter and a full stop may end
the caption. Three phrasings (HELD_OUT_PHRASES) never appear in a training caption: they are made of
words the models do see elsewhere ("at night", "on the beach"), so they measure whether a text encoder
reads new wording, not whether it can guess a word it never met. Which *scenes* are held out is a
separate line, drawn in scenes.held_out: a gold fish beside a red can stays unseen in every wording.

Some words mean less than they say, and the lessons say so: a "goldfish" is a fish painted gold (real
ones are orange), "cola" means a red can, "ship" and "sailboat" draw the one boat the world has.
"""

import difflib
import functools
import itertools
import re

import numpy as np

from ..core.text import split_words

from typing import NamedTuple

BACKGROUNDS = ("beach", "grass", "night", "snow")
OBJECTS = ("fish", "can", "ball", "star", "boat", "tree")
COLOURS = ("gold", "red", "blue", "green", "white", "black")
POSITIONS = ("left", "right", "top", "bottom")


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


ARTICLES = ("a", "the", "")
COLOUR_WORDS = {"gold": ("gold", "golden"), "red": ("red",), "blue": ("blue",), "green": ("green",),
                "white": ("white",), "black": ("black",)}
OBJECT_WORDS = {"fish": ("fish",), "can": ("can", "tin"), "ball": ("ball",), "star": ("star",),
                "boat": ("boat", "ship", "sailboat"), "tree": ("tree",)}
COMPOUNDS = {"goldfish": ("gold", "fish"), "cola can": ("red", "can"), "tin of cola": ("red", "can"),
             "can of cola": ("red", "can")}  # 'tin of cola' teaches a colour said after its object
PLACES = {"beach": ("on the beach", "at the beach", "on the sand", "by the sea", "on a beach"),
          "grass": ("on the grass", "in the park", "at the park", "on the lawn"),
          "night": ("at night", "in the dark", "by night"),
          "snow": ("in the snow", "on the snow", "in winter")}
JOINERS = ("and", "with", "next to", "beside", "near", "by")
RELATIONS = {"left": ("to the left of", "left of", "on the left of"),  # said of the first thing named
             "right": ("to the right of", "right of", "on the right of"),
             "top": ("above", "over", "at the top of", "on top of"),
             "bottom": ("below", "under", "beneath", "at the bottom of")}
POSITION_PHRASES = {"left": ("on the left",), "right": ("on the right",), "top": ("on the top", "at the top", "on top"),
                    "bottom": ("on the bottom", "at the bottom")}
HELD_OUT_PHRASES = ("at the beach", "on top of", "can of cola")  # never in a training caption
OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


# ---- saying a scene ------------------------------------------------------------------------------

def _names(colour: str, object_: str) -> list[str]:
    """Every way to name one thing without its article: 'gold fish', 'golden fish', 'goldfish'."""
    out = [f"{c} {o}" for c in COLOUR_WORDS[colour] for o in OBJECT_WORDS[object_]]
    return out + [w for w, meaning in COMPOUNDS.items() if meaning == (colour, object_)]


def _things_phrases(things: tuple) -> list[tuple[str, ...]]:
    """Every way to say the things, as lists of parts to be joined by spaces (articles left as slots)."""
    if len(things) == 1:
        (a,) = things
        return [(a,)] + [(a, p) for p in POSITION_PHRASES[a.position]]
    a, b = things
    out = [(a, j, b) for j in JOINERS] + [(a, r, b) for r in RELATIONS[a.position]]
    return out + [(a, pa, "and", b, pb) for pa in POSITION_PHRASES[a.position] for pb in POSITION_PHRASES[b.position]]


def _uses_held_out(text: str) -> bool:
    return any(re.search(rf"\b{p}\b", text) for p in HELD_OUT_PHRASES)


def phrasings(scene: Scene, which: str = "all"):
    """Every caption the grammar gives `scene` (in lower case), in a fixed order: 'all', 'seen' (no
    held-out phrase, what training draws from) or 'held_out' (at least one held-out phrase). Both orders
    of two things are said; a scene of two things has about 20,000 to 40,000."""
    if which not in ("all", "seen", "held_out"):
        raise ValueError(f"phrasings: which must be 'all', 'seen' or 'held_out', got {which!r}")
    for order in ((scene.things,) if len(scene.things) == 1 else (scene.things, scene.things[::-1])):
        for parts in _things_phrases(order):
            slots = [[f"{art} {n}".strip() for art in ARTICLES for n in _names(p.colour, p.object)]
                     if isinstance(p, Thing) else [p] for p in parts]
            for words in itertools.product(*slots):
                things = " ".join(words)
                for place in PLACES[scene.background]:
                    for text in (f"{place}, {things}", f"{place} {things}", f"{things} {place}",
                                 f"{things}, {place}"):
                        if which == "all" or _uses_held_out(text) == (which == "held_out"):
                            yield text


def say(scene: Scene, rng: np.random.Generator, phrasing: str = "seen") -> str:
    """One caption of `scene`, drawn slot by slot: 'seen' uses only the phrasings training sees,
    'held_out' puts in every held-out phrase that fits the scene (and refuses a scene none fits)."""
    if phrasing not in ("seen", "held_out"):
        raise ValueError(f"say: phrasing must be 'seen' or 'held_out', got {phrasing!r}")

    def pick(options):
        held = [o for o in options if o in HELD_OUT_PHRASES]
        if phrasing == "held_out" and held:
            return held[int(rng.integers(len(held)))]
        options = [o for o in options if o not in HELD_OUT_PHRASES]
        return options[int(rng.integers(len(options)))]

    things = scene.things if len(scene.things) == 1 or rng.random() < 0.5 else scene.things[::-1]
    if len(things) == 1:
        form = (things[0],) if rng.random() < 0.6 else (things[0], pick(POSITION_PHRASES[things[0].position]))
    else:
        a, b, u = things[0], things[1], rng.random()
        if phrasing == "held_out" and a.position == "top":
            u = 0.6  # the held-out relation is one of places
        if u < 0.5:
            form = (a, pick(JOINERS), b)
        elif u < 0.8:
            form = (a, pick(RELATIONS[a.position]), b)
        else:
            form = (a, pick(POSITION_PHRASES[a.position]), "and", b, pick(POSITION_PHRASES[b.position]))
    words = []
    for part in form:
        if isinstance(part, Thing):
            article = ARTICLES[int(rng.choice(3, p=(0.6, 0.2, 0.2)))]
            words.append(f"{article} {pick(_names(part.colour, part.object))}".strip())
        else:
            words.append(part)
    said, place = " ".join(words), pick(PLACES[scene.background])
    text = [f"{place}, {said}", f"{place} {said}", f"{said} {place}", f"{said}, {place}"][
        int(rng.choice(4, p=(0.35, 0.15, 0.4, 0.1)))]
    if phrasing == "held_out" and not _uses_held_out(text):
        raise ValueError(f"say: no held-out phrase ({', '.join(HELD_OUT_PHRASES)}) fits {scene}; choose a scene "
                         "on the beach, with a red can, or with a thing above another")
    return text


# ---- reading a caption -----------------------------------------------------------------------------

@functools.cache
def _lexicon() -> dict:
    """{phrase as a tuple of words: (kind, value)}: every multi-word unit the parser looks for."""
    table = {}
    for bg, options in PLACES.items():
        table.update({tuple(p.split()): ("place", bg) for p in options})
    for position, options in RELATIONS.items():
        table.update({tuple(p.split()): ("relation", position) for p in options})
    for position, options in POSITION_PHRASES.items():
        table.update({tuple(p.split()): ("position", position) for p in options})
    table.update({tuple(j.split()): ("joiner", None) for j in JOINERS})
    for colour, options in COLOUR_WORDS.items():
        table.update({(w,): ("colour", colour) for w in options})
    for object_, options in OBJECT_WORDS.items():
        table.update({(w,): ("object", object_) for w in options})
    table.update({tuple(c.split()): ("compound", meaning) for c, meaning in COMPOUNDS.items()})
    table.update({(a,): ("article", None) for a in ARTICLES if a} | {(",",): ("comma", None)})
    return table


def vocabulary() -> list[str]:
    """Every word the grammar uses, sorted (the comma included): what a tokenizer for it must know."""
    return list(_words())


@functools.cache
def _words() -> tuple:
    return tuple(sorted({w for phrase in _lexicon() for w in phrase}))


def check_words(text: str, where: str = "parse") -> list[str]:
    """The caption's words, refusing any word the grammar does not use (a dropped word would make
    "a purple fish on the moon" ask for any fish anywhere)."""
    tokens, known = split_words(text, where), _words()
    unknown = list(dict.fromkeys(w for w in tokens if w not in known))
    if unknown:
        near = {w: difflib.get_close_matches(w, known, n=2, cutoff=0.5) for w in unknown}
        hints = [f"{' or '.join(repr(m) for m in near[w])} for {w!r}" for w in unknown if near[w]]
        hint = f"; did you mean {', '.join(hints)}?" if hints else "."
        raise ValueError(f"{where}: unknown word{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(w) for w in unknown)} in {text!r}{hint} The scenes can draw "
                         f"colours {', '.join(COLOURS)}; objects {', '.join(OBJECTS)} (also {', '.join(COMPOUNDS)}); "
                         f"places {', '.join(BACKGROUNDS)}. All {len(known)} words: {' '.join(known)}")
    return tokens


def _chunks(tokens: list[str], text: str, where: str) -> list[tuple]:
    """The caption cut into the lexicon's units, longest first: 'on the left of' before 'on the left'."""
    longest, out, i = max(map(len, _lexicon())), [], 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            unit = _lexicon().get(tuple(tokens[i:i + n]))
            if unit:
                out.append(unit)
                i += n
                break
        else:
            raise ValueError(f"{where}: cannot read {' '.join(tokens[i:i + 3])!r} in {text!r}: the words are known but "
                             "not in this order; see minidiff.captions for the grammar (e.g. 'a red can on the left')")
    return out


def parse(text: str, where: str = "parse") -> Scene:
    """What a caption asks for, as a Scene whose unnamed parts are None: the background (None when the
    caption names none), and the things in the order named, each with position None unless placed.
    An unknown word, a colour with no object, three things or two places is an error that says so."""
    background, things, colour, pending = None, [], None, None
    for kind, value in _chunks(check_words(text, where), text, where):
        if kind == "place":
            if background not in (None, value):
                raise ValueError(f"{where}: {text!r} names two places ({background}, {value}); a scene has one")
            background = value
        elif kind == "colour":
            colour = value
        elif kind in ("object", "compound"):
            if kind == "compound" and colour not in (None, value[0]):
                raise ValueError(f"{where}: {text!r} asks for a {colour} thing that is {value[0]} by name; "
                                 "drop one of the two colours")
            things.append([colour if kind == "object" else value[0], value if kind == "object" else value[1], pending])
            colour, pending = None, None
        elif colour is not None:
            raise ValueError(f"{where}: in {text!r} the colour {colour!r} names no object; say 'a {colour} fish'")
        if kind == "position" and things:
            things[-1][2] = value
        elif kind == "relation" and things:
            things[-1][2], pending = value, OPPOSITE[value]
    if colour is not None:
        raise ValueError(f"{where}: in {text!r} the colour {colour!r} names no object; say 'a {colour} fish'")
    if len(things) > 2:
        raise ValueError(f"{where}: {text!r} names {len(things)} things; a scene holds one or two")
    return Scene(background, tuple(Thing(*t) for t in things))
