"""latent: colour-swapped twins and the retrieval batches (checked against the scenes module's own
rules), the measurements against direct computations, TextUNet's frozen encoder, and the
TextToImage pipeline with a tiny untrained denoiser and autoencoder: reproducible, equal to its
stages run by hand and to a one-step DDIM written out, and refusing bad input before sampling."""

from collections import Counter

import numpy as np
import pytest
import torch

from minidiff import latent, scenes as S, text2image, train
from minidiff.core.guidance import ClassifierFree
from minidiff.worlds.metrics.scenes import adheres
from minidiff.core.nets.autoencoder import Autoencoder
from minidiff.core.nets.text_unet import TextUNet
from minidiff.core.params import Denoiser
from minidiff.core.samplers import SAMPLERS, run
from minidiff.core.schedules import VPLinear, uniform_grid
from minidiff.core.text import Tokenizer

TOK = Tokenizer(S.vocabulary())
ENCODER = dict(kind="transformer", dim=16, heads=2, layers=1, max_len=20)
PROMPTS = ["a gold fish and a red can on the beach", "at night, a white star"]


def tiny_net(in_channels: int = 4, seed: int = 0, freeze: bool = False) -> TextUNet:
    torch.manual_seed(seed)
    return TextUNet(len(TOK), in_channels=in_channels, channels=(8, 16), cross_levels=(1,), encoder=ENCODER,
                    groups=4, heads=2, freeze_encoder=freeze)


def tiny_vae(seed: int = 0, **kwargs) -> Autoencoder:
    torch.manual_seed(seed)
    vae = Autoencoder(width=8, **kwargs)
    with torch.no_grad():
        vae.scale.fill_(0.5)  # not 1, so that a forgotten division shows
    return vae


def tiny_pipeline(decoder: bool = True, freeze: bool = True) -> latent.TextToImage:
    if decoder:
        model = Denoiser(tiny_net(4, freeze=freeze), VPLinear(0.1, 20.0), sample_shape=(4, 6, 6))
        return latent.TextToImage(TOK, model, tiny_vae())
    model = Denoiser(tiny_net(3, freeze=freeze), VPLinear(0.1, 20.0), sample_shape=(3, 8, 8))
    return latent.TextToImage(TOK, model, None)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def two_things(bg, a, b, pa="left", pb="right") -> S.Scene:
    return S.Scene(bg, (S.Thing(*a, pa), S.Thing(*b, pb)))


# ---- swapped twins ------------------------------------------------------------------------------------

def test_swapped_twin_exchanges_the_colours_and_nothing_else():
    scene = two_things("grass", ("red", "fish"), ("blue", "can"), "top", "bottom")
    twin = latent.swapped_twin(scene)
    assert twin == two_things("grass", ("blue", "fish"), ("red", "can"), "top", "bottom")
    assert latent.swapped_twin(twin) == scene  # the twin's twin is the scene
    assert twin.combination() != scene.combination()
    assert latent.swapped_twin(S.Scene("snow", (S.Thing("red", "fish", "left"),))) is None  # one thing
    assert latent.swapped_twin(two_things("snow", ("red", "fish"), ("red", "can"))) is None  # one colour


def test_swapped_twins_stay_on_their_side_of_the_split():
    rng = np.random.default_rng(0)
    scenes = [S.random_scene(rng, "all") for _ in range(300)]
    twins = latent.swapped_twins(scenes, seed=1, split="train")
    expected = [i for i, s in enumerate(scenes)
                if latent.swapped_twin(s) is not None and not S.held_out(latent.swapped_twin(s))]
    assert sorted(twins) == expected  # every scene whose twin is a training scene, and only those
    left_out = [i for i, s in enumerate(scenes) if latent.swapped_twin(s) is not None and i not in twins]
    assert left_out and all(S.held_out(latent.swapped_twin(scenes[i])) for i in left_out)  # not vacuous
    # each entry is the twin and an image of it, drawn in order from the seed
    seeds = np.random.default_rng(1)
    for i in expected:
        twin, image = twins[i]
        assert twin == latent.swapped_twin(scenes[i])
        assert torch.equal(image, S.render(twin, int(seeds.integers(2**31))))
    held = latent.swapped_twins(scenes, seed=1, split="held_out")
    assert set(held) == set(left_out) and all(S.held_out(t) for t, _ in held.values())
    with pytest.raises(ValueError, match=r"swapped_twins: split must be 'train' or 'held_out', got 'all'"):
        latent.swapped_twins(scenes, split="all")


