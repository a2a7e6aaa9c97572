"""Lesson 11's shipped models (data/autoencoder.pt, clip.pt, clip_plain.pt, latent_text2image.pt): files as
recorded, and the targets of issue 13 measured again on fixed seeds, small enough for make test."""

import hashlib

import pytest
import torch

from minidiff import latent, pretrained, scenes as S, text, text2image

FILES = ["autoencoder.pt", "clip.pt", "clip_plain.pt", "latent_text2image.pt"]


@pytest.mark.parametrize("name", FILES)
def test_shipped_file_matches_its_recorded_sha256(name):
    digest = hashlib.sha256((pretrained.DATA_DIR / name).read_bytes()).hexdigest()
    assert f"{digest}  {name}" in (pretrained.DATA_DIR / "CHECKPOINTS.md").read_text()


@pytest.mark.parametrize("name", sorted(pretrained.LATENT_RECIPES))
def test_each_checkpoint_records_its_recipe_and_cost(name):
    meta = pretrained.latent_info(name)["meta"]
    recipe = pretrained.latent_recipe(name)
    assert meta["name"] == name
    if "captions" in recipe:  # the models that read captions read the grammar's words
        assert meta["vocabulary"] == S.vocabulary() and recipe["captions"] == "grammar"
    assert all(meta[k] == v for k, v in recipe.items() if k != "file")
    assert f"{meta['steps']:,}" in (pretrained.DATA_DIR / "CHECKPOINTS.md").read_text()


@pytest.fixture(scope="module")
def reader():
    return pretrained.load_scene_reader()


@pytest.fixture(scope="module")
def vae():
    return pretrained.load_autoencoder()


def test_reconstructions_of_held_out_scenes_read_as_the_scene(vae, reader):
    # issue 13's target: the reader agrees with the original scene on >= 99% of held-out reconstructions
    # (measured 99.7% on 2,000 by scripts/train_latent.py; 500 here, seed 1: 99.5% or more)
    scores = latent.autoencoder_scores(vae, reader, n=500, seed=1)
    for split in ("train", "held_out"):
        assert scores[split]["agree_original"] == 1.0  # the reader itself is not the limit
        assert scores[split]["agree_reconstruction"] >= 0.99, scores
        assert scores[split]["mse"] < 0.006, scores  # measured 0.0036 (train) and 0.0042 (held out)


def test_the_latent_scale_gives_unit_variance_on_fresh_images(vae):
    x, _ = S.sample_scenes(500, seed=21, split="all")
    with torch.no_grad():
        z = vae.latents(x)
    assert abs(z.std().item() - 1) < 0.1  # issue 13: within 10%
    assert abs(z.mean().item()) < 0.2


def test_retrieval_meets_the_target_and_the_twins_are_what_binds_colours():
    clip, plain = pretrained.load_clip(), pretrained.load_clip(name="clip_plain")
    assert clip.tokenizer.words[2:] == plain.tokenizer.words[2:] == S.vocabulary()  # the whole grammar
    scores = latent.retrieval_scores(clip, clip.tokenizer, k=256, repeats=1, seed=100)
    for suite in ("random", "swaps", "held_out"):
        for direction, (mean, _) in scores[suite].items():
            assert mean >= 0.9, (suite, direction, scores)  # issue 13's target, top-1 in batches of 256
    without = latent.retrieval_scores(plain, plain.tokenizer, k=256, repeats=1, seed=100)
    # trained without the swapped twins, the encoder cannot tell a caption from its twin: about 50%
    # on swaps (a coin flip between the two), while random batches stay easy
    assert max(m for m, _ in without["swaps"].values()) < 0.65, without
    assert min(m for m, _ in without["random"].values()) > 0.9, without


