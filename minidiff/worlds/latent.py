"""Latent diffusion, the way Stable Diffusion is built, small (lesson 11): a text-to-image pipeline
whose stages are objects met before, and the measurements of its autoencoder and contrastive encoder.

    pipe = latent.load_pipeline()
    print(pipe)                                           # what it is made of, stage by stage
    images = pipe("a gold fish and a red can on the beach", n=16, w=3, steps=30, generator=g)

Stages: Tokenizer (lesson 10) -> the frozen contrastive text encoder (nets.contrastive) -> the
denoiser on latents (a TextUNet, lesson 10) under classifier-free guidance (lesson 09) -> a sampler
(lesson 08) -> the autoencoder's decoder (nets.autoencoder). The pipeline keeps nothing between
calls: the same generator state gives the same images.
"""

import copy
import statistics
import time

import numpy as np
import torch

from . import scenes as S
from .captions import say
from ..core.losses import diffusion_loss
from .metrics.scenes import adheres
from ..core.nets.contrastive import retrieval_accuracy
from ..core.nets.text_unet import EncodedText
from ..core import inverse
from ..core.guidance import ClassifierFree
from ..core.samplers import SAMPLERS, run
from ..core.schedules import uniform_grid
from ..core.text import Tokenizer
from ..core.sampling import progress_bar, whole_number
from .text2image import decode, encode, guided_steps, prompt_list


# ---- data for the contrastive encoder ---------------------------------------------------------------

def swapped_twin(scene: S.Scene):
    """The scene with its two things' colours exchanged (same objects, same places), or None when that
    changes nothing (one thing, or two of one colour)."""
    if len(scene.things) != 2 or scene.things[0].colour == scene.things[1].colour:
        return None
    a, b = scene.things
    return S.Scene(scene.background, (a._replace(colour=b.colour), b._replace(colour=a.colour)))


def swapped_twins(scenes: list, seed: int = 1, split: str = "train") -> dict:
    """{i: (twin scene, its image)} for every scene i whose colour-swapped twin exists and lies on the
    `split` side (so no held-out combination sneaks into training through a swap)."""
    if split not in ("train", "held_out"):
        raise ValueError(f"swapped_twins: split must be 'train' or 'held_out', got {split!r}")
    rng, out = np.random.default_rng(seed), {}
    for i, scene in enumerate(scenes):
        twin = swapped_twin(scene)
        if twin is not None and S.held_out(twin) == (split == "held_out"):
            out[i] = (twin, S.render(twin, int(rng.integers(2**31))))
    return out


def retrieval_batch(k: int = 256, seed: int = 0, swaps: bool = False, split: str = "all"):
    """(images (k, 3, 24, 24), captions, scenes): k pairs, no two with the same combination (so each
    caption has exactly one right image). With swaps, k/2 two-thing scenes and their colour-swapped
    twins, captioned with the same template and word order: only which colour goes with which object
    tells a pair apart; the twins too lie on the `split` side."""
    if not isinstance(k, int) or k < 1 or (swaps and k % 2):
        even = ", and even with swaps (pairs of twins)" if swaps else ""
        raise ValueError(f"retrieval_batch: k must be an int >= 1{even}, got {k!r}")
    rng, scenes, used, misses = np.random.default_rng(seed), [], set(), 0
    while len(scenes) < k:
        if misses == 5000:  # there are only so many combinations (238 held out): stop, do not hang
            pairs = " as swapped pairs" if swaps else ""
            raise ValueError(f"retrieval_batch: found only {len(scenes)} distinct combinations of the "
                             f"{split!r} split{pairs}, not {k} (no new one in {misses} draws); ask for fewer")
        misses += 1
        scene = S.random_scene(rng, split)
        group = [scene]
        if swaps:
            twin = swapped_twin(scene)
            if twin is None or (split != "all" and S.held_out(twin) != (split == "held_out")):
                continue
            group.append(twin)
        combos = {s.combination() for s in group}
        # a twin of two things of one kind (a red boat and a blue boat) is the same combination, and
        # a caption that does not say where things stand would fit both images: not a pair to tell apart
        if len(combos) < len(group) or combos & used:
            continue
        used |= combos
        scenes, misses = scenes + group, 0
    captions, images = [], []
    for i in range(0, k, 2 if swaps else 1):
        seed_i = int(rng.integers(2**31))
        for s in scenes[i:i + (2 if swaps else 1)]:
            captions.append(say(s, np.random.default_rng(seed_i)))
            images.append(S.render(s, int(rng.integers(2**31))))
    return torch.stack(images), captions, scenes