# ---- retrieval batches --------------------------------------------------------------------------------

BOTTOM = {"beach": (0.93, 0.83, 0.58), "grass": (0.33, 0.62, 0.22), "night": (0.05, 0.07, 0.22),
          "snow": (0.95, 0.96, 0.99)}  # the bottom row's colour of each background (scenes._background)


def background_of(image: torch.Tensor) -> str:
    """The background whose ground colour is nearest the image's bottom row (no thing reaches it)."""
    rgb = ((image[:, -1, :] + 1) / 2).median(dim=1).values
    return min(BOTTOM, key=lambda b: (rgb - torch.tensor(BOTTOM[b])).abs().sum().item())


def test_retrieval_batch_gives_k_distinct_pairs_each_caption_fitting_only_its_image():
    images, captions, scenes = latent.retrieval_batch(12, seed=3)
    assert images.shape == (12, 3, 24, 24) and len(captions) == len(scenes) == 12
    assert len({s.combination() for s in scenes}) == 12
    for i, caption in enumerate(captions):
        wanted = S.parse(caption)
        assert [j for j, s in enumerate(scenes) if adheres(s, wanted)] == [i], caption
        assert background_of(images[i]) == scenes[i].background  # image i shows scene i
    again = latent.retrieval_batch(12, seed=3)
    assert torch.equal(again[0], images) and again[1] == captions
    assert latent.retrieval_batch(12, seed=4)[1] != captions
    held = latent.retrieval_batch(10, seed=0, split="held_out")[2]
    assert all(S.held_out(s) for s in held)


def test_retrieval_batch_with_swaps_pairs_twins_captioned_alike():
    for split in ("all", "train", "held_out"):
        images, captions, scenes = latent.retrieval_batch(8, seed=2, swaps=True, split=split)
        assert len(captions) == len(scenes) == len(images) == 8
        assert len({s.combination() for s in scenes}) == 8
        if split != "all":  # the twins too lie on the split's side
            assert all(S.held_out(s) == (split == "held_out") for s in scenes)
        for a, b, sa, sb in zip(captions[::2], captions[1::2], scenes[::2], scenes[1::2]):
            assert sb == latent.swapped_twin(sa)
            ra, rb = S.parse(a), S.parse(b)  # worded alike: the same form, order and places ...
            assert [(t.object, t.position) for t in ra.things] == [(t.object, t.position) for t in rb.things]
            assert ra.background == rb.background and a != b
            assert [t.colour for t in ra.things] == [t.colour for t in rb.things][::-1]  # ... colours exchanged
        for i, caption in enumerate(captions):  # a twin of two boats would fit a caption without places
            assert [j for j, s in enumerate(scenes) if adheres(s, S.parse(caption))] == [i], caption


def test_retrieval_batch_refuses_what_it_cannot_give():
    with pytest.raises(ValueError, match=r"k must be an int >= 1, and even with swaps .* got 5"):
        latent.retrieval_batch(5, swaps=True)
    with pytest.raises(ValueError, match=r"k must be an int >= 1, got 0"):
        latent.retrieval_batch(0)
    # 238 held-out combinations (237 of two things, and the gold fish on the beach): 240 cannot be found
    with pytest.raises(ValueError, match=r"found only 238 distinct combinations of the 'held_out' split, not 240"):
        latent.retrieval_batch(240, split="held_out")


# ---- the measurements ---------------------------------------------------------------------------------

