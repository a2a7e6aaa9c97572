"""The registry of shipped models: how each DDPM in data/ was made, and each one rebuilt whole.

    model = pretrained.load_ddpm("digits8")     # a Denoiser: model(x, t).eps, .x0, .schedule
    x = pretrained.sample_digits(model, 64)     # the image size comes from the model

A checkpoint written by `train.save(path, denoiser)` holds the network (class, config, weights) and
the denoiser's spec (schedule, target, clip, sample shape), so `load_denoiser` needs nothing else.
`scripts/train_ddpm.py NAME` remakes a checkpoint from its recipe below; data/CHECKPOINTS.md records
the steps, time and metrics each one reached. Evaluation lives in minidiff.metrics (digit_quality).
"""

from pathlib import Path

import torch

from .checkpoints import SNAPSHOTS_FORMAT, info, load, read
from .data import DATA_DIR, load_digits
from .nets import MLP, DigitClassifier, NoisyDigitClassifier, UNet
from .nets.autoencoder import Autoencoder
from .nets.contrastive import ContrastiveModel
from .nets.reader import SceneReader
from .nets.text_unet import TextUNet
from .params import Denoiser
from .schedules import from_config
from .text import Tokenizer
from .runtime import check_generator

# The network classes a checkpoint may name, by the class name train.save records.
NETWORKS = {cls.__name__: cls for cls in (MLP, UNet, DigitClassifier, NoisyDigitClassifier, TextUNet, SceneReader,
                                          Autoencoder, ContrastiveModel)}

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


def classifier_recipe(size: int, noisy: bool = False) -> dict:
    """The recipe of the shipped digit classifier for `size` (8 or 28), the noise-aware one with noisy=True."""
    name = f"{'noisy_' if noisy else ''}classifier{size}"
    if name not in CLASSIFIER_RECIPES:
        raise ValueError(f"pretrained: no shipped classifier for size {size!r}; the sizes are 8 and 28")
    return CLASSIFIER_RECIPES[name]


