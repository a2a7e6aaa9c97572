"""Homework 3: a seventh object for the captioned scenes of lesson 10.

The scene world (minidiff/worlds/scenes.py) knows six objects: fish, can, ball, star, boat, tree. Each is
a word in the captions and a small piece of pixel art (scenes.SPRITES) painted in a colour, with a
one-pixel outline, at one of four places of a 24 x 24 image. Add a seventh from outside minidiff: a
word, a sprite, and the three functions that know about objects, render, caption and parse, written
so that scenes with only the six old objects come out exactly as minidiff's own functions make them
(a model trained on the old scenes must find nothing changed), and scenes with yours come out in the
same style. The grader checks all of that, and whether a simple reader can tell your object from
the six:

    make homework ASSIGNMENT=03_scene_object

minidiff.scenes has no way to take a seventh sprite (yet), so build on its pieces: SIZE, CENTRES, RGB,
SPRITES, OBJECTS, Scene, Thing, render, caption, parse, words, and, for the background,
scenes._background(name, rng), a private helper but the one piece you would otherwise have to copy.
Read scenes.render and scenes._paint first: yours must take the same random draws in the same order.
"""

import numpy as np  # noqa: F401  (you will want both)
import torch  # noqa: F401

from minidiff import scenes

# The object's name in captions: one lower-case word that no caption uses yet (not a colour, a place,
# a background or one of the six).
WORD: str = None  # TODO, e.g. "moon"

# Pixel art in scenes.SPRITES' alphabet, one string per row, all rows as long: '.' nothing, '#' the
# thing's colour, 'l' a lighter shade of it, 's' silver, 't' trunk brown, 'e' a dark eye.
# At most 8 x 8 (the largest of the six): two things stand 11 pixels apart.
SPRITE: list[str] = None  # TODO


def render(scene: scenes.Scene, seed: int = 0) -> torch.Tensor:
    """scenes.render for scenes whose things may be your object: a (3, SIZE, SIZE) float32 image in [-1, 1].

    Step by step as scenes.render: rng = np.random.default_rng(seed); the background; each thing in
    order (its sprite centred on scenes.CENTRES[position] and moved by two draws of rng.integers(-1, 2),
    rows then columns; the outline; the shades of '#', 'l', 's', 't', 'e'); then one draw of light,
    image * (1 + 0.03 * rng.standard_normal()), clipped to [0, 1] and scaled to [-1, 1]."""
    raise NotImplementedError


def caption(scene: scenes.Scene, template: int = 0) -> str:
    """scenes.caption for scenes whose things may be your object ('a red moon and a gold fish at night')."""
    raise NotImplementedError


def parse(text: str) -> scenes.Scene:
    """scenes.parse for captions that may name your object: what the caption asks for, as a Scene whose
    unnamed parts are None (scenes.parse's docstring), your object included."""
    raise NotImplementedError
