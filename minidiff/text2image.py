"""Prompts in, images out, and how often the images show what was asked (lesson 10).

    model, tok = pretrained.load_text2image("scenes")
    images = text2image.sample(model, tok, ["a gold fish and a red can on the beach"] * 16, w=3)
    text2image.adherence_table(model, tok, reader, ws=(0, 3))

Sampling is DDIM (eta = 0) on a uniform grid with classifier-free guidance on the caption
(guidance.ClassifierFree): w = 0 ignores the caption, w = 1 is the plain conditional model.
"""

import torch

from . import scenes as S
from .guidance import ClassifierFree
from .metrics.scenes import adherence
from .samplers import SAMPLERS, run
from .schedules import uniform_grid


def guided_steps(model, ids: torch.Tensor, noise: torch.Tensor, w: float = 3.0, steps: int = 30,
                 sampler: str = "ddim"):
    """The sampler's steps (samplers.Step: t, x, x0) from `noise`, with classifier-free guidance on the
    caption ids, over a uniform grid of `steps` steps: a generator, to watch the samples form."""
    device = next(model.parameters()).device
    guided = ClassifierFree(model, ids.to(device), w)
    with torch.no_grad():
        yield from SAMPLERS[sampler](guided, noise.to(device), uniform_grid(steps), model.schedule)


def decode(x: torch.Tensor, decoder=None) -> torch.Tensor:
    """Samples -> images in [-1, 1] on the CPU: latents through the decoder (lesson 11), pixels as they are."""
    with torch.no_grad():
        x = decoder.decode_latents(x) if decoder is not None else x
    return x.clamp(-1, 1).cpu()


def sample(model, tok, prompts, w: float = 3.0, steps: int = 30, *, sampler: str = "ddim",
           generator: torch.Generator | None = None, batch_size: int = 200, decoder=None) -> torch.Tensor:
    """One image (3, 24, 24) in [-1, 1] per prompt (a caption or a list of them). With a decoder (an
    Autoencoder, lesson 11) the model samples latents of its sample_shape, and the decoder makes them
    images."""
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    if sampler not in SAMPLERS:
        raise ValueError(f"sample: sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    ids = tok(prompts)  # unknown words fail here, before any sampling
    shape = tuple(getattr(model, "sample_shape", None) or (3, S.SIZE, S.SIZE))
    out = []
    for chunk in ids.split(batch_size):
        noise = torch.randn(len(chunk), *shape, generator=generator)  # on the CPU: the same on every device
        out.append(decode(run(guided_steps(model, chunk, noise, w, steps, sampler)), decoder))
    return torch.cat(out)


def prompt_adherence(model, tok, reader, prompts, w: float, per_prompt: int = 8, steps: int = 30,
                     generator: torch.Generator | None = None, decoder=None) -> float:
    """The share of samples (per_prompt for each prompt) that adhere to their prompt."""
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    asked = [p for p in prompts for _ in range(per_prompt)]
    images = sample(model, tok, asked, w, steps, generator=generator, decoder=decoder)
    return adherence(reader, images, asked).float().mean().item()


def prompt_suites(k: int = 16) -> dict:
    """The prompt sets of the lesson's table: k seen, k held-out, and the goldfish prompt."""
    return {"seen": S.prompt_set("train", k), "held_out": S.prompt_set("held_out", k),
            "goldfish": [S.GOLDFISH_PROMPT]}


def adherence_table(model, tok, reader, ws=(0.0, 1.0, 3.0), k: int = 16, per_prompt: int = 8,
                    goldfish_n: int = 64, steps: int = 30, generator: torch.Generator | None = None,
                    decoder=None) -> dict:
    """{suite: {w: adherence}} for the seen, held-out and goldfish prompts."""
    table = {}
    for name, prompts in prompt_suites(k).items():
        n = goldfish_n if name == "goldfish" else per_prompt
        table[name] = {f"{w:g}": prompt_adherence(model, tok, reader, prompts, w, n, steps, generator, decoder)
                       for w in ws}
    return table
