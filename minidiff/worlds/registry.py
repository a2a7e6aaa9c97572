"""The registry of shipped models: one row per file in data/ that the lessons load.

    registry.TABLE["digits8"]      # Entry(name, file, kind, recipe, command, loader, shipped)
    registry.path("digits8")       # data/ddpm8.pt
    registry.entry("scenes").command   # the command that remakes data/text2image.pt

Each row says what the file is (kind), the recipe it was trained from (the dict its training script
reads and records in the file's meta; minidiff.pretrained re-exports these dicts by their old names),
the command that remakes it (as data/CHECKPOINTS.md gives it, with --force: it writes data/), and the
call that loads it. scripts/registry_table.py writes this table at the top of data/CHECKPOINTS.md, and
tests/test_registry.py checks that every .pt file in data/ has a row.
"""

from dataclasses import dataclass
from pathlib import Path

from ..runtime import DATA_DIR

# One recipe per shipped DDPM: a U-Net preset (minidiff.nets.unet) trained with the eps loss
# (Ho et al. 2020, eq. 14) on a digit set, VP schedule with linear beta (Ho et al.'s 1e-4 .. 0.02
# over 1000 steps, in continuous time). The checkpoint itself records schedule, target and clip.
RECIPES = {
    "digits8": dict(file="ddpm8.pt", size=8, preset="digits8", target="eps",
                    schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                    lr=1e-3, batch_size=128, ema=0.995, seed=0),
    "mnist28": dict(file="ddpm28.pt", size=28, preset="mnist28", target="eps",
                    schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                    lr=1e-3, batch_size=64, ema=0.995, seed=0),
    # Class-conditional DDPMs for classifier-free guidance (Ho & Salimans 2022): the same U-Net with a
    # label embedding (10 digits + the null label 10), trained with the label dropped to null with
    # probability p_uncond, so one network is both p(x | y) and p(x). Warm start: every weight but the
    # label embedding comes from the unconditional model named by `init`; the embedding starts at 0, so
    # training begins from that model and only has to learn what a label adds.
    "digits8_cond": dict(file="ddpm8_cond.pt", size=8, preset="digits8", target="eps", num_classes=10,
                         p_uncond=0.1, init="digits8",
                         schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                         lr=5e-4, batch_size=128, ema=0.995, seed=0),
    "mnist28_cond": dict(file="ddpm28_cond.pt", size=28, preset="mnist28", target="eps", num_classes=10,
                         p_uncond=0.2, init="mnist28",
                         schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                         lr=1e-3, batch_size=256, ema=0.999, seed=0,
                         # later stages, each from the last one's EMA weights with a fresh Adam. Second: a
                         # smaller learning rate and the label dropped half the time, because the null label
                         # alone (the unconditional model) was the weak half: 2.9x its floor against 1.0x for
                         # labels drawn at random. Third: the label dropped four times in five while the
                         # rate falls linearly to 0 (2.1x -> 1.8x; data/CHECKPOINTS.md).
                         finetune=[dict(lr=2e-4, p_uncond=0.5, batch_size=128, ema=0.999, seed=10, steps=4770),
                                   dict(lr=2e-4, p_uncond=0.8, batch_size=128, ema=0.999, seed=11, steps=3000,
                                        decay=True)]),
}

