"""Lesson 10's text box: typing a prompt or moving w or the seed redraws the samples and the label, which
says how many adhere; an unknown word shows the tokenizer's message and keeps the picture; every
(prompt, w, seed) is computed once."""

import pytest
import torch

from minidiff import params, pretrained, scenes, schedules, text2image, widgets
from minidiff.core.nets import TextUNet
from minidiff.core.text import Tokenizer

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def parts():
    tok = Tokenizer(scenes.vocabulary())
    torch.manual_seed(0)  # untrained: only the wiring is tested here
    net = TextUNet(len(tok), channels=(8, 16), cross_levels=(1,),
                   encoder=dict(kind="transformer", dim=16, heads=2, layers=1, max_len=20))
    model = params.Denoiser(net, schedules.VPLinear(), clip=1.0, sample_shape=(3, 24, 24)).eval()
    return model, tok, pretrained.load_scene_reader()


def explorer(parts, **kwargs):
    kwargs = dict(dict(n=2, steps=2), **kwargs)
    return widgets.prompt_explorer(*parts, **kwargs)


def test_the_explorer_starts_on_the_goldfish_prompt(parts):
    ui = explorer(parts)
    assert ui.image.value[:8] == PNG
    assert ui.label.value.startswith(f"'{scenes.GOLDFISH_PROMPT}', w = 3, seed 0: ")
    assert ui.label.value.endswith(" of 2 samples show what the prompt asks")
    assert ui.values == {"prompt": scenes.GOLDFISH_PROMPT, "w": 3.0, "seed": 0}
    assert ui.image.layout.width == f"{round(2 * 0.9 * ui.dpi)}px"  # shown at its size, not stretched


def test_moving_w_or_the_seed_or_typing_redraws(parts):
    ui = explorer(parts)
    before = ui.image.value
    ui.controls["w"].value = 6.0
    assert ui.image.value != before and ui.label.value.startswith(f"'{scenes.GOLDFISH_PROMPT}', w = 6, seed 0")
    after_w = ui.image.value
    ui.controls["seed"].value = 3
    assert ui.image.value != after_w and "w = 6, seed 3" in ui.label.value
    ui.controls["prompt"].value = "a blue boat at night"
    assert ui.label.value.startswith("'a blue boat at night', w = 6, seed 3")
    ui.controls["prompt"].value = ""
    assert ui.label.value.startswith("the empty caption, w = 6")


def test_the_samples_are_the_library_s(parts):
    ui = explorer(parts, w=2.0, seed=4)
    (images, hits), = ui.cache.values()
    model, tok, reader = parts
    expected = text2image.sample(model, tok, scenes.GOLDFISH_PROMPT, n=2, w=2.0, steps=2,
                                 generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(images, expected)
    assert f": {hits} of 2 samples" in ui.label.value


def test_an_unknown_word_shows_the_message_and_keeps_the_picture(parts):
    ui = explorer(parts)
    before = ui.image.value
    ui.controls["prompt"].value = "a goldfsh on the beach"
    message = "Tokenizer: unknown word 'goldfsh' in 'a goldfsh on the beach'; did you mean"
    assert ui.label.value.startswith(message)
    assert "'gold'" in ui.label.value and ui.error.startswith(ui.label.value)
    # the label is one line: the list of known words goes below it, where it wraps
    assert ui.words.layout.display is None and ui.words.value.startswith("The model knows ")
    assert "goldfsh" not in ui.words.value and ui.words.value in ui.error.replace("&", "&amp;")
    assert ui.image.value == before
    ui.controls["w"].value = 5.0  # still the unknown word: still the message
    assert "unknown word 'goldfsh'" in ui.label.value and ui.image.value == before
    ui.controls["prompt"].value = "a gold fish on the grass"
    assert ui.error is None and ui.label.value.startswith("'a gold fish on the grass', w = 5")
    assert ui.words.layout.display == "none"  # the list goes away with the unknown word
    assert ui.image.value != before


def test_a_setting_seen_before_comes_from_the_cache(parts, monkeypatch):
    ui = explorer(parts)
    first, label = ui.image.value, ui.label.value
    ui.controls["w"].value = 1.0
    assert len(ui.cache) == 2

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled again for a setting already computed")

    monkeypatch.setattr(text2image, "sample", no_sampling)
    ui.controls["w"].value = 3.0
    assert ui.image.value == first and ui.label.value == label and len(ui.cache) == 2
    ui.controls["prompt"].value = "A gold fish and a red can on the beach"  # the same words, the same ids
    assert len(ui.cache) == 2 and "w = 3, seed 0" in ui.label.value


def test_with_a_decoder_the_samples_are_decoded_latents():
    """Lesson 11 uses the same text box on a latent model: the images are the decoder's, not the latents."""
    from minidiff.core.nets import Autoencoder

    tok = Tokenizer(scenes.vocabulary())
    torch.manual_seed(0)
    net = TextUNet(len(tok), in_channels=4, channels=(8, 16), cross_levels=(0, 1),
                   encoder=dict(kind="transformer", dim=16, heads=2, layers=1, max_len=20))
    model = params.Denoiser(net, schedules.VPLinear(), sample_shape=(4, 6, 6)).eval()
    vae = Autoencoder(width=8).eval()
    vae.scale.fill_(0.5)
    ui = widgets.prompt_explorer(model, tok, pretrained.load_scene_reader(), n=2, steps=2, seed=1, decoder=vae)
    (images, _), = ui.cache.values()
    expected = text2image.sample(model, tok, scenes.GOLDFISH_PROMPT, n=2, w=3.0, steps=2,
                                 generator=torch.Generator().manual_seed(1), decoder=vae)
    assert images.shape == (2, 3, 24, 24)  # tests/test_latent.py checks sample's decoding by hand
    torch.testing.assert_close(images, expected)
