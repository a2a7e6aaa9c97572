"""Misuses of the measuring instruments, each refused with words that say what was wrong and what to do:
images in the wrong range or dtype, NaN, wrong shapes, too few samples to mean anything, and captions
with words the scenes do not know. Before these checks each one gave a silently wrong number or a raw
torch error; the comment on each says which."""

import pytest
import torch

from minidiff import metrics, pretrained, scenes as S, toy
from minidiff.worlds.data import load_digits
from minidiff.worlds.metrics.scenes import adherence, reader_accuracy

NAN = float("nan")


@pytest.fixture(scope="module")
def reader():
    return pretrained.load_scene_reader()


@pytest.fixture(scope="module")
def vae():
    return pretrained.load_autoencoder()


@pytest.fixture(scope="module")
def world():
    return S.sample_scenes(16, seed=0)


@pytest.fixture(scope="module")
def digits():
    return load_digits(8, "test")


# ---- scenes: the reader and adherence ------------------------------------------------------------

def test_adherence_on_0_to_1_images_is_refused(reader, world):
    images, scenes = world
    assert adherence(reader, images, scenes).all()  # in [-1, 1]: every scene reads as itself
    # before: 0.016 of them adhered, no word
    with pytest.raises(ValueError, match=r"adherence: these scenes look like \[0, 1\] \(values from 0.0401 to 1\); "
                                         r"scenes are in \[-1, 1\] \(as scenes.render gives them\): pass x \* 2 - 1"):
        adherence(reader, (images + 1) / 2, scenes)


def test_adherence_on_uint8_images_is_refused(reader, world):
    images, scenes = world
    pixels = ((images + 1) * 127.5).round().to(torch.uint8)  # before: 0.14 adhered, no word
    with pytest.raises(ValueError, match=r"images must be floats in \[-1, 1\] .* got torch.uint8; pixels 0..255 "
                                         r"become x.float\(\) / 127.5 - 1"):
        adherence(reader, pixels, scenes)


def test_reader_refuses_nan_and_0_to_255(reader, world):
    images, _ = world
    with pytest.raises(ValueError, match=r"SceneReader.read: NaN or inf in 2 of 2 rows of scenes"):
        reader.read(images[:2] * NAN)  # before: two empty beaches
    with pytest.raises(ValueError, match=r"got values from 10 to 255; pixels 0..255 become x / 127.5 - 1"):
        reader.read(((images + 1) * 127.5).round())


def test_reader_names_the_shape_it_wants(reader, world):
    with pytest.raises(ValueError, match=r"SceneReader: scenes must have shape \(N, 3, 24, 24\), got \(2, 24, 24, 3\)"):
        reader(world[0][:2].permute(0, 2, 3, 1))  # channels last, as matplotlib and PIL keep them


def test_reader_accuracy_refuses_0_to_1_images_and_a_short_scene_list(reader, world):
    images, scenes = world
    with pytest.raises(ValueError, match=r"reader_accuracy: these scenes look like \[0, 1\]"):
        reader_accuracy(reader, (images + 1) / 2, scenes)  # before: 'scene': 0.016
    with pytest.raises(ValueError, match="need as many scenes as images .* got 16 images and 15 scenes"):
        reader_accuracy(reader, images, scenes[:15])


def test_every_rendered_scene_has_a_dark_pixel_so_the_0_to_1_test_never_refuses_a_real_one(reader):
    # The [0, 1] test refuses a batch with no pixel below 0; every scene has an outline or a dark thing.
    images, scenes = S.sample_scenes(400, seed=3, split="all")
    assert (images.flatten(1).amin(1) < -0.5).all()
    assert [reader.read(images[i:i + 1])[0] for i in range(3)] == scenes[:3]  # one image at a time is fine


# ---- scenes: captions with words the world does not know --------------------------------------------

def test_parse_names_every_unknown_word():
    # before: Scene(None, (Thing(None, 'fish', None),)): "a purple fish on the moon" matched any fish
    with pytest.raises(ValueError, match=r"parse: unknown words 'purple', 'moon' in 'a purple fish on the moon'.* "
                                         r"The scenes can draw colours gold, red, blue, green, white, black; objects "
                                         r"fish, can, ball, star, boat, tree \(also goldfish, .*places beach, grass, "
                                         r"night, snow. All 51 words: , a above"):
        S.parse("a purple fish on the moon")
    with pytest.raises(ValueError, match=r"unknown word 'fsh' in 'a gold fsh at night'; did you mean 'fish' or 'ship' for 'fsh'\?"):
        S.parse("a gold fsh at night")
    with pytest.raises(ValueError, match="a caption must be a string, got list"):
        S.parse(["a red can"])


def test_adherence_refuses_a_prompt_with_an_unknown_word(reader, world):
    images, _ = world
    with pytest.raises(ValueError, match=r"unknown word 'purple' in 'a purple fish at night'"):
        adherence(reader, images[:1], "a purple fish at night")


