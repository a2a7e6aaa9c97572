"""metrics.scenes: adheres() case by case, adherence() through the shipped reader on rendered scenes
(own prompts against colour-swapped ones), and reader_accuracy() through readers whose answers are known."""

import pytest
import torch

from minidiff import pretrained
from minidiff import scenes as S
from minidiff.worlds.metrics.scenes import adherence, adheres, reader_accuracy
from minidiff.worlds.reader import N_BG, N_COL, N_OBJ, SceneReader, targets

Th, Sc = S.Thing, S.Scene
SEEN = Sc("beach", (Th("gold", "fish", "left"), Th("red", "can", "right")))


@pytest.mark.parametrize("wanted, ok", [
    (Sc("beach", (Th("gold", "fish", None), Th("red", "can", None))), True),  # right, places not named
    (Sc("beach", (Th("red", "can", None), Th("gold", "fish", None))), True),  # named in the other order
    (Sc("beach", (Th("gold", "fish", "left"), Th("red", "can", "right"))), True),  # places named, right
    (Sc(None, (Th("gold", "fish", None), Th("red", "can", None))), True),  # no background named
    (Sc("beach", (Th("gold", "fish", "right"), Th("red", "can", "left"))), False),  # places named, wrong
    (Sc("beach", (Th("gold", "fish", "left"), Th("red", "can", None))), True),  # one place named
    (Sc("beach", (Th("gold", "fish", "right"), Th("red", "can", None))), False),
    (Sc("beach", (Th("blue", "fish", None), Th("red", "can", None))), False),  # wrong colour
    (Sc("beach", (Th("red", "fish", None), Th("gold", "can", None))), False),  # colours swapped
    (Sc("grass", (Th("gold", "fish", None), Th("red", "can", None))), False),  # wrong background
    (Sc("beach", (Th("gold", "fish", None),)), False),  # the can is extra
    (Sc("beach", (Th("gold", "fish", None), Th("red", "can", None), Th("blue", "ball", None))), False),  # missing
    (Sc("beach", (Th("gold", "fish", None), Th("red", "boat", None))), False),  # wrong object
    (Sc("beach", (Th("gold", "fish", None), Th("gold", "fish", None))), False),  # one fish cannot count twice
    (Sc("beach", (Th(None, "fish", None), Th(None, "can", None))), True),  # colours not named
])
def test_adheres_by_hand(wanted, ok):
    assert adheres(SEEN, wanted) is ok


def test_adheres_agrees_with_parse_of_captions():
    assert adheres(SEEN, S.parse(S.GOLDFISH_PROMPT))
    assert adheres(SEEN, S.parse("on the beach, a red can to the right of a gold fish"))
    assert not adheres(SEEN, S.parse("on the beach, a red can to the left of a gold fish"))
    assert not adheres(SEEN, S.parse("a red fish and a gold can on the beach"))


@pytest.fixture(scope="module")
def reader():
    return pretrained.load_scene_reader()


def swapped(scene):
    a, b = scene.things
    return Sc(scene.background, (Th(b.colour, a.object, None), Th(a.colour, b.object, None)))


def test_adherence_is_one_on_own_prompts_and_zero_on_colour_swapped_ones(reader):
    images, scenes = S.sample_scenes(300, seed=31, split="all")
    # two things differing in colour and in object: swapping their colours makes another scene
    two = [i for i, s in enumerate(scenes) if len(s.things) == 2 and s.things[0].colour != s.things[1].colour
           and s.things[0].object != s.things[1].object]
    own = adherence(reader, images, [S.prompt(s) for s in scenes])  # strings, places named
    assert own.dtype == torch.bool and own.shape == (300,)
    assert own.float().mean() >= 0.98, own.float().mean()
    loose = adherence(reader, images, [S.prompt(Sc(s.background, tuple(t._replace(position=None) for t in s.things)))
                                       for s in scenes])  # places not named: at least as often right
    assert loose.float().mean() >= own.float().mean()
    assert len(two) > 120
    swap = adherence(reader, images[two], [swapped(scenes[i]) for i in two])  # Scenes, not strings
    assert swap.float().mean() <= 0.02, swap.float().mean()


