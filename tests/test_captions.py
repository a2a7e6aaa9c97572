"""captions: the grammar of the scenes' language. Every production of the grammar is parsed back to the
scene it was said of; the held-out phrasings never reach a training caption, yet are made of words
training does see; words outside the world are refused by name."""

import re

import numpy as np
import pytest

from minidiff import captions as C
from minidiff import scenes as S
from minidiff.core.text import Tokenizer

T = S.Thing
SCENES = [  # compounds and synonyms of both kinds, every background, both layouts, one thing and two
    S.Scene("beach", (T("gold", "fish", "left"), T("red", "can", "right"))),
    S.Scene("snow", (T("blue", "boat", "top"), T("gold", "can", "bottom"))),
    S.Scene("night", (T("red", "can", "bottom"), T("white", "star", "top"))),
    S.Scene("grass", (T("green", "tree", "right"), T("black", "ball", "left"))),
    S.Scene("beach", (T("gold", "fish", "top"),)),
    S.Scene("grass", (T("red", "can", "left"),)),
]


def agrees(read: S.Scene, scene: S.Scene) -> bool:
    """The caption's reading fits the scene: its background, its things in some order with their
    colour and object, and every place the caption says is where the thing stands."""
    if read.background != scene.background or len(read.things) != len(scene.things):
        return False
    for order in (scene.things, scene.things[::-1]):
        if all(r.colour == s.colour and r.object == s.object and r.position in (None, s.position)
               for r, s in zip(read.things, order)):
            return True
    return False


@pytest.mark.parametrize("scene", SCENES, ids=lambda s: f"{s.background}-{len(s.things)}")
def test_every_production_of_the_grammar_is_read_back_as_its_scene(scene):
    texts = list(C.phrasings(scene))
    assert len(texts) == len(set(texts)) > 100
    tok = Tokenizer(C.vocabulary())  # max_len 20: <start> and 19 words, what the models take
    for text in texts:
        assert agrees(C.parse(text), scene), text
        assert len(C.split_words(text)) <= tok.max_len - 1, text
    # letter case and a full stop change nothing
    for text in texts[::997]:
        assert C.parse(text.upper() + ".") == C.parse(text) == C.parse(text.capitalize() + "!")
        assert tok([text.upper() + "."]).tolist() == tok([text]).tolist()


def test_the_grammar_uses_every_phrase_of_every_table():
    said = set()
    for scene in SCENES + [S.Scene(bg, (T("gold", "fish", "left"), T("red", "can", "right"))) for bg in S.BACKGROUNDS]:
        said |= set(C.phrasings(scene))
    text = " | ".join(said)
    tables = [C.ARTICLES[:2], C.JOINERS, *C.PLACES.values(), *C.RELATIONS.values(), *C.POSITION_PHRASES.values(),
              *C.COLOUR_WORDS.values(), C.COMPOUNDS]
    for table in tables:
        for phrase in table:
            assert re.search(rf"\b{phrase}\b", text), phrase
    assert set(C.vocabulary()) == {w for t in said for w in C.split_words(t)}


def test_training_captions_never_use_a_held_out_phrase_but_use_every_other():
    rng, said = np.random.default_rng(0), []
    _, scenes = S.sample_scenes(3000, seed=5, split="train")
    said = [C.say(s, rng) for s in scenes]
    text = " | ".join(said)
    for phrase in C.HELD_OUT_PHRASES:
        assert not re.search(rf"\b{phrase}\b", text), phrase
    seen_phrases = [p for table in (C.JOINERS, *C.PLACES.values(), *C.RELATIONS.values(),
                                    *C.POSITION_PHRASES.values(), C.COMPOUNDS) for p in table
                    if p not in C.HELD_OUT_PHRASES]
    missing = [p for p in seen_phrases if not re.search(rf"\b{p}\b", text)]
    assert not missing, missing
    # a held-out phrase is new wording, never a new word: each of its words is in training captions
    words = {w for t in said for w in C.split_words(t)}
    assert {w for p in C.HELD_OUT_PHRASES for w in p.split()} <= words
    assert words == set(C.vocabulary())  # and every word of the grammar is trained
    # every caption says its own scene
    assert all(agrees(C.parse(t), s) for t, s in zip(said, scenes))


