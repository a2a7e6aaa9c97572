"""Reference solution of homework 3: a crescent moon, drawn and captioned like the six objects of
minidiff.scenes. render copies scenes.render's steps with the sprite table extended; caption and parse
let minidiff do the work on a stand-in object (one the scene or caption does not use) and swap the word."""

import re

import numpy as np
import torch

from minidiff import scenes

WORD = "moon"
SPRITE = ["..###",
          ".##l.",
          "##l..",
          "##l..",
          "##l..",
          "##l..",
          ".##l.",
          "..###"]

SPRITES = {**scenes.SPRITES, WORD: SPRITE}
OBJECTS = scenes.OBJECTS + (WORD,)


def _check(scene: scenes.Scene) -> None:
    # scenes' own check, on the scene with a stand-in for the moon (it knows every other rule)
    scenes.caption(_stand_in(scene)[0])


def _stand_in(scene: scenes.Scene) -> tuple[scenes.Scene, str]:
    """The scene with the moon replaced by one of the six that it does not hold, and that object."""
    used = {t.object for t in scene.things}
    other = next(o for o in scenes.OBJECTS if o not in used)
    things = tuple(t._replace(object=other) if t.object == WORD else t for t in scene.things)
    return scenes.Scene(scene.background, things), other


def _paint(image: np.ndarray, thing: scenes.Thing, rng: np.random.Generator) -> None:
    """scenes._paint with the sprite looked up in SPRITES (the moon included)."""
    art = SPRITES[thing.object]
    h, w = len(art), len(art[0])
    colour = np.array(scenes.RGB[thing.colour])
    shades = {"#": colour, "l": 0.55 * colour + 0.45, "s": np.array((0.75, 0.75, 0.78)),
              "t": np.array((0.45, 0.28, 0.12)), "e": np.array((0.05, 0.05, 0.05))}
    if thing.colour == "white":
        shades["l"] = np.array((0.8, 0.8, 0.8))
    if thing.colour == "black":
        shades["e"] = np.array((0.9, 0.9, 0.9))
    row, col = scenes.CENTRES[thing.position]
    top, left = row - h // 2 + rng.integers(-1, 2), col - w // 2 + rng.integers(-1, 2)
    mask = np.array([[ch != "." for ch in line] for line in art])
    ring = np.zeros((h + 2, w + 2), bool)  # the one-pixel outline: the mask grown by one, minus the mask
    for dr, dc in ((0, 1), (2, 1), (1, 0), (1, 2)):
        ring[dr:dr + h, dc:dc + w] |= mask
    ring[1:-1, 1:-1] &= ~mask
    rows, cols = np.nonzero(ring)
    image[top - 1 + rows, left - 1 + cols] = 0.85 if thing.colour == "black" else 0.08
    for r, line in enumerate(art):
        for c, ch in enumerate(line):
            if ch != ".":
                image[top + r, left + c] = shades[ch]


def render(scene: scenes.Scene, seed: int = 0) -> torch.Tensor:
    """scenes.render, the moon included: the same random draws in the same order."""
    _check(scene)
    rng = np.random.default_rng(seed)
    image = scenes._background(scene.background, rng)
    for thing in scene.things:
        _paint(image, thing, rng)
    image = np.clip(image * (1 + 0.03 * rng.standard_normal()), 0, 1)
    return torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) * 2 - 1)


def caption(scene: scenes.Scene, template: int = 0) -> str:
    """scenes.caption, the moon included."""
    swapped, other = _stand_in(scene)
    return re.sub(rf"\b{other}\b", WORD, scenes.caption(swapped, template))


def parse(text: str) -> scenes.Scene:
    """scenes.parse, the moon included."""
    tokens = scenes.words(text)
    if WORD not in tokens:
        return scenes.parse(text)
    other = next(o for o in scenes.OBJECTS if o not in tokens)
    scene = scenes.parse(re.sub(rf"\b{WORD}\b", other, text.lower()))
    return scenes.Scene(scene.background, tuple(t._replace(object=WORD) if t.object == other else t
                                                for t in scene.things))
