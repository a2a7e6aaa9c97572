"""The shipped text-to-image models (data/text2image*.pt) and the scene reader: files as recorded, and the
adherence the closing note of issue 12 reports, measured again on a fixed seed small enough for make test."""

import hashlib

import pytest
import torch

from minidiff import pretrained, scenes as S, text2image, train

FILES = ["text2image.pt", "text2image_steps.pt", "text2image_bag.pt", "scene_reader.pt"]


@pytest.mark.parametrize("name", FILES)
def test_shipped_file_matches_its_recorded_sha256(name):
    digest = hashlib.sha256((pretrained.DATA_DIR / name).read_bytes()).hexdigest()
    assert f"{digest}  {name}" in (pretrained.DATA_DIR / "CHECKPOINTS.md").read_text()


@pytest.fixture(scope="module")
def shipped():
    model, tok = pretrained.load_text2image("scenes")
    return model, tok, pretrained.load_scene_reader()


def test_checkpoint_records_its_recipe_and_vocabulary():
    meta = pretrained.text_info("scenes")["meta"]
    recipe = pretrained.text_recipe("scenes")
    assert meta["vocabulary"] == S.vocabulary("templates")  # lesson 10's models read the ten templates
    assert meta["steps"] == 7324 and f"{meta['steps']:,}" in (pretrained.DATA_DIR / "CHECKPOINTS.md").read_text()
    assert meta["encoder"] == recipe["encoder"] and meta["p_uncond"] == recipe["p_uncond"]
    assert meta["batch_size"] == recipe["batch_size"] == 256 and meta["snapshots"] == recipe["snapshots"]


def test_snapshots_are_earlier_weights_of_the_same_network(shipped):
    model, _, _ = shipped
    steps = pretrained.snapshot_steps("scenes")
    assert steps == sorted(steps) and steps[0] == 500
    early, _ = pretrained.load_text2image("scenes", step=steps[0])
    diff = max((a - b).abs().max().item() for a, b in zip(early.parameters(), model.parameters()))
    assert diff > 1e-2  # training moved the weights
    with pytest.raises(ValueError, match="no snapshot at step 123"):
        pretrained.load_text2image("scenes", step=123)


def _adherence(shipped, split, w, seed=0):
    model, tok, reader = shipped
    prompts = S.prompt_set(split, 8, seed=9)
    return text2image.prompt_adherence(model, tok, reader, prompts, n=4, w=w, steps=20,
                                       generator=torch.Generator().manual_seed(seed))


# The shipped model at its best w (w = 3: best on the held-out and goldfish prompts in the evaluation stored
# in the checkpoint, within 3 points of w = 5 on the seen ones), 32 samples per set on this fixed seed, where
# it measured 30 / 32 (seen) and 28 / 32 (held out). The first test guards what the model does (one sample
# of slack for another machine's float rounding); the second, issue 12's targets: 90% seen, 70% held out.
BEST_W = 3.0
REACHED = {"train": 29 / 32, "held_out": 27 / 32}


def test_seen_and_held_out_adherence_at_the_best_w(shipped):
    for split, bar in REACHED.items():
        got = _adherence(shipped, split, BEST_W)
        assert got >= bar, f"{split} adherence {got:.0%} at w = {BEST_W:g}, below the shipped model's {bar:.0%}"


def test_issue_targets_at_the_best_w(shipped):
    seen, held_out = _adherence(shipped, "train", BEST_W), _adherence(shipped, "held_out", BEST_W)
    assert seen >= 0.9 and held_out >= 0.7, f"seen {seen:.0%} (target 90%), held out {held_out:.0%} (target 70%)"


def test_without_guidance_the_caption_is_ignored(shipped):
    # w = 0 is the unconditional model: adherence is what chance gives, far below the guided figure
    assert _adherence(shipped, "train", 0.0) <= 0.15


def test_the_transformer_binds_colours_that_the_bag_of_words_cannot():
    # issue 12: the transformer beats the bag of words on colour-swap prompts by at least 30 points. The
    # bag model trained 8,000 steps, the transformer 7,324: the bag had the larger budget. Measured on this
    # seed: 26 / 32 against 8 / 32 (56 points); the bag cannot tell "a red fish and a blue can" from
    # "a blue fish and a red can", so it is right on about half of the pairs it otherwise draws well.
    reader = pretrained.load_scene_reader()
    prompts = [p for pair in S.swap_pairs(8) for p in pair]
    got = {}
    for name in ("scenes", "scenes_bag"):
        model, tok = pretrained.load_text2image(name)
        got[name] = text2image.prompt_adherence(model, tok, reader, prompts, n=2, w=3.0, steps=20,
                                                generator=torch.Generator().manual_seed(0))
    assert got["scenes"] - got["scenes_bag"] >= 0.3, got
