"""Prompt adherence: does an image show what its caption asks for? Read by nets.SceneReader.

A sample adheres to its prompt when the reader finds the background the prompt names (if it names
one) and exactly the things it names: each with its colour and object, and its place when the
prompt gives one, and nothing else.
"""

import torch

from .. import scenes as S
from ...core.nets import _checks
from ..reader import SceneReader, targets


def adheres(seen: S.Scene, wanted: S.Scene) -> bool:
    """True when the scene read off an image (`seen`) has everything `wanted` names (see module doc)."""
    if wanted.background is not None and seen.background != wanted.background:
        return False
    if len(seen.things) != len(wanted.things):
        return False
    left = list(seen.things)
    for w in wanted.things:
        match = next((s for s in left if (w.colour is None or s.colour == w.colour) and s.object == w.object
                      and (w.position is None or s.position == w.position)), None)
        if match is None:
            return False
        left.remove(match)
    return True


def adherence(reader, images: torch.Tensor, prompts) -> torch.Tensor:
    """(B,) bool: whether image i adheres to prompts[i] (a caption string or a Scene; one prompt for all)."""
    _checks.images(images, "adherence", "scenes", (3, S.SIZE, S.SIZE))
    prompts = [prompts] * len(images) if isinstance(prompts, (str, S.Scene)) else list(prompts)
    if len(prompts) != len(images):
        raise ValueError(f"adherence: {len(images)} images but {len(prompts)} prompts")
    wanted = [S.parse(p) if isinstance(p, str) else p for p in prompts]
    seen = reader.read(images)
    return torch.tensor([adheres(s, w) for s, w in zip(seen, wanted)])


def reader_accuracy(reader, images: torch.Tensor, scenes: list) -> dict:
    """The reader's accuracy per attribute on rendered scenes: background, object per place (none
    included), colour where an object stands, and whole scenes read exactly."""
    _checks.images(images, "reader_accuracy", "scenes", (3, S.SIZE, S.SIZE))
    if len(images) != len(scenes) or len(images) == 0:
        raise ValueError(f"reader_accuracy: need as many scenes as images (> 0), got {len(images)} images and "
                         f"{len(scenes)} scenes")
    with torch.no_grad():
        bg, obj, col = SceneReader.split(torch.cat([reader(c) for c in images.split(500)]))
    tb, to, tc = targets(scenes)
    has = tc >= 0
    exact = [adheres(s, w) for s, w in zip(reader.read(images), scenes)]
    return dict(background=(bg.argmax(1) == tb).float().mean().item(),
                object=(obj.argmax(2) == to).float().mean().item(),
                colour=(col.argmax(2) == tc)[has].float().mean().item(),
                scene=sum(exact) / len(exact))


FAILURE_KINDS = ("as asked", "another background", "colours swapped", "right objects, a colour wrong",
                 "an object wrong, missing or extra")


def failure_kind(seen: S.Scene, wanted: S.Scene) -> str:
    """Why a sample does not adhere, one of FAILURE_KINDS, checked in that order: the background first,
    then a wish of two things whose colours came out exchanged ('a red fish and a gold can' for 'a gold
    fish and a red can': the binding error of lesson 10), then right objects with a colour wrong."""
    if adheres(seen, wanted):
        return FAILURE_KINDS[0]
    if wanted.background is not None and seen.background != wanted.background:
        return FAILURE_KINDS[1]
    objects = sorted(t.object for t in seen.things)
    if objects != sorted(t.object for t in wanted.things):
        return FAILURE_KINDS[4]
    if len(wanted.things) == 2 and all(t.colour for t in wanted.things):
        a, b = wanted.things
        swapped = S.Scene(wanted.background, (a._replace(colour=b.colour, position=None),
                                              b._replace(colour=a.colour, position=None)))
        if a.colour != b.colour and adheres(seen, swapped):
            return FAILURE_KINDS[2]
    return FAILURE_KINDS[3]