# The digit classifiers (scripts/train_classifier.py), trained on the train split with random shifts of up
# to `shift` pixels: the judges of generated digits (minidiff.metrics.load_classifier), and the
# noise-aware ones of classifier guidance, trained on x_t under VPLinear() at t ~ U(0, 1) (fewer steps
# would do for clean images, but every t must be learned; sizes kept small to train in minutes on one thread).
CLASSIFIER_RECIPES = {
    "classifier8": dict(file="classifier8.pt", size=8, noisy=False, channels=(32, 64), feat_dim=64, dropout=0.3,
                        shift=1, steps=3000, batch_size=128, lr=1e-3, ema=0.999, seed=0),
    "classifier28": dict(file="classifier28.pt", size=28, noisy=False, channels=(16, 32, 64), feat_dim=64,
                         dropout=0.3, shift=2, steps=4000, batch_size=128, lr=1e-3, ema=0.999, seed=0),
    "noisy_classifier8": dict(file="noisy_classifier8.pt", size=8, noisy=True, channels=(32, 64), feat_dim=64,
                              time_dim=32, shift=1, steps=6000, batch_size=128, lr=1e-3, ema=0.999, seed=0),
    "noisy_classifier28": dict(file="noisy_classifier28.pt", size=28, noisy=True, channels=(16, 32, 64), feat_dim=64,
                               time_dim=32, shift=2, steps=4000, batch_size=64, lr=1e-3, ema=0.999, seed=0),
}

# The captioned-scene models: a TextUNet (24x24 RGB, cross-attention at 12x12 and 6x6) trained with
# the eps loss on scenes.sample_scenes(images, data_seed, 'train'), every caption dropped to the empty
# one with probability p_uncond (for classifier-free guidance). The twins differ only in the text
# encoder: a transformer, or a bag of words that knows no word order. `snapshots`: the steps at which
# the weights are kept (lesson 10's learning curve; only the transformer model needs them).
_TEXT_BASE = dict(channels=[32, 64, 96], cross_levels=[1, 2], target="eps", p_uncond=0.1,
                  schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                  lr=1e-3, batch_size=256, ema=0.999, seed=0, images=60_000, data_seed=0, captions="templates")
TEXT_RECIPES = {
    "scenes": dict(_TEXT_BASE, file="text2image.pt", snapshots=[500, 1000, 2000, 4000, 8000],
                   encoder=dict(kind="transformer", dim=64, heads=4, layers=2, max_len=20)),
    "scenes_bag": dict(_TEXT_BASE, file="text2image_bag.pt", snapshots=[], encoder=dict(kind="bag", dim=64, max_len=20)),
    # the transformer model on the grammar's captions (free wording); not shipped yet: it takes about 8 GPU
    # minutes (8 hours of CPU) and no GPU has been lent since the grammar was written
    "scenes_grammar": dict(_TEXT_BASE, file="text2image_grammar.pt", snapshots=[], captions="grammar",
                           encoder=dict(kind="transformer", dim=64, heads=4, layers=2, max_len=20)),
}

# Three models, trained in this order by scripts/train_latent.py, each on the 'train' side of the
# scenes only (the held-out combinations never appear):
# - autoencoder: 24x24x3 images <-> 6x6x4 latents (12x fewer numbers), MSE plus a light KL term;
# - clip: a contrastive image and text encoder; every two-object scene of a batch comes with its
#   colour-swapped twin ('a red fish and a blue can' beside 'a blue fish and a red can'), so that
#   the text encoder must bind colours to objects (the hard negatives of Yuksekgonul et al. 2023);
# - latent: a TextUNet on the scaled latents, cross-attending to the frozen clip text encoder's word
#   vectors, caption dropout p_uncond for classifier-free guidance; otherwise lesson 10's recipe.
# captions: 'grammar' (minidiff.captions.say, the held-out phrasings never drawn), where lesson 10's
# pixel models read the ten 'templates' (scenes.random_caption); the autoencoder reads no captions.
_SCENES_DATA = dict(images=60_000, data_seed=0, seed=0)
LATENT_RECIPES = {
    "autoencoder": dict(_SCENES_DATA, file="autoencoder.pt", latent_channels=4, width=32, beta=1e-4,
                        lr=1e-3, batch_size=64),
    "clip": dict(_SCENES_DATA, captions="grammar", file="clip.pt", dim=64, text_dim=64, heads=4, layers=2, max_len=20, width=32,
                 lr=1e-3, batch_size=128, swapped_twins=True),
    # the same without the colour-swapped twins: lesson 11 measures what they are for
    "clip_plain": dict(_SCENES_DATA, captions="grammar", file="clip_plain.pt", dim=64, text_dim=64, heads=4, layers=2, max_len=20,
                       width=32, lr=1e-3, batch_size=128, swapped_twins=False),
    "latent": dict(_SCENES_DATA, captions="grammar", file="latent_text2image.pt", channels=[64, 128], cross_levels=[0, 1],
                   target="eps", p_uncond=0.1, schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                   lr=1e-3, batch_size=64, ema=0.999),
}