def test_the_latent_denoiser_reads_through_the_frozen_clip_text_encoder():
    model, clip = pretrained.load_latent_denoiser(), pretrained.load_clip()
    assert model.net.config["freeze_encoder"] and model.net.config["encoder"] == clip.text_config
    for (name, a), b in zip(model.net.encoder.state_dict().items(), clip.text.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.fixture(scope="module")
def pipe():
    return latent.load_pipeline("latent")


def test_the_pipeline_is_deterministic_and_its_stages_compose(pipe):
    a = pipe(S.GOLDFISH_PROMPT, n=3, w=3.0, steps=4, generator=torch.Generator().manual_seed(5))
    b = pipe(S.GOLDFISH_PROMPT, n=3, w=3.0, steps=4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(5)
    ids = pipe.tokenizer(pipe.prompts(S.GOLDFISH_PROMPT, 3))
    by_hand = pipe.decode(pipe.denoise(pipe.encode(ids), pipe.noise(3, g), w=3.0, steps=4))
    assert torch.equal(a, by_hand)


def _adherence(pipe, reader, prompts, per_prompt, seed=0):
    return text2image.prompt_adherence(pipe.denoiser, pipe.tokenizer, reader, prompts, n=per_prompt, w=3.0, steps=20,
                                       generator=torch.Generator().manual_seed(seed), decoder=pipe.decoder)


def test_latent_adherence_is_at_least_the_pixel_model_s(pipe, reader):
    # Issue 13: within 5 points of lesson 10's pixel model or better. The pixel model at these settings
    # (w = 3, 20 DDIM steps, seed 0, prompt_set seed 9; tests/test_text2image_shipped.py): 24 / 32 seen,
    # 20 / 32 held out. This file: 28 / 32 seen, 29 / 32 held out, 32 / 32 goldfish. The seen and goldfish
    # bounds are the earlier file's counts less one sample; its held-out bound is the expected failure below.
    seen = _adherence(pipe, reader, S.prompt_set("train", 8, seed=9), 4)
    held = _adherence(pipe, reader, S.prompt_set("held_out", 8, seed=9), 4)
    goldfish = _adherence(pipe, reader, [S.GOLDFISH_PROMPT], 32)
    assert seen * 32 >= 27 and goldfish * 32 >= 31, (seen, held, goldfish)
    assert seen >= 24 / 32 and held >= 20 / 32, (seen, held, goldfish)  # the pixel model's counts


@pytest.mark.xfail(strict=True, reason="the retrain that taught 'tin of cola' lost about 5 points on held-out "
                   "combinations in the plainest wording: 116 / 128 (the file before: 123); data/CHECKPOINTS.md")
def test_latent_adherence_on_held_out_combinations_holds_the_earlier_file_s_count(pipe, reader):
    # The earlier file's count at seed 0 less one sample, 30 of 32, as a share over seeds 0 to 3 (128 samples).
    held = sum(_adherence(pipe, reader, S.prompt_set("held_out", 8, seed=9), 4, seed) for seed in range(4)) / 4
    assert held * 32 >= 30, held


def test_zero_shot_binding_needs_the_colour_swapped_twins():
    # a scene of two colours against its caption and the colours-exchanged caption: chance is 50%
    clip, plain = pretrained.load_clip(), pretrained.load_clip(name="clip_plain")
    with_twins = latent.zero_shot_accuracy(clip, clip.tokenizer, "binding", n=200, seed=3)
    without = latent.zero_shot_accuracy(plain, plain.tokenizer, "binding", n=200, seed=3)
    assert with_twins >= 0.95 and without <= 0.75, (with_twins, without)


@pytest.fixture(scope="module")
def wording(pipe, reader):
    # The wording table as scripts/train_latent.py --evaluate measures it (64 samples a row, w = 3, 20 DDIM
    # steps), on seeds 1 to 4 pooled: 256 samples a row (one table's 64 samples give a 95% interval about
    # 10 points wide, 256 about 5). Measured: seen 250, held-out phrasing 253, held-out combination 253,
    # the goldfish wordings 243 / 254 / 253 / 249 / 255, colour swaps 234 (data/CHECKPOINTS.md).
    tables = [text2image.wording_table(pipe.denoiser, pipe.tokenizer, reader, n=64, w=3.0, steps=20,
                                       generator=torch.Generator().manual_seed(seed), decoder=pipe.decoder)
              for seed in range(1, 5)]
    return {row: sum(t[row][0] for t in tables) / sum(t[row][1] for t in tables) for row in tables[0]}


def test_the_wording_targets_of_issue_26(wording):
    assert wording["seen"] >= 0.95, wording  # seen phrasings at least 95%
    assert wording["held_out_phrasing"] >= 0.85, wording  # held-out phrasings (never in training) at least 85%
    goldfish = [row for row in wording if row.startswith("goldfish: ")]
    assert len(goldfish) == 5 and "goldfish: a goldfish next to a can of cola at the beach" in goldfish
    assert all(wording[row] >= 0.80 for row in goldfish), wording  # each wording 80%, the issue's own included
    assert wording["colour swaps, both orders"] >= 0.90, wording  # binding across word order, 90%