def test_every_caption_the_world_writes_still_parses():
    rng = __import__("numpy").random.default_rng(0)
    for _ in range(300):
        scene = S.random_scene(rng, "all")
        assert S.parse(S.random_caption(scene, rng)).background == scene.background
    for split in ("train", "held_out"):
        assert all(S.parse(p).things for p in S.prompt_set(split, 50))
    assert all(S.parse(a) and S.parse(b) for a, b in S.swap_pairs(10))


# ---- the autoencoder -----------------------------------------------------------------------------

def test_autoencoder_refuses_0_to_1_images(vae, world):
    images, _ = world
    with torch.no_grad():
        err = (vae.decode_latents(vae.latents(images)) - images).pow(2).mean().item()
    assert err < 0.01  # in [-1, 1]: measured 0.0035; [0, 1] input came back with 0.054, 15x, no word
    with pytest.raises(ValueError, match=r"Autoencoder: these scenes look like \[0, 1\] .* pass x \* 2 - 1"):
        vae.latents((images + 1) / 2)


def test_autoencoder_refuses_integer_images_and_bad_latents(vae, world):
    images, _ = world
    with pytest.raises(ValueError, match=r"Autoencoder: images must be floats in \[-1, 1\] .* got torch.uint8"):
        vae.encode(((images + 1) * 127.5).to(torch.uint8))  # before: a raw conv2d dtype error
    z = vae.latents(images[:2])
    with pytest.raises(ValueError, match="Autoencoder: NaN or inf in 1 of 2 rows of latents"):
        vae.decode_latents(torch.cat([z[:1], z[1:] * NAN]))
    with pytest.raises(ValueError, match="Autoencoder: latents must be floats, got torch.int64"):
        vae.decode(z.round().long())


# ---- digits: digit_quality and guidance_scores -------------------------------------------------------

def test_digit_quality_refuses_too_few_samples():
    # before: two blank images "cannot be told from real digits" (ratio 0.81)
    blank = torch.full((2, 1, 8, 8), -1.0)
    with pytest.raises(ValueError, match=r"digit_quality: need 8 to 1438 samples .* got 2; below 8 even blank "
                                         r"images or noise score within the floor's spread"):
        metrics.digit_quality(blank)


def test_digit_quality_refuses_blank_images():
    with pytest.raises(ValueError, match=r"every sample is blank \(one value per image, -1\): there is no digit"):
        metrics.digit_quality(torch.full((20, 1, 8, 8), -1.0))


def test_digit_quality_refuses_0_to_1_digits(digits):
    x, _ = digits
    # before: a ratio of 17 with no word on the cause
    with pytest.raises(ValueError, match=r"digit_quality: these digits look like \[0, 1\] .* digits are in \[-1, 1\] "
                                         r"\(as load_digits gives them\): pass x \* 2 - 1"):
        metrics.digit_quality((x[:100] + 1) / 2)
    assert (x.flatten(1).amin(1) < 0).all()  # every real digit has background at -1


def test_digit_quality_names_a_non_square_shape(digits):
    with pytest.raises(ValueError, match=r"samples must be \(n, 1, 8, 8\) or \(n, 1, 28, 28\), got \(20, 1, 8, 7\)"):
        metrics.digit_quality(digits[0][:20, :, :, :7])


def test_guidance_scores_needs_8_samples_per_digit_and_refuses_blank_ones(digits):
    x, y = digits
    four = torch.cat([torch.nonzero(y == c).flatten()[:4] for c in (0, 1)])
    with pytest.raises(ValueError, match=r"digit 0 was requested 4 times; the floor needs 8 to \d+ samples"):
        metrics.guidance_scores(x[four], y[four])
    # before: a blank sample set scored 20x the floor with spread 0: no word that nothing was drawn
    with pytest.raises(ValueError, match="guidance_scores: every sample is blank"):
        metrics.guidance_scores(torch.full((20, 1, 8, 8), -1.0), torch.arange(20) % 2)


def test_frechet_distance_refuses_nan_features():
    with pytest.raises(ValueError, match="frechet_distance: NaN or inf in 10 of 10 rows of feats_a"):
        metrics.frechet_distance(torch.randn(10, 4) * NAN, torch.randn(10, 4))  # before: a LinAlgError


# ---- point clouds: distances, the floor, coverage, memorisation ---------------------------------------

RING = toy.ring()


def test_in_floor_units_refuses_too_few_points():
    g = torch.Generator().manual_seed(0)
    # before: "1.04x the floor" for 2 points
    with pytest.raises(ValueError, match=r"in_floor_units: need at least 100 points per part, got 2 points in 1 part: "
                                         r"below 100, samples with none of the 8-Gaussian ring's modes score like "
                                         r"exact ones"):
        metrics.in_floor_units(RING.sample(2, generator=g), RING.sample, generator=g)
    with pytest.raises(ValueError, match="noise_floor: need at least 100 points per part, got 2"):
        metrics.noise_floor(RING.sample, 2)