def recipe(name: str) -> dict:
    """The recipe of a shipped DDPM ('digits8', 'mnist28', or their class-conditional '..._cond')."""
    if name not in RECIPES:
        raise ValueError(f"pretrained: unknown DDPM {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


def path_of(name: str) -> Path:
    """Where the checkpoint of `name` lives: data/ddpm8.pt or data/ddpm28.pt."""
    return DATA_DIR / recipe(name)["file"]


def ddpm_info(name: str) -> dict:
    """What the checkpoint says about itself: config, denoiser spec, and meta (steps, seconds, metrics)."""
    return info(path_of(name))


def load_network(path, device=None, *, kind: type | None = None) -> torch.nn.Module:
    """The network saved in `path`, built from its recorded class and config (eval mode, frozen);
    with `kind`, a file holding another class is refused, naming what it holds."""
    name = info(path)["class"]
    if kind is not None and name != kind.__name__:
        raise ValueError(f"load_network: {path} holds a {name}, not the {kind.__name__} wanted here; is it the "
                         f"right file? (checkpoints.info(path) shows what a file holds and how it was made)")
    if name not in NETWORKS:
        raise ValueError(f"load_network: {path} holds a {name}, which is not in pretrained.NETWORKS "
                         f"{sorted(NETWORKS)}; load it with train.load(path, YourClass)")
    net = load(path, NETWORKS[name]).eval().requires_grad_(False)
    return net.to(device) if device is not None else net


def load_denoiser(path, device=None, *, kind: type | None = None) -> Denoiser:
    """The whole Denoiser saved in `path` by train.save(path, denoiser): network, schedule, target, clip
    (with `kind`, the network must be of that class)."""
    about = info(path)
    spec = about["denoiser"]
    if spec is None:
        raise ValueError(f"load_denoiser: {path} holds a plain {about['class']}, not a Denoiser; load it "
                         f"with train.load(path, {about['class']}) and wrap it: params.Denoiser(net, schedule)")
    model = Denoiser(load_network(path, device, kind=kind), from_config(spec["schedule"]), spec["target"],
                     clip=spec["clip"], sample_shape=spec["sample_shape"])
    return model.eval()


def load_ddpm(name: str, device=None) -> Denoiser:
    """The shipped DDPM `name` as a Denoiser (EMA weights, eval mode, x0 clipped to [-1, 1]) on `device`."""
    path = path_of(name)
    if not path.exists():
        raise FileNotFoundError(f"load_ddpm: {path} is missing; remake it with "
                                f"`python scripts/train_ddpm.py {name} --force`")
    return load_denoiser(path, device, kind=UNet)


def sample_digits(model: Denoiser, n: int, steps: int = 100, *, size: int | None = None,
                  generator: torch.Generator | None = None, batch_size: int = 250, device=None) -> torch.Tensor:
    """n images (n, 1, size, size) from `model` by DDPM ancestral sampling (Ho et al. 2020,
    Algorithm 2) over `steps` uniform steps, clipped to [-1, 1]; drawn in batches of batch_size.
    The size is the model's (model.sample_shape); size is needed only for a model that does not know it.
    A bar shows the steps of calls longer than sampling.PROGRESS_DELAY seconds."""
    check_generator(generator, "pretrained.sample_digits")
    from .samplers import ddpm
    from .sampling import progress_bar, whole_number
    from .schedules import uniform_grid

    known = getattr(model, "sample_shape", None)
    if known is not None and size is not None and tuple(known) != (1, size, size):
        raise ValueError(f"sample_digits: this model makes images of shape {tuple(known)} "
                         f"(size {known[-1]}), not size {size}; leave size out")
    if known is None and size is None:
        raise ValueError("sample_digits: this model does not record its image size; pass size=8 or 28 "
                         "(or build it with Denoiser(..., sample_shape=(1, size, size)))")
    shape = tuple(known) if known is not None else (1, size, size)
    device = device or next(model.parameters()).device
    gen_device = generator.device if generator is not None else torch.device("cpu")
    n, steps, out = whole_number(n, "n", "sample_digits"), whole_number(steps, "steps", "sample_digits"), []
    with progress_bar(-(-n // batch_size) * steps, "sample_digits") as bar:  # closed on Ctrl-C too
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            x = torch.randn(b, *shape, generator=generator, device=gen_device).to(device)
            for step in ddpm(model, x, uniform_grid(steps), model.schedule, generator=generator):
                bar.update()
            out.append(step.x.clamp(-1, 1))
    return torch.cat(out)


# ---- text to image (lesson 10) ---------------------------------------------------------------------

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


def text_recipe(name: str) -> dict:
    """The recipe of a shipped text-to-image model ('scenes' or 'scenes_bag')."""
    if name not in TEXT_RECIPES:
        raise ValueError(f"pretrained: unknown text-to-image model {name!r}; choose one of {sorted(TEXT_RECIPES)}")
    return TEXT_RECIPES[name]


def text_path(name: str) -> Path:
    return DATA_DIR / text_recipe(name)["file"]


def text_info(name: str) -> dict:
    """What the text-to-image checkpoint says about itself: config, denoiser spec, and meta."""
    return info(text_path(name))


def snapshots_path(name: str) -> Path:
    """Where the half-precision EMA weights kept during the training of `name` are (its recipe's `snapshots`)."""
    return snapshots_file(text_path(name))


def snapshots_file(path) -> Path:
    """The snapshot bundle beside a text-to-image checkpoint: data/text2image.pt -> data/text2image_steps.pt."""
    path = Path(path)
    return path.with_name(path.stem + "_steps.pt")


def load_text2image(name: str = "scenes", device=None, *, path=None, step: int | None = None):
    """(Denoiser, Tokenizer) of the shipped text-to-image model `name` (or the file `path`); `step` picks
    a snapshot saved during training (see `snapshot_steps`) instead of the final EMA weights."""
    path = Path(path) if path is not None else text_path(name)
    if not path.exists():
        raise FileNotFoundError(f"load_text2image: {path} is missing; remake it with "
                                f"`python scripts/train_text2image.py {name} --force`")
    about = info(path)
    shipped = ", ".join(f"{n!r} ({r['file']})" for n, r in TEXT_RECIPES.items())
    if about["class"] != TextUNet.__name__ or about["denoiser"] is None or "vocabulary" not in about["meta"]:
        raise ValueError(f"load_text2image: {path} holds a {about['class']}"
                         f"{'' if about['denoiser'] else ' (no Denoiser)'}, not a pixel text-to-image model; "
                         f"the text-to-image models are {shipped} (pretrained.load_ddpm reads the digit DDPMs)")
    if about["config"].get("in_channels", 3) != 3:
        raise ValueError(f"load_text2image: {path} is a latent text-to-image model (it makes "
                         f"{about['config']['in_channels']}-channel latents, not images); load it with "
                         f"latent.load_pipeline()")
    model = load_denoiser(path, device, kind=TextUNet)
    tok = model.net.tokenizer(about["meta"]["vocabulary"])  # checks the vocabulary fits the network
    if step is not None:
        snaps = _snapshots(path, "load_text2image")
        if step not in snaps["steps"]:
            raise ValueError(f"load_text2image: no snapshot at step {step!r}; {snapshots_file(path).name} "
                             f"holds steps {snaps['steps']} (or step=None: the final weights)")
        state = snaps["states"][snaps["steps"].index(step)]
        model.net.load_state_dict({k: v.float() for k, v in state.items()})
    return model, tok


def snapshot_steps(name: str = "scenes") -> list[int]:
    """The training steps at which `name`'s weights were kept."""
    return _snapshots(text_path(name), "snapshot_steps")["steps"]


def _snapshots(path: Path, who: str) -> dict:
    """The snapshot bundle beside the checkpoint `path`, or a message naming the models that kept one."""
    bundle = snapshots_file(path)
    if not bundle.exists():
        kept = [n for n, r in TEXT_RECIPES.items() if r["snapshots"]]
        raise ValueError(f"{who}: {path.name} kept no snapshots ({bundle.name} is missing); the models trained "
                         f"with snapshots are {kept}, e.g. load_text2image({kept[0]!r}, step=...), "
                         f"or pass step=None for the final weights")
    return read(bundle, SNAPSHOTS_FORMAT)


def load_scene_reader(device=None) -> SceneReader:
    """The shipped attribute reader (scripts/train_reader.py), eval mode, frozen."""
    return load_network(DATA_DIR / "scene_reader.pt", device, kind=SceneReader)


# ---- latent diffusion (lesson 11) ------------------------------------------------------------------

# Three models, trained in this order by scripts/train_latent.py, each on the 'train' side of the
# scenes only (the held-out combinations never appear):
# - autoencoder: 24x24x3 images <-> 6x6x4 latents (12x fewer numbers), MSE plus a light KL term;
# - clip: a contrastive image and text encoder; every two-object scene of a batch comes with its
#   colour-swapped twin ('a red fish and a blue can' beside 'a blue fish and a red can'), so that
#   the text encoder must bind colours to objects (the hard negatives of Yuksekgonul et al. 2023);
# - latent: a TextUNet on the scaled latents, cross-attending to the frozen clip text encoder's word
#   vectors, caption dropout p_uncond for classifier-free guidance; otherwise lesson 10's recipe.
# captions: 'grammar' (minidiff.captions.say, the held-out phrasings never drawn), where lesson 10's
# pixel models read the ten 'templates' (scenes.random_caption).
_SCENES_DATA = dict(images=60_000, data_seed=0, seed=0, captions="grammar")
LATENT_RECIPES = {
    "autoencoder": dict(_SCENES_DATA, file="autoencoder.pt", latent_channels=4, width=32, beta=1e-4,
                        lr=1e-3, batch_size=64),
    "clip": dict(_SCENES_DATA, file="clip.pt", dim=64, text_dim=64, heads=4, layers=2, max_len=20, width=32,
                 lr=1e-3, batch_size=128, swapped_twins=True),
    # the same without the colour-swapped twins: lesson 11 measures what they are for
    "clip_plain": dict(_SCENES_DATA, file="clip_plain.pt", dim=64, text_dim=64, heads=4, layers=2, max_len=20,
                       width=32, lr=1e-3, batch_size=128, swapped_twins=False),
    "latent": dict(_SCENES_DATA, file="latent_text2image.pt", channels=[64, 128], cross_levels=[0, 1],
                   target="eps", p_uncond=0.1, schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                   lr=1e-3, batch_size=64, ema=0.999),
}


def latent_recipe(name: str) -> dict:
    """The recipe of 'autoencoder', 'clip' or 'latent' (lesson 11's models)."""
    if name not in LATENT_RECIPES:
        raise ValueError(f"pretrained: unknown lesson-11 model {name!r}; choose one of {sorted(LATENT_RECIPES)}")
    return LATENT_RECIPES[name]


def latent_path(name: str) -> Path:
    return DATA_DIR / latent_recipe(name)["file"]


def latent_info(name: str) -> dict:
    """What a lesson-11 checkpoint says about itself: config, denoiser spec (or None), and meta
    (steps, seconds, threads, recipe, and the scores scripts/train_latent.py measured)."""
    return info(_need(name))


def _need(name: str) -> Path:
    return _need_file(latent_path(name), f"train_latent.py {name}")


def load_autoencoder(device=None) -> Autoencoder:
    """The shipped scene autoencoder (its latent scale included), eval mode, frozen."""
    return load_network(_need("autoencoder"), device, kind=Autoencoder)


def load_clip(device=None, name: str = "clip") -> ContrastiveModel:
    """The shipped contrastive image-text model, eval mode, frozen ('clip_plain': trained without the
    colour-swapped twins); `.tokenizer` is the tokenizer of the words it was trained on."""
    if name not in ("clip", "clip_plain"):
        raise ValueError(f"load_clip: name must be 'clip' or 'clip_plain', got {name!r}")
    model = load_network(_need(name), device, kind=ContrastiveModel)
    model.tokenizer = Tokenizer(info(_need(name))["meta"]["vocabulary"], max_len=model.config["max_len"])
    return model


def load_latent_denoiser(device=None) -> Denoiser:
    """The latent text-to-image Denoiser (a TextUNet on (4, 6, 6) latents, frozen clip text encoder)."""
    return load_denoiser(_need("latent"), device, kind=TextUNet)


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


def beyond_recipe(name: str) -> dict:
    """The recipe of lesson 12's 'halves8' or 'rare8' models."""
    if name not in BEYOND_RECIPES:
        raise ValueError(f"pretrained: unknown lesson-12 model {name!r}; choose one of {sorted(BEYOND_RECIPES)}")
    return BEYOND_RECIPES[name]


def half_indices(half: str, n: int) -> torch.Tensor:
    """Indices into load_digits(8, 'train') of half 'a' or 'b' at training-set size n (disjoint halves)."""
    r = beyond_recipe("halves8")
    total = len(_train_labels())
    if half not in r["halves"]:
        raise ValueError(f"half_indices: half must be 'a' or 'b', got {half!r}")
    if not 1 <= n <= total // 2:
        raise ValueError(f"half_indices: n must be between 1 and {total // 2} (half the training split), got {n}")
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(r["split_seed"]))
    pool = perm[: total // 2] if half == "a" else perm[total // 2: 2 * (total // 2)]
    return pool[:n]


def rare_indices() -> torch.Tensor:
    """Indices into load_digits(8, 'train') that "rare8" was trained on: every digit but `rare`, kept
    whole, and the first `keep` share of the rare digit's images (in a fixed random order)."""
    r = beyond_recipe("rare8")
    labels = _train_labels()
    g = torch.Generator().manual_seed(r["split_seed"])
    rare = (labels == r["rare"]).nonzero().flatten()
    rare = rare[torch.randperm(len(rare), generator=g)][: round(r["keep"] * len(rare))]
    common = (labels != r["rare"]).nonzero().flatten()
    return torch.cat([common, rare]).sort().values


def _train_labels() -> torch.Tensor:
    return load_digits(8, "train")[1]


def beyond_path(name: str, n: int | None = None, half: str | None = None) -> Path:
    """data/rare8.pt, or data/halves8/n{n}{half}.pt for one network of the halves experiment."""
    beyond_recipe(name)
    if name == "rare8":
        return DATA_DIR / "rare8.pt"
    r = BEYOND_RECIPES["halves8"]
    if n not in r["sizes"] or half not in r["halves"]:
        raise ValueError(f"beyond_path: 'halves8' has sizes {r['sizes']} and halves {r['halves']}; "
                         f"got n={n!r}, half={half!r}")
    return DATA_DIR / "halves8" / f"n{n}{half}.pt"


def load_half(n: int, half: str, device=None) -> Denoiser:
    """The U-Net trained on half `half` ('a' or 'b') of size n (lesson 12), as a whole Denoiser."""
    return load_denoiser(_need_file(beyond_path("halves8", n, half), "train_beyond.py halves8"), device, kind=UNet)


def load_rare(device=None) -> Denoiser:
    """The class-conditional U-Net trained with the digit 3 made rare (lesson 12)."""
    return load_denoiser(_need_file(beyond_path("rare8"), "train_beyond.py rare8"), device, kind=UNet)


def _need_file(path: Path, script: str) -> Path:
    """path, or a FileNotFoundError that gives the command that remakes it (script: 'train_x.py NAME')."""
    if not path.exists():
        raise FileNotFoundError(f"pretrained: {path} is missing; remake it with `python scripts/{script} --force`")
    return path