def test_held_out_captions_hold_a_held_out_phrase_and_say_their_scene():
    rng = np.random.default_rng(1)
    for kind in ("held_out_phrasing", "held_out_both"):
        prompts = S.wording_prompts(kind, 40, seed=3)
        assert all(any(re.search(rf"\b{p}\b", t) for p in C.HELD_OUT_PHRASES) for t in prompts)
        combos = [S.held_out(S.Scene(r.background, tuple(x._replace(position="left") for x in r.things)))
                  for r in map(C.parse, prompts)]
        assert all(combos) if kind == "held_out_both" else not any(combos)
    assert not any(re.search(rf"\b{p}\b", t) for t in S.wording_prompts("seen", 40) for p in C.HELD_OUT_PHRASES)
    with pytest.raises(ValueError, match="no held-out phrase"):
        C.say(S.Scene("snow", (T("blue", "fish", "left"),)), rng, "held_out")
    assert S.wording_prompts("seen", 8, seed=2) == S.wording_prompts("seen", 8, seed=2)


def test_the_goldfish_stays_held_out_in_every_wording():
    for text in S.GOLDFISH_WORDINGS:
        read = C.parse(text)
        assert read.background == "beach" and {(t.colour, t.object) for t in read.things} == {("gold", "fish"), ("red", "can")}
        placed = S.Scene("beach", tuple(t._replace(position=p) for t, p in zip(read.things, ("left", "right"))))
        assert S.held_out(placed)
    assert C.parse(S.GOLDFISH_WORDINGS[1]) == C.parse(S.GOLDFISH_PROMPT)


def test_the_ten_templates_of_lesson_10_are_part_of_the_grammar():
    assert set(S.vocabulary("templates")) < set(C.vocabulary()) and S.vocabulary() == C.vocabulary()
    _, scenes = S.sample_scenes(200, seed=13, split="all")
    for scene in scenes:
        for k in range(len(S.TWO if len(scene.things) == 2 else S.ONE)):
            assert agrees(C.parse(S.caption(scene, k)), scene), S.caption(scene, k)


def test_colour_swapped_prompts_differ_only_in_which_colour_goes_where():
    prompts = S.binding_prompts(4, seed=1)
    assert len(prompts) == 16
    for i in range(0, 16, 4):
        a, a2, b, b2 = map(C.parse, prompts[i:i + 4])
        assert a == a2 and b == b2 and sorted(prompts[i].split()) == sorted(prompts[i + 2].split())
        assert [t.object for t in a.things] == [t.object for t in b.things]
        assert [t.colour for t in a.things] == [t.colour for t in b.things][::-1]


@pytest.mark.parametrize("text, words", [
    ("a goldfish sipping Coca-Cola on a beach", ["'sipping'", "'coca'", "'-'"]),
    ("a purple fish on the moon", ["'purple'", "'moon'"]),
])
def test_words_the_world_cannot_draw_are_refused_by_name(text, words):
    with pytest.raises(ValueError) as e:
        C.parse(text)
    message = str(e.value)
    assert all(w in message for w in words) and "objects fish, can, ball" in message


@pytest.mark.parametrize("text, says", [
    ("a red goldfish on the sand", "gold by name"),
    ("a red and a blue fish", "names no object"),
    ("a fish, a can and a tree", "names 3 things"),
    ("a fish on the beach in the snow", "two places"),
    ("a blue fish red", "names no object"),
    ("the of on fish", "not in this order"),
    (["a red can"], "must be a string"),
])
def test_captions_the_grammar_cannot_read_say_why(text, says):
    with pytest.raises(ValueError, match=says):
        C.parse(text)
    with pytest.raises(ValueError, match="phrasing must be"):
        C.say(SCENES[0], np.random.default_rng(0), "unseen")