@torch.no_grad()
def retrieval_scores(clip, tok: Tokenizer, k: int = 256, repeats: int = 4, seed: int = 100) -> dict:
    """Top-1 retrieval, image to text and text to image, over `repeats` batches of k pairs the encoder
    never saw: 'random' scenes, 'swaps' (pairs that differ only by which object has which colour), and
    'held_out' (scenes of the held-out combinations only; batches of at most 128, as there are 238).
    Mean and standard deviation over the batches."""
    out = {}
    for name, swaps, split, size in (("random", False, "all", k), ("swaps", True, "all", k),
                                     ("held_out", False, "held_out", min(k, 128))):
        runs = []
        for r in range(repeats):
            images, captions, _ = retrieval_batch(size, seed + r, swaps=swaps, split=split)
            runs.append(retrieval_accuracy(clip.similarity(images, tok(captions))))
        out[name] = {d: (float(np.mean([x[d] for x in runs])), float(np.std([x[d] for x in runs])))
                     for d in runs[0]}
    return out


ATTRIBUTES = {"background": S.BACKGROUNDS, "colour": S.COLOURS, "object": S.OBJECTS, "binding": ("as drawn", "swapped")}


def _variant(scene: S.Scene, attribute: str, value: str) -> S.Scene:
    """The scene with its background, or its first thing's colour or object, set to value; for 'binding',
    the scene as drawn or with its two things' colours exchanged."""
    if attribute == "background":
        return scene._replace(background=value)
    if attribute == "binding":
        return scene if value == "as drawn" else swapped_twin(scene)
    first = scene.things[0]._replace(**{attribute: value})
    return scene._replace(things=(first,) + tuple(scene.things[1:]))


@torch.no_grad()
def zero_shot(clip, tok: Tokenizer, images: torch.Tensor, candidates: list) -> torch.Tensor:
    """(B,) index of the caption, among image i's candidates[i] (a list of captions), whose vector is
    nearest to image i's: reading an attribute by comparing the image with words, no training."""
    img = clip.encode_images(images)  # (B, D)
    return torch.stack([(clip.encode_texts(tok(c)) @ v).argmax() for v, c in zip(img, candidates)])


def _truth(scene: S.Scene, attribute: str) -> str:
    if attribute in ("background", "binding"):
        return scene.background if attribute == "background" else "as drawn"
    return getattr(scene.things[0], attribute)