class RandomClip:
    """Similarities from fixed random projections of the pixels and of the summed word vectors: some
    right, some wrong, and otherwise in each batch (an untrained ContrastiveModel ranks every image
    first for the same caption, which makes every share 1/k)."""

    def __init__(self, seed: int = 0):
        g = gen(seed)
        self.images, self.words = torch.randn(3 * 24 * 24, 8, generator=g), torch.randn(len(TOK), 8, generator=g)

    def similarity(self, images, ids):
        return (images.flatten(1) @ self.images) @ self.words[ids].sum(1).T


def test_retrieval_scores_are_the_mean_and_std_of_top1_over_batches():
    clip = RandomClip()
    scores = latent.retrieval_scores(clip, TOK, k=6, repeats=3, seed=103)
    assert set(scores) == {"random", "swaps", "held_out"}
    spread = []
    for name, swaps, split in (("random", False, "all"), ("swaps", True, "all"), ("held_out", False, "held_out")):
        runs = {"image_to_text": [], "text_to_image": []}
        for r in range(3):
            images, captions, _ = latent.retrieval_batch(6, 103 + r, swaps=swaps, split=split)
            sim = clip.similarity(images, TOK(captions)).numpy()
            runs["image_to_text"].append(np.mean([np.argmax(sim[i]) == i for i in range(6)]))
            runs["text_to_image"].append(np.mean([np.argmax(sim[:, i]) == i for i in range(6)]))
        for direction, values in runs.items():
            # float32 shares (retrieval_accuracy) against float64 ones: 1e-7; np.std is the population std
            assert scores[name][direction] == pytest.approx((np.mean(values), np.std(values)), abs=1e-7)
            spread.append(np.std(values))
    assert max(spread) > 0.1  # the batches do differ, so the mean and std are tested


class FakeReader:
    """Reads the originals right; of the images read next (their reconstructions), only the first half
    (the rest with a wrong background)."""

    def __init__(self, originals: dict):
        self.originals, self.last = originals, None

    def read(self, images):
        for x, scenes in self.originals.values():
            if torch.equal(images, x):
                self.last = scenes
                return list(scenes)
        n = len(images)
        return [s if i < n // 2 else s._replace(background="snow" if s.background != "snow" else "grass")
                for i, s in enumerate(self.last)]


def test_autoencoder_scores_measure_the_reconstructions():
    vae = tiny_vae()
    originals = {split: S.sample_scenes(6, seed=3, split=split) for split in ("train", "held_out")}
    scores = latent.autoencoder_scores(vae, FakeReader(originals), n=6, seed=3)
    for split, (x, _) in originals.items():
        with torch.no_grad():
            back = vae.decode(vae.encode(x)[0]).clamp(-1, 1)  # the mean, unscaled then scaled back
        assert scores[split]["mse"] == pytest.approx((back - x).pow(2).mean().item(), rel=1e-5)
        assert scores[split]["agree_original"] == 1.0 and scores[split]["agree_reconstruction"] == 0.5


# ---- TextUNet's frozen encoder ------------------------------------------------------------------------

def test_freeze_encoder_stops_training_of_the_encoder_only():
    net = tiny_net(3, freeze=True)
    assert not any(p.requires_grad for p in net.encoder.parameters())
    assert all(p.requires_grad for name, p in net.named_parameters() if not name.startswith("encoder."))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x, ids = torch.randn(4, 3, 8, 8, generator=gen(0)), TOK(PROMPTS * 2)

    def loss_fn(model, batch):
        x, ids = batch
        return (model(x, torch.full((len(x),), 0.5), ids) - x).pow(2).mean()

    train.train(net, loss_fn, lambda g: (x, ids), steps=3, lr=1e-2, ema=None, progress=False)
    after = net.state_dict()
    for k in before:
        if k.startswith("encoder."):
            assert torch.equal(after[k], before[k]), k
    assert not torch.equal(after["head.2.weight"], before["head.2.weight"])
    assert not torch.equal(after["pooled.weight"], before["pooled.weight"])
    # a plain Adam over all the parameters leaves it alone too: no gradient ever reaches it
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn(net, (x, ids)).backward()
    assert all(p.grad is None for p in net.encoder.parameters()) and net.stem.weight.grad is not None
    opt.step()
    assert all(torch.equal(net.state_dict()[k], before[k]) for k in before if k.startswith("encoder."))
    # unfrozen (lesson 10), the same steps do move the encoder
    free = tiny_net(3)
    train.train(free, loss_fn, lambda g: (x, ids), steps=3, lr=1e-2, ema=None, progress=False)
    assert not torch.equal(free.encoder.token.weight, before["encoder.token.weight"])