def test_adherence_wiring():
    class Fixed:  # a reader that always reads SEEN
        def read(self, images):
            return [SEEN] * len(images)

    images = torch.zeros(3, 3, S.SIZE, S.SIZE)
    assert adherence(Fixed(), images, S.GOLDFISH_PROMPT).tolist() == [True] * 3  # one prompt for all
    got = adherence(Fixed(), images, [S.GOLDFISH_PROMPT, "a red can on the beach", SEEN])
    assert got.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="3 images but 2 prompts"):
        adherence(Fixed(), images, [S.GOLDFISH_PROMPT] * 2)


class Oracle(SceneReader):
    """A reader whose logits are the right answers (looked up by image), optionally with the background
    read one place off: its accuracies are known in advance."""

    def __init__(self, images, scenes, shift_background: int = 0):
        super().__init__(width=2, hidden=2)
        self.answers = {img.numpy().tobytes(): s for img, s in zip(images, scenes)}
        self.shift = shift_background

    def forward(self, x):
        scenes = [self.answers[img.numpy().tobytes()] for img in x]
        bg, obj, col = targets(scenes)
        logits = torch.cat([torch.nn.functional.one_hot((bg + self.shift) % N_BG, N_BG),
                            torch.nn.functional.one_hot(obj, N_OBJ).flatten(1),
                            torch.nn.functional.one_hot(col.clamp(min=0), N_COL).flatten(1)], 1)
        return logits.float()


def test_reader_accuracy_on_readers_with_known_answers(reader):
    images, scenes = S.sample_scenes(120, seed=32, split="all")
    perfect = reader_accuracy(Oracle(images, scenes), images, scenes)
    assert perfect == dict(background=1.0, object=1.0, colour=1.0, scene=1.0)
    off = reader_accuracy(Oracle(images, scenes, shift_background=1), images, scenes)
    assert off == dict(background=0.0, object=1.0, colour=1.0, scene=0.0)
    real = reader_accuracy(reader, images, scenes)
    assert set(real) == {"background", "object", "colour", "scene"}
    assert all(0.97 <= v <= 1 for v in real.values()), real
    # an untrained reader is near chance on backgrounds and almost never reads a whole scene
    torch.manual_seed(0)
    untrained = reader_accuracy(SceneReader(width=4, hidden=8).eval(), images, scenes)
    assert all(0 <= v <= 1 for v in untrained.values()) and untrained["scene"] < 0.1


def test_failure_kinds_name_what_went_wrong():
    from minidiff.worlds.metrics.scenes import FAILURE_KINDS, failure_kind

    wish = S.parse(S.GOLDFISH_PROMPT)  # a gold fish and a red can on the beach, places not said

    def scene(bg, *things):
        return S.Scene(bg, tuple(S.Thing(c, o, p) for c, o, p in things))

    cases = [
        (scene("beach", ("red", "can", "left"), ("gold", "fish", "right")), "as asked"),
        (scene("night", ("gold", "fish", "left"), ("red", "can", "right")), "another background"),
        (scene("beach", ("red", "fish", "left"), ("gold", "can", "right")), "colours swapped"),
        (scene("beach", ("gold", "fish", "left"), ("blue", "can", "right")), "right objects, a colour wrong"),
        (scene("beach", ("gold", "fish", "left"), ("gold", "can", "right")), "right objects, a colour wrong"),
        (scene("beach", ("gold", "fish", "left"), ("red", "ball", "right")), "an object wrong, missing or extra"),
        (scene("beach", ("gold", "fish", "left"),), "an object wrong, missing or extra"),
    ]
    for seen, kind in cases:
        assert failure_kind(seen, wish) == kind, (seen, kind)
    assert {k for _, k in cases} == set(FAILURE_KINDS)
