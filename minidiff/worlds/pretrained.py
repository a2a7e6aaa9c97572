"""The shipped models, loaded whole: the DDPMs, the text-to-image and latent models, lesson 12's U-Nets.

    model = pretrained.load_ddpm("digits8")     # a Denoiser: model(x, t).eps, .x0, .schedule
    x = pretrained.sample_digits(model, 64)     # the image size comes from the model

A checkpoint written by `train.save(path, denoiser)` holds the network (class, config, weights) and
the denoiser's spec (schedule, target, clip, sample shape), so `load_denoiser` needs nothing else.
minidiff.registry lists every shipped file: its recipe (RECIPES, TEXT_RECIPES, ... are the registry's,
named here too), the command that remakes it and its loader; data/CHECKPOINTS.md records the steps,
time and metrics each one reached. Evaluation lives in minidiff.metrics (digit_quality).
"""

from pathlib import Path

import torch

from . import registry
from ..core.checkpoints import SNAPSHOTS_FORMAT, info, load, read
from .data import DATA_DIR, load_digits  # noqa: F401 - DATA_DIR: pretrained.DATA_DIR, as before
from ..core.nets import MLP, DigitClassifier, NoisyDigitClassifier, UNet
from ..core.nets.autoencoder import Autoencoder
from ..core.nets.contrastive import ContrastiveModel
from .reader import SceneReader
from ..core.nets.text_unet import TextUNet
from ..core.params import Denoiser
from .registry import BEYOND_RECIPES, CLASSIFIER_RECIPES, LATENT_RECIPES, RECIPES, TEXT_RECIPES  # noqa: F401
from ..core.schedules import from_config
from ..core.text import Tokenizer
from ..runtime import check_generator

# The network classes a checkpoint may name, by the class name train.save records.
NETWORKS = {cls.__name__: cls for cls in (MLP, UNet, DigitClassifier, NoisyDigitClassifier, TextUNet, SceneReader,
                                          Autoencoder, ContrastiveModel)}

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
    recipe(name)  # its message names the DDPMs
    return registry.path(name)


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
    return load_denoiser(_need_file(path_of(name), name, "load_ddpm"), device, kind=UNet)


def sample_digits(model: Denoiser, n: int, steps: int = 100, *, size: int | None = None,
                  generator: torch.Generator | None = None, batch_size: int = 250, device=None) -> torch.Tensor:
    """n images (n, 1, size, size) from `model` by DDPM ancestral sampling (Ho et al. 2020,
    Algorithm 2) over `steps` uniform steps, clipped to [-1, 1]; drawn in batches of batch_size.
    The size is the model's (model.sample_shape); size is needed only for a model that does not know it.
    A bar shows the steps of calls longer than sampling.PROGRESS_DELAY seconds."""
    check_generator(generator, "pretrained.sample_digits")
    from ..core.samplers import ddpm
    from ..core.sampling import progress_bar, whole_number
    from ..core.schedules import uniform_grid

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

def text_recipe(name: str) -> dict:
    """The recipe of a shipped text-to-image model ('scenes' or 'scenes_bag')."""
    if name not in TEXT_RECIPES:
        raise ValueError(f"pretrained: unknown text-to-image model {name!r}; choose one of {sorted(TEXT_RECIPES)}")
    return TEXT_RECIPES[name]


def text_path(name: str) -> Path:
    text_recipe(name)  # its message names the text-to-image models
    return registry.path(name)


def text_info(name: str) -> dict:
    """What the text-to-image checkpoint says about itself: config, denoiser spec, and meta."""
    return info(text_path(name))


def snapshots_file(path) -> Path:
    """The snapshot bundle beside a text-to-image checkpoint: data/text2image.pt -> data/text2image_steps.pt."""
    path = Path(path)
    return path.with_name(path.stem + "_steps.pt")


def load_text2image(name: str = "scenes", device=None, *, path=None, step: int | None = None):
    """(Denoiser, Tokenizer) of the shipped text-to-image model `name` (or the file `path`); `step` picks
    a snapshot saved during training (see `snapshot_steps`) instead of the final EMA weights."""
    path = _need_file(Path(path) if path is not None else text_path(name), name, "load_text2image")
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
    return load_network(_need_file(registry.path("scene_reader"), "scene_reader"), device, kind=SceneReader)


# ---- latent diffusion (lesson 11) ------------------------------------------------------------------

def latent_recipe(name: str) -> dict:
    """The recipe of 'autoencoder', 'clip' or 'latent' (lesson 11's models)."""
    if name not in LATENT_RECIPES:
        raise ValueError(f"pretrained: unknown lesson-11 model {name!r}; choose one of {sorted(LATENT_RECIPES)}")
    return LATENT_RECIPES[name]


def latent_path(name: str) -> Path:
    latent_recipe(name)  # its message names lesson 11's models
    return registry.path(name)


def latent_info(name: str) -> dict:
    """What a lesson-11 checkpoint says about itself: config, denoiser spec (or None), and meta
    (steps, seconds, threads, recipe, and the scores scripts/train_latent.py measured)."""
    return info(_need(name))


def _need(name: str) -> Path:
    return _need_file(latent_path(name), name)


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
        return registry.path("rare8")
    r = BEYOND_RECIPES["halves8"]
    if n not in r["sizes"] or half not in r["halves"]:
        raise ValueError(f"beyond_path: 'halves8' has sizes {r['sizes']} and halves {r['halves']}; "
                         f"got n={n!r}, half={half!r}")
    return registry.path("halves8") / f"n{n}{half}.pt"


def load_half(n: int, half: str, device=None) -> Denoiser:
    """The U-Net trained on half `half` ('a' or 'b') of size n (lesson 12), as a whole Denoiser."""
    return load_denoiser(_need_file(beyond_path("halves8", n, half), "halves8"), device, kind=UNet)


def load_rare(device=None) -> Denoiser:
    """The class-conditional U-Net trained with the digit 3 made rare (lesson 12)."""
    return load_denoiser(_need_file(beyond_path("rare8"), "rare8"), device, kind=UNet)


def _need_file(path: Path, name: str, who: str = "pretrained") -> Path:
    """path, or a FileNotFoundError that gives the command that remakes it (the registry's, for `name`)."""
    if not path.exists():
        raise FileNotFoundError(f"{who}: {path} is missing; remake it with `{registry.entry(name).command}`")
    return path