def test_freeze_encoder_is_in_the_config_only_when_true(tmp_path):
    lesson10 = {"vocab_size", "in_channels", "channels", "cross_levels", "encoder", "max_freq", "groups", "heads"}
    assert set(tiny_net(3).config) == lesson10  # so lesson 10's checkpoints still load
    frozen = tiny_net(4, freeze=True)
    assert set(frozen.config) == lesson10 | {"freeze_encoder"} and frozen.config["freeze_encoder"] is True
    train.save(tmp_path / "frozen.pt", frozen)
    again = train.load(tmp_path / "frozen.pt", TextUNet)  # rebuilt from the config: frozen again
    assert not any(p.requires_grad for p in again.encoder.parameters())
    assert torch.equal(again.encoder.token.weight, frozen.encoder.token.weight)


# ---- the pipeline -------------------------------------------------------------------------------------

def test_the_same_generator_gives_the_same_images():
    pipe = tiny_pipeline()
    a = pipe(PROMPTS, n=2, steps=2, generator=gen(0))
    assert a.shape == (4, 3, 24, 24) and a.abs().max() <= 1
    assert torch.equal(pipe(PROMPTS, n=2, steps=2, generator=gen(0)), a)
    assert not torch.allclose(pipe(PROMPTS, n=2, steps=2, generator=gen(1)), a)


def test_call_equals_the_stages_run_by_hand():
    pipe = tiny_pipeline()
    prompts = pipe.prompts(PROMPTS, n=2)
    assert prompts == [PROMPTS[0], PROMPTS[0], PROMPTS[1], PROMPTS[1]]
    assert pipe.prompts(PROMPTS[1], n=3) == [PROMPTS[1]] * 3
    noise = pipe.noise(len(prompts), gen(5))
    assert torch.equal(noise, torch.randn(4, 4, 6, 6, generator=gen(5)))
    z = pipe.denoise(pipe.encode(TOK(prompts)), noise, w=2.0, steps=3)
    images = pipe.decode(z)
    assert torch.equal(images, pipe.decoder.decode_latents(z).clamp(-1, 1))
    assert torch.equal(pipe(PROMPTS, n=2, w=2.0, steps=3, generator=gen(5)), images)