def test_in_floor_units_refuses_nan_and_names_both_dimensions():
    x = RING.sample(200)
    with pytest.raises(ValueError, match=r"in_floor_units: NaN or inf in 1 of 200 rows of x"):
        metrics.in_floor_units(torch.cat([x[:199], x[:1] * NAN]), RING.sample)  # before: "nanx the floor"
    with pytest.raises(ValueError, match="x has 3 numbers per point but the truth's samples have 2"):
        metrics.in_floor_units(torch.randn(200, 3), RING.sample)
    with pytest.raises(ValueError, match=r"x must be points of shape \(N, D\), got \(200,\)"):
        metrics.in_floor_units(x[:, 0], RING.sample)


def test_in_floor_units_checks_the_truth_it_is_given():
    x = RING.sample(200, generator=torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match=r"sample\(n, generator\) must return points of shape \(n, D\) = \(200, D\), "
                                         r"got \(200,\)"):
        metrics.in_floor_units(x, lambda n, g: torch.randn(n, generator=g))
    with pytest.raises(ValueError, match="sample must be a function .* or an object with .sample .* got Tensor"):
        metrics.in_floor_units(x, RING.sample(200))
    # a data set stands for its own .sample: the same number either way
    a = metrics.in_floor_units(x, RING, generator=torch.Generator().manual_seed(2))
    b = metrics.in_floor_units(x, RING.sample, generator=torch.Generator().manual_seed(2))
    assert a == b and a.low == b.low


@pytest.mark.parametrize("metric", [metrics.sliced_wasserstein, metrics.energy_distance, metrics.mmd])
def test_distances_refuse_nan_and_images(metric):
    x, y = RING.sample(100), RING.sample(100)
    # before: nan (sliced_wasserstein, energy_distance); "bandwidth must be > 0 ... are all points equal?" (mmd)
    with pytest.raises(ValueError, match=rf"{metric.__name__}: NaN or inf in 1 of 100 rows of y"):
        metric(x, torch.cat([y[:99], y[:1] * NAN]))
    with pytest.raises(ValueError, match=r"must be points \(N, D\) and \(M, D\), got \(50, 1, 8, 8\) and "
                                         r"\(50, 1, 8, 8\); flatten images first: x.flatten\(1\)"):
        metric(torch.rand(50, 1, 8, 8), torch.rand(50, 1, 8, 8))


def test_mode_coverage_refuses_nan_and_counts_integer_points():
    grid = toy.grid()
    x = grid.sample(500, generator=torch.Generator().manual_seed(0))
    # before: 0 modes and 0 high quality, as if the samples were merely poor
    with pytest.raises(ValueError, match="mode_coverage: NaN or inf in 500 of 500 rows of x"):
        metrics.mode_coverage(x * NAN, grid)
    # before: a raw cdist dtype error; the grid's means are whole numbers, so rounded points sit on them
    assert metrics.mode_coverage(x.round().long(), grid).modes == metrics.mode_coverage(x.round(), grid).modes == 25
    with pytest.raises(ValueError, match=r"x must be points of shape \(N, 2\), got \(500, 3\)"):
        metrics.mode_coverage(torch.randn(500, 3), grid)


def test_memorisation_refuses_integer_pixels_and_nan(digits):
    x, _ = digits
    pixels = ((x[:10] + 1) * 127.5).round().to(torch.uint8)
    # before: 0.0 copies, silently: 0..255 pixels are far from every [-1, 1] training digit
    with pytest.raises(ValueError, match=r"memorisation: samples must be floats on the training data's scale, got "
                                         r"torch.uint8; pixels 0..255 become x.float\(\) / 127.5 - 1"):
        metrics.copy_share(pixels, x)
    with pytest.raises(ValueError, match="memorisation: NaN or inf in 10 of 10 rows of samples"):
        metrics.copy_share(x[:10] * NAN, x)  # before: 0.0
    with pytest.raises(ValueError, match="memorisation: NaN or inf in 4 of 4 rows of a"):
        metrics.pair_similarity(x[:4] * NAN, x[:4])  # before: a tensor of nan
    assert metrics.copy_share(x[:10], x) == 1.0  # the training digits themselves: all copies


def test_crossing_refuses_curves_of_two_lengths():
    # before: 0.5, read off the first two points of xs and ys as if they were paired
    with pytest.raises(ValueError, match=r"crossing: xs and ys must be 1-D of one length >= 2, got \(3,\) and \(2,\)"):
        metrics.crossing([0.0, 1.0, 2.0], [0.0, 1.0], 0.5)
    with pytest.raises(ValueError, match="crossing: xs or ys hold NaN or inf"):
        metrics.crossing([0.0, 1.0, 2.0], [0.0, NAN, 1.0], 0.5)
    assert metrics.crossing([0.0, 1.0, 2.0], [0.0, 0.2, 1.0], 0.6) == pytest.approx(1.5)


def test_ring_refuses_a_sample_count_as_its_number_of_gaussians():
    with pytest.raises(ValueError, match=r"ring: k is the number of Gaussians on the circle .*got 20000.*toy.ring\(\).sample\(n"):
        toy.ring(20000)


def test_a_negative_sample_count_is_named():
    with pytest.raises(ValueError, match=r"GaussianMixture.sample: n must be >= 0, got -1"):
        toy.ring().sample(-1)