# Lesson 12's digit models. "halves8": pairs of U-Nets (the digits8 preset), each trained on one of two
# disjoint halves of the 8x8 training split, at several training-set sizes: the memorisation and
# generalisation experiments (Kadkhodaie et al. 2024). Half "a" of size n is the first n images of one
# fixed random half of the training split and half "b" the first n of the other, so the sets are
# nested within each half and never share an image. "rare8": a class-conditional U-Net trained from
# scratch on the training split with all but one in `keep` images of the digit `rare` removed.
_BEYOND_BASE = dict(size=8, preset="digits8", target="eps",
                    schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0), ema=0.995, seed=0)
BEYOND_RECIPES = {
    "halves8": dict(_BEYOND_BASE, sizes=[4, 16, 64, 256, 719], halves=("a", "b"), split_seed=0,
                    lr=1e-3, batch_size=64, steps=4000),
    "rare8": dict(_BEYOND_BASE, rare=3, keep=0.1, split_seed=0, num_classes=10, p_uncond=0.1,
                  lr=1e-3, batch_size=128, steps=6000),
}

# The scene reader, lesson 10's judge (scripts/train_reader.py): scenes of every combination, held-out
# ones included (it measures, it is not measured), from data_seed, with Gaussian noise of standard
# deviation up to `noise` so that it also reads imperfect samples; the learning rate halves every epoch.
READER_RECIPE = dict(file="scene_reader.pt", images=80_000, data_seed=100, epochs=6, batch_size=128, lr=1e-3,
                     noise=0.15, seed=0)


@dataclass(frozen=True)
class Entry:
    name: str
    file: str  # under data/; a folder ends in "/"
    kind: str
    recipe: dict
    command: str  # stages of one file are joined by " && "
    loader: str  # the call that loads it (pretrained.load_..., metrics.load_classifier)
    shipped: bool = True  # False: a recipe whose file is not in data/ yet


def _row(name, kind, recipe, command, loader, file=None, shipped=True) -> Entry:
    return Entry(name, file or recipe["file"], kind, recipe, command, loader, shipped)


_DDPM, _CLF, _T2I, _LAT, _BEYOND = ("python scripts/train_ddpm.py", "python scripts/train_classifier.py",
                                    "python scripts/train_text2image.py", "python scripts/train_latent.py",
                                    "python scripts/train_beyond.py")