def test_one_ddim_step_written_out():
    # one step from t = 1 to t = 0: x0 = (x_1 - sigma_1 eps) / alpha_1 with the guided
    # eps = eps(null) + w (eps(caption) - eps(null)), and at t = 0 the sample is that x0
    pipe = tiny_pipeline()
    net, schedule, w = pipe.denoiser.net, pipe.schedule, 2.5
    ids, noise = TOK(PROMPTS), pipe.noise(2, gen(2))
    t = torch.ones(2)
    with torch.no_grad():
        cond, null = net(noise, t, ids), net(noise, t, TOK(["", ""]))
    eps = null + w * (cond - null)
    alpha, sigma = schedule.alpha(torch.tensor(1.0)).item(), schedule.sigma(torch.tensor(1.0)).item()
    expected = (noise - sigma * eps) / alpha
    z = pipe.denoise(ids, noise, w=w, steps=1)
    assert torch.allclose(z, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def test_w_zero_ignores_the_caption_and_w_above_zero_does_not():
    pipe = tiny_pipeline()
    noise = pipe.noise(1, gen(3))
    a0, b0 = (pipe.denoise(TOK([p]), noise, w=0.0, steps=2) for p in PROMPTS)
    a3, b3 = (pipe.denoise(TOK([p]), noise, w=3.0, steps=2) for p in PROMPTS)
    assert torch.allclose(a0, b0, atol=1e-5) and not torch.allclose(a3, b3, atol=1e-3)


def test_text2image_sample_with_a_decoder_decodes_the_latent_samples():
    pipe = tiny_pipeline()
    model, vae = pipe.denoiser, pipe.decoder
    got = text2image.sample(model, TOK, PROMPTS, w=2.0, steps=2, generator=gen(6), decoder=vae)
    noise = torch.randn(2, 4, 6, 6, generator=gen(6))
    with torch.no_grad():
        z = run(SAMPLERS["ddim"](ClassifierFree(model, TOK(PROMPTS), 2.0), noise, uniform_grid(2), model.schedule))
        expected = vae.decode(z / 0.5).clamp(-1, 1)  # the scale is 0.5
    assert got.shape == (2, 3, 24, 24) and torch.allclose(got, expected, atol=1e-5)
    # without the decoder: the latent samples themselves, clamped
    latents = text2image.sample(model, TOK, PROMPTS, w=2.0, steps=2, generator=gen(6))
    assert torch.allclose(latents, z.clamp(-1, 1), atol=1e-5)


def test_repr_names_every_stage():
    pipe = tiny_pipeline()
    text = repr(pipe)
    count = lambda m: f"{sum(p.numel() for p in m.parameters()):,} parameters"  # noqa: E731
    for part in ("TextToImage on latents (4, 6, 6)", f"Tokenizer, {len(TOK)} tokens", "at most 19 words",
                 f"TransformerEncoder (frozen), {count(pipe.denoiser.net.encoder)}",
                 f"TextUNet predicting eps, {count(pipe.denoiser.net)}", "ClassifierFree",
                 repr(pipe.schedule), "samplers.ddim", f"Autoencoder.decode_latents, {count(pipe.decoder.decoder)}",
                 "latent scale 0.5000"):
        assert part in text, part
    assert [line.split()[0] for line in text.splitlines()[1:]] == ["1", "2", "3", "4", "5", "6"]
    pixels = repr(tiny_pipeline(decoder=False, freeze=False))
    assert "on pixels (3, 8, 8)" in pixels and "(trainable)" in pixels and "decoder" not in pixels


def test_the_pixel_pipeline_returns_the_clamped_samples():
    pipe = tiny_pipeline(decoder=False)
    images = pipe(PROMPTS[0], n=2, steps=2, generator=gen(4))
    z = pipe.denoise(TOK([PROMPTS[0]] * 2), pipe.noise(2, gen(4)), steps=2)
    assert images.shape == (2, 3, 8, 8) and torch.allclose(images, z.clamp(-1, 1), atol=1e-6)
    assert torch.equal(pipe.decode(z), z.clamp(-1, 1))


def test_bad_pipelines_and_prompts_are_refused():
    model = Denoiser(tiny_net(4), VPLinear(0.1, 20.0), sample_shape=(4, 6, 6))
    with pytest.raises(ValueError, match=r"makes \(4, 6, 6\) samples, but the decoder takes latents of "
                                         r"shape \(2, 6, 6\); they were not trained together"):
        latent.TextToImage(TOK, model, tiny_vae(latent_channels=2))
    with pytest.raises(ValueError, match=r"makes \(4, 6, 6\) samples, .* shape \(4, 4, 4\)"):
        latent.TextToImage(TOK, model, tiny_vae(size=16))
    with pytest.raises(ValueError, match=r"sample_shape"):
        latent.TextToImage(TOK, Denoiser(tiny_net(4), VPLinear()), tiny_vae())
    with pytest.raises(ValueError, match=r"sampler must be one of .* got 'ddim2'"):
        latent.TextToImage(TOK, model, tiny_vae(), sampler="ddim2")
    with pytest.raises(ValueError, match=r"space must be 'latent' or 'pixel', got 'pixels'"):
        latent.load_pipeline("pixels")
    # an unknown word fails in the tokenizer, before the network runs once
    pipe = latent.TextToImage(TOK, model, tiny_vae())
    calls = []
    model.net.register_forward_hook(lambda *args: calls.append(1))
    with pytest.raises(ValueError, match=r"unknown word 'purple'"):
        pipe(["a red fish", "a purple fish"], steps=2)
    assert calls == []
    pipe("a red fish", steps=1)
    assert calls  # the hook does see a real call