def zero_shot_accuracy(clip, tok: Tokenizer, attribute: str, n: int = 500, seed: int = 0) -> float:
    """Read `attribute` of n fresh scenes zero-shot: each image against one caption per possible value,
    the rest of the caption true. 'background', or the 'colour' or 'object' of a scene's only thing; or
    'binding', for scenes of two things of two colours: the caption against the same caption with the
    colours exchanged ('a red fish and a blue can' or 'a blue fish and a red can'?), where every word of
    both is in the image and only which colour goes with which object tells them apart. Chance is 1 / 4
    for backgrounds, 1 / 6 for colours and objects, 1 / 2 for binding."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"zero_shot_accuracy: attribute must be one of {sorted(ATTRIBUTES)}, got {attribute!r}")
    rng, scenes = np.random.default_rng(seed), []
    while len(scenes) < n:
        scene = S.random_scene(rng, "all")
        if attribute == "binding":
            if swapped_twin(scene) is not None and scene.things[0].object != scene.things[1].object:
                scenes.append(scene)
        elif attribute == "background" or len(scene.things) == 1:
            scenes.append(scene)
    images = torch.stack([S.render(s, int(rng.integers(2**31))) for s in scenes])
    values = ATTRIBUTES[attribute]
    candidates = [[S.caption(_variant(s, attribute, v)) for v in values] for s in scenes]
    truth = torch.tensor([values.index(_truth(s, attribute)) for s in scenes])
    return (zero_shot(clip, tok, images, candidates) == truth).float().mean().item()


# ---- the autoencoder's measurements -----------------------------------------------------------------

@torch.no_grad()
def autoencoder_scores(vae, reader, n: int = 2000, seed: int = 1) -> dict:
    """For fresh images of the 'train' and 'held_out' combinations: mean squared error of the
    reconstructions (pixels in [-1, 1]), and the share of reconstructions that the attribute reader
    reads as the original scene (every attribute and place), next to the same share for the originals."""
    out = {}
    for split in ("train", "held_out"):
        x, scenes = S.sample_scenes(n, seed=seed, split=split)
        back = torch.cat([vae.decode_latents(vae.latents(c)).clamp(-1, 1) for c in x.split(500)])
        read_x, read_back = reader.read(x), reader.read(back)
        out[split] = dict(mse=(back - x).pow(2).mean().item(),
                          agree_original=float(np.mean([adheres(r, s) for r, s in zip(read_x, scenes)])),
                          agree_reconstruction=float(np.mean([adheres(r, s) for r, s in zip(read_back, scenes)])))
    return out


# ---- the pipeline -------------------------------------------------------------------------------------

class TextToImage:
    """prompt -> images, in stages: tokenizer, text encoder (the denoiser's network's, frozen), guided
    denoiser, sampler over a uniform time grid, decoder; `__call__` runs them in that order.
    `decoder` None: the denoiser works on pixels (lesson 10's model in the same frame)."""

    def __init__(self, tokenizer: Tokenizer, denoiser, decoder=None, sampler: str = "ddim"):
        if sampler not in SAMPLERS:
            raise ValueError(f"TextToImage: sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
        if denoiser.sample_shape is None:
            raise ValueError("TextToImage: the denoiser must know its sample_shape (Denoiser(..., sample_shape=))")
        if decoder is not None and tuple(denoiser.sample_shape) != tuple(decoder.latent_shape):
            raise ValueError(f"TextToImage: the denoiser makes {tuple(denoiser.sample_shape)} samples, but the "
                             f"decoder takes latents of shape {tuple(decoder.latent_shape)}; they were not trained "
                             "together")
        self.tokenizer, self.denoiser, self.decoder, self.sampler = tokenizer, denoiser, decoder, sampler
        self.text_encoder = denoiser.net.encoder
        self.schedule = denoiser.schedule

    def __repr__(self) -> str:
        n = lambda m: f"{sum(p.numel() for p in m.parameters()):,} parameters"  # noqa: E731
        space = "latents" if self.decoder is not None else "pixels"
        frozen = "frozen" if not any(p.requires_grad for p in self.text_encoder.parameters()) else "trainable"
        lines = [f"TextToImage on {space} {tuple(self.denoiser.sample_shape)}:",
                 f"  1 tokenizer      Tokenizer, {len(self.tokenizer)} tokens, captions of at most "
                 f"{self.tokenizer.max_len - 1} words",
                 f"  2 text encoder   {type(self.text_encoder).__name__} ({frozen}), {n(self.text_encoder)}",
                 f"  3 denoiser       {type(self.denoiser.net).__name__} predicting {self.denoiser.target}, "
                 f"{n(self.denoiser.net) } (text encoder included), under ClassifierFree guidance",
                 f"  4 schedule       {self.schedule!r}",
                 f"  5 sampler        samplers.{self.sampler} on a uniform time grid"]
        if self.decoder is not None:
            lines.append(f"  6 decoder        {type(self.decoder).__name__}.decode_latents, "
                         f"{n(self.decoder.decoder)}, latent scale {self.decoder.scale.item():.4f}")
        return "\n".join(lines)

    def prompts(self, prompt, n: int = 1) -> list:
        """A caption and n -> n copies; a list of captions -> each n times."""
        return prompt_list(prompt, n, "TextToImage")

    def encode(self, ids: torch.Tensor) -> EncodedText:
        """Caption ids (B, L) -> their word vectors (EncodedText), read once for all the steps."""
        return encode(self.denoiser, ids)

    def noise(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Where sampling starts: (count, *sample_shape) standard normal numbers, drawn on the CPU."""
        return torch.randn(count, *self.denoiser.sample_shape, generator=generator)

    def denoise_steps(self, text, noise: torch.Tensor, *, w: float = 3.0, steps: int = 30):
        """The sampler's steps (samplers.Step: t, x, x0) from `noise`, under classifier-free guidance on
        the captions `text` (from .encode; ids are encoded once first); a generator, to watch the
        latents (or pixels) form."""
        return guided_steps(self.denoiser, text, noise, w=w, steps=steps, sampler=self.sampler)

    def denoise(self, text, noise: torch.Tensor, *, w: float = 3.0, steps: int = 30) -> torch.Tensor:
        """The sampler run to the end: latents (or pixels)."""
        return run(self.denoise_steps(text, noise, w=w, steps=steps))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> images in [-1, 1] (pixels are only clamped)."""
        return decode(z, self.decoder)

    def __call__(self, prompt, *, n: int = 1, w: float = 3.0, steps: int = 30,
                 generator: torch.Generator | None = None, batch_size: int = 200,
                 progress: bool = True) -> torch.Tensor:
        """Images (len(prompts) * n, 3, 24, 24) in [-1, 1]: the stages above, batch by batch."""
        prompts, steps = self.prompts(prompt, n), whole_number(steps, "steps", "TextToImage")
        ids = self.tokenizer(prompts)  # 1. words -> ids (an unknown word fails here, before any sampling)
        chunks, out = ids.split(batch_size), []
        with progress_bar(len(chunks) * steps, "TextToImage", progress) as bar:  # closed on Ctrl-C too
            for chunk in chunks:
                text = self.encode(chunk)  # 2. ids -> one vector per word, once for all the steps
                noise = self.noise(len(chunk), generator)  # 3. where sampling starts
                for step in self.denoise_steps(text, noise, w=w, steps=steps):  # 4. guided sampler steps
                    bar.update()
                out.append(self.decode(step.x))  # 5. latents -> images
        return torch.cat(out)

    # ---- diffusion as a tool (lesson 13): start from an image, not from noise ---------------------------

    def _start(self, images: torch.Tensor, prompt, w: float, where: str):
        """(latents of the images, their captions under classifier-free guidance) for img2img and inpaint."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1:] != (3, S.SIZE, S.SIZE):
            got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"{where}: images must be (B, 3, {S.SIZE}, {S.SIZE}) in [-1, 1], got {got}")
        prompts = self.prompts(prompt, 1) if isinstance(prompt, str) else list(prompt)
        prompts = prompts * len(images) if len(prompts) == 1 else prompts
        if len(prompts) != len(images):
            raise ValueError(f"{where}: {len(images)} images but {len(prompts)} prompts; give one prompt, or one per image")
        device = next(self.denoiser.parameters()).device
        with torch.no_grad():
            z = self.decoder.latents(images.to(device)) if self.decoder is not None else images.to(device)
            guided = ClassifierFree(self.denoiser, self.encode(self.tokenizer(prompts).to(device)), w)
        return z, guided

    def img2img(self, images: torch.Tensor, prompt, *, strength: float = 0.6, w: float = 3.0, steps: int = 30,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """SDEdit on latents (Meng et al. 2022), Stable Diffusion's img2img: each image's latents noised
        to t = strength, then denoised under the prompt over about steps * strength steps and decoded."""
        z, guided = self._start(images, prompt, w, "img2img")
        z = inverse.sdedit(guided, z, strength, whole_number(steps, "steps", "img2img"), self.sampler,
                           generator=generator)
        return self.decode(z)

    def inpaint(self, images: torch.Tensor, mask: torch.Tensor, prompt, *, w: float = 3.0, steps: int = 30,
                resample: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
        """The pixels where mask (1, 24, 24) is 0 painted anew to fit the prompt, the others kept: RePaint
        (Lugmayr et al. 2022; resample=1 is plain replacement) on latents, where a latent cell counts as
        seen only when all its pixels are; after decoding, the seen pixels are pasted back."""
        z, guided = self._start(images, prompt, w, "inpaint")
        mask = torch.as_tensor(mask, dtype=images.dtype)
        factor = S.SIZE // z.shape[-1]  # pixels per latent cell along a side (1 on pixels)
        cells = -torch.nn.functional.max_pool2d(-mask.reshape(1, 1, S.SIZE, S.SIZE), factor)  # a min over each cell
        seen = inverse.masked(z, cells[0].to(z))
        noise = torch.randn(z.shape, generator=generator).to(z)
        ts = uniform_grid(whole_number(steps, "steps", "inpaint"))
        z = run(inverse.repaint(guided, noise, ts, seen, jump=1, resample=resample, generator=generator))
        return mask * images + (1 - mask) * self.decode(z)


def load_pipeline(space: str = "latent", sampler: str = "ddim", device=None) -> TextToImage:
    """The shipped latent pipeline (autoencoder, clip text encoder, latent denoiser), or with
    space='pixel' lesson 10's pixel model in the same frame."""
    from . import pretrained

    if space == "pixel":
        model, tok = pretrained.load_text2image("scenes", device)
        return TextToImage(tok, model, None, sampler)
    if space != "latent":
        raise ValueError(f"load_pipeline: space must be 'latent' or 'pixel', got {space!r}")
    model = pretrained.load_latent_denoiser(device)
    vae = pretrained.load_autoencoder(device)
    vocabulary = pretrained.latent_info("latent")["meta"]["vocabulary"]  # the words it was trained on
    return TextToImage(model.net.tokenizer(vocabulary), model, vae, sampler)


def timings(pipe: TextToImage, batch_size: int = 64, steps: int = 20, repeats: int = 5, train_steps: int = 5,
            generator: torch.Generator | None = None) -> dict:
    """What a pipeline's denoiser costs on this machine, medians over `repeats`: training steps per
    second (Adam on a copy of the network, batches of batch_size, so the shipped weights are untouched)
    and seconds per sampled image (batches of batch_size, `steps` DDIM steps, guided, decoded)."""
    net = copy.deepcopy(pipe.denoiser.net).train().requires_grad_(True)  # shipped networks load frozen
    if getattr(net, "config", {}).get("freeze_encoder"):
        net.encoder.requires_grad_(False)  # as in training: the latent model's text encoder stays fixed
    shape = tuple(pipe.denoiser.sample_shape)
    prompts = [S.prompt(S.random_scene(np.random.default_rng(i))) for i in range(batch_size)]
    ids = pipe.tokenizer(prompts)
    x = torch.randn(batch_size, *shape, generator=generator)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], 1e-4)
    per_step = []
    for i in range(repeats + 1):  # the first round warms up, and is not counted
        start = time.perf_counter()
        for _ in range(train_steps):
            loss = diffusion_loss(net, x, pipe.schedule, target=pipe.denoiser.target, generator=generator, cond=ids)
            opt.zero_grad()
            loss.backward()
            opt.step()
        per_step.append((time.perf_counter() - start) / train_steps)
    per_image = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        pipe(prompts, n=1, w=3.0, steps=steps, generator=generator, progress=False)
        per_image.append((time.perf_counter() - start) / batch_size)
    return {"train_steps_per_second": 1 / statistics.median(per_step[1:]),
            "seconds_per_image": statistics.median(per_image[1:])}