_SCENES = f"{_T2I} scenes --minutes 8 --snapshots 500,1000,2000,4000,8000 --force"
TABLE = {e.name: e for e in [
    _row("digits8", "DDPM", RECIPES["digits8"], f"{_DDPM} digits8 --minutes 20 --threads 1 --force",
         "pretrained.load_ddpm('digits8')"),
    _row("mnist28", "DDPM", RECIPES["mnist28"], f"{_DDPM} mnist28 --minutes 100 --threads 2 --force",
         "pretrained.load_ddpm('mnist28')"),
    _row("digits8_cond", "conditional DDPM", RECIPES["digits8_cond"],
         f"{_DDPM} digits8_cond --minutes 15 --threads 1 --force", "pretrained.load_ddpm('digits8_cond')"),
    _row("mnist28_cond", "conditional DDPM", RECIPES["mnist28_cond"],
         f"{_DDPM} mnist28_cond --minutes 8 --no-evaluate --force"  # the first stage ran on a GPU
         f" && {_DDPM} mnist28_cond --finetune --threads 1 --no-evaluate --force"
         f" && {_DDPM} mnist28_cond --finetune --threads 1 --sets 5 --force", "pretrained.load_ddpm('mnist28_cond')"),
    # one command makes both sizes (data/CHECKPOINTS.md; --size 8 makes one)
    _row("classifier8", "digit classifier", CLASSIFIER_RECIPES["classifier8"], f"{_CLF} --force",
         "metrics.load_classifier(8)"),
    _row("classifier28", "digit classifier", CLASSIFIER_RECIPES["classifier28"], f"{_CLF} --force",
         "metrics.load_classifier(28)"),
    _row("noisy_classifier8", "noise-aware classifier", CLASSIFIER_RECIPES["noisy_classifier8"],
         f"{_CLF} --noisy --force", "metrics.load_classifier(8, noisy=True)"),
    _row("noisy_classifier28", "noise-aware classifier", CLASSIFIER_RECIPES["noisy_classifier28"],
         f"{_CLF} --noisy --force", "metrics.load_classifier(28, noisy=True)"),
    _row("scene_reader", "scene reader", READER_RECIPE, "python scripts/train_reader.py --force",
         "pretrained.load_scene_reader()"),
    _row("scenes", "text-to-image", TEXT_RECIPES["scenes"], _SCENES, "pretrained.load_text2image('scenes')"),
    _row("scenes_steps", "snapshots", TEXT_RECIPES["scenes"], _SCENES,  # kept while `scenes` trained
         "pretrained.load_text2image('scenes', step=500)", file="text2image_steps.pt"),
    _row("scenes_bag", "text-to-image", TEXT_RECIPES["scenes_bag"], f"{_T2I} scenes_bag --steps 8000 --force",
         "pretrained.load_text2image('scenes_bag')"),
    _row("scenes_grammar", "text-to-image", TEXT_RECIPES["scenes_grammar"],
         f"{_T2I} scenes_grammar --steps 7324 --device cuda --force", "pretrained.load_text2image('scenes_grammar')",
         shipped=False),  # about 8 GPU minutes, 8 CPU hours
    _row("autoencoder", "autoencoder", LATENT_RECIPES["autoencoder"],
         f"{_LAT} autoencoder --minutes 25 --threads 1 --force", "pretrained.load_autoencoder()"),
    _row("clip", "contrastive", LATENT_RECIPES["clip"], f"{_LAT} clip --steps 3817 --threads 1 --force",
         "pretrained.load_clip()"),
    _row("clip_plain", "contrastive", LATENT_RECIPES["clip_plain"],
         f"{_LAT} clip_plain --steps 7101 --threads 1 --force", "pretrained.load_clip(name='clip_plain')"),
    _row("latent", "latent denoiser", LATENT_RECIPES["latent"], f"{_LAT} latent --steps 24750 --threads 1 --force"
         f" && {_LAT} latent --resume --steps 6000 --threads 1 --force",
         "pretrained.load_latent_denoiser()"),
    _row("halves8", "memorisation halves", BEYOND_RECIPES["halves8"], f"{_BEYOND} halves8 --threads 1 --force",
         "pretrained.load_half(4, 'a')", file="halves8/"),  # ten files: n{4,16,64,256,719}{a,b}.pt
    _row("rare8", "conditional DDPM", BEYOND_RECIPES["rare8"], f"{_BEYOND} rare8 --threads 1 --force",
         "pretrained.load_rare()", file="rare8.pt"),
]}


def entry(name: str) -> Entry:
    """The row of the shipped model `name`."""
    if name not in TABLE:
        raise ValueError(f"registry: no shipped model {name!r}; the names are {list(TABLE)}")
    return TABLE[name]


def path(name: str) -> Path:
    """Where the file (or folder) of `name` lives in data/."""
    return DATA_DIR / entry(name).file
