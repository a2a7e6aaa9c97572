"""Prompts in, images out, and how often the images show what was asked (lesson 10).

    model, tok = pretrained.load_text2image("scenes")
    images = text2image.sample(model, tok, "a gold fish and a red can on the beach", n=16, w=3)
    text2image.adherence_table(model, tok, reader, ws=(0, 3))

Sampling is DDIM (eta = 0) on a uniform grid with classifier-free guidance on the caption
(guidance.ClassifierFree): w = 0 ignores the caption, w = 1 is the plain conditional model.
"""

import torch

from . import scenes as S
from ..core.guidance import ClassifierFree
from .metrics.scenes import adherence
from ..core.nets.text_unet import EncodedText
from ..core.samplers import SAMPLERS
from ..core.sampling import progress_bar, whole_number
from ..core.schedules import uniform_grid

def prompt_list(prompts, n: int, where: str) -> list:
    """A caption or a list of them -> each caption n times (checked: captions, at least one, n >= 1)."""
    prompts = [prompts] if isinstance(prompts, str) else prompts
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError(f"{where}: prompts must be a caption or a non-empty list of captions ('' is the "
                         f"empty caption), got {type(prompts).__name__} {prompts!r}"[:300])
    bad = next((i for i, p in enumerate(prompts) if not isinstance(p, str)), None)
    if bad is not None:  # ids or numbers: the pipeline tokenises the captions itself
        raise TypeError(f"{where}: every prompt must be a caption (a string), got {type(prompts[bad]).__name__} "
                        f"{prompts[bad]!r}"[:200] + f" at position {bad}")
    whole_number(n, "n", where)
    return [p for p in prompts for _ in range(n)]


def encode(model, ids: torch.Tensor) -> EncodedText:
    """Caption ids (B, L) through the model's text encoder, once: what every step then attends to."""
    with torch.no_grad():
        return model.net.encode(ids.to(next(model.parameters()).device))


def guided_steps(model, text, noise: torch.Tensor, *, w: float = 3.0, steps: int = 30, sampler: str = "ddim",
                 negative=None):
    """The sampler's steps (samplers.Step: t, x, x0) from `noise`, with classifier-free guidance on the
    captions `text` (EncodedText from `encode`, or ids (B, L), then encoded here once), over a uniform
    grid of `steps` steps: a generator, to watch the samples form. `negative` (encoded or ids, one
    caption or one per sample) takes the empty caption's place in guidance: a negative prompt."""
    device = next(model.parameters()).device
    with torch.no_grad():  # no yield inside: the caller's grad mode is back at every step
        if negative is not None and not isinstance(negative, EncodedText):
            negative = encode(model, negative)
        guided = ClassifierFree(model, text if isinstance(text, EncodedText) else encode(model, text), w, negative)
    # the samplers run each step without grad, and give the caller's grad mode back at every yield
    yield from SAMPLERS[sampler](guided, noise.to(device), uniform_grid(steps), model.schedule)


def decode(x: torch.Tensor, decoder=None) -> torch.Tensor:
    """Samples -> images in [-1, 1] on the CPU: latents through the decoder (lesson 11), pixels as they are."""
    with torch.no_grad():
        x = decoder.decode_latents(x) if decoder is not None else x
    return x.clamp(-1, 1).cpu()


def sample(model, tok, prompts, *, n: int = 1, w: float = 3.0, steps: int = 30, sampler: str = "ddim",
           generator: torch.Generator | None = None, batch_size: int = 200, decoder=None,
           progress: bool = True, negative: str | None = None) -> torch.Tensor:
    """n images (3, 24, 24) in [-1, 1] per prompt (a caption or a list of them). With a decoder (an
    Autoencoder, lesson 11) the model samples latents of its sample_shape, and the decoder makes them
    images. `negative`: a caption for guidance to steer away from, in place of the empty one. A bar
    shows the steps of calls that last longer than sampling.PROGRESS_DELAY seconds."""
    prompts, steps = prompt_list(prompts, n, "text2image.sample"), whole_number(steps, "steps", "text2image.sample")
    if sampler not in SAMPLERS:
        raise ValueError(f"sample: sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    if negative is not None and not isinstance(negative, str):
        raise TypeError(f"sample: negative must be one caption (a string), got {type(negative).__name__}")
    ids = tok(prompts)  # unknown words fail here, before any sampling
    away = None if negative is None else encode(model, tok([negative]))
    shape = tuple(getattr(model, "sample_shape", None) or (3, S.SIZE, S.SIZE))
    chunks, out = ids.split(batch_size), []
    with progress_bar(len(chunks) * steps, "text2image.sample", progress) as bar:  # closed on Ctrl-C too
        for chunk in chunks:
            noise = torch.randn(len(chunk), *shape, generator=generator)  # on the CPU: the same on every device
            for step in guided_steps(model, encode(model, chunk), noise, w=w, steps=steps, sampler=sampler,
                                     negative=away):
                bar.update()
            out.append(decode(step.x, decoder))
    return torch.cat(out)  # a call stopped by Ctrl-C returns nothing and leaves nothing behind


def prompt_adherence(model, tok, reader, prompts, *, n: int = 8, w: float, steps: int = 30,
                     generator: torch.Generator | None = None, decoder=None) -> float:
    """The share of samples (n for each prompt) that adhere to their prompt."""
    asked = prompt_list(prompts, n, "prompt_adherence")
    images = sample(model, tok, asked, w=w, steps=steps, generator=generator, decoder=decoder)
    return adherence(reader, images, asked).float().mean().item()


def prompt_suites(k: int = 16) -> dict:
    """The prompt sets of the lesson's table: k seen, k held-out, and the goldfish prompt."""
    return {"seen": S.prompt_set("train", k), "held_out": S.prompt_set("held_out", k),
            "goldfish": [S.GOLDFISH_PROMPT]}


def adherence_table(model, tok, reader, *, ws=(0.0, 1.0, 3.0), k: int = 16, per_prompt: int = 8,
                    goldfish_n: int = 64, steps: int = 30, generator: torch.Generator | None = None,
                    decoder=None) -> dict:
    """{suite: {w: adherence}} for the seen, held-out and goldfish prompts."""
    table = {}
    for name, prompts in prompt_suites(k).items():
        n = goldfish_n if name == "goldfish" else per_prompt
        table[name] = {f"{w:g}": prompt_adherence(model, tok, reader, prompts, n=n, w=w, steps=steps,
                                                  generator=generator, decoder=decoder) for w in ws}
    return table


def wording_suites(n: int = 64, seed: int = 0) -> dict:
    """{row: prompts} of the wording table (minidiff.captions), each row n samples in all: seen
    phrasings, held-out phrasings, held-out combinations in held-out phrasings (16 prompts each), every
    goldfish wording (one prompt each), and colour-swapped pairs in both clause orders (16 prompts)."""
    k = min(16, n)
    rows = {kind: S.wording_prompts(kind, k, seed) for kind in ("seen", "held_out_phrasing", "held_out_both")}
    rows.update({f"goldfish: {text}": [text] for text in S.GOLDFISH_WORDINGS})
    rows["colour swaps, both orders"] = S.binding_prompts(max(1, k // 4), seed)
    return rows


def wording_table(model, tok, reader, *, n: int = 64, w: float = 3.0, steps: int = 30,
                  generator: torch.Generator | None = None, decoder=None, seed: int = 0) -> dict:
    """{row: (adhering samples, samples)} over wording_suites(n, seed): n samples a row, spread evenly
    over its prompts (so that minidiff.metrics.share_text can give each row its interval)."""
    out = {}
    for row, prompts in wording_suites(n, seed).items():
        if n % len(prompts):
            raise ValueError(f"wording_table: n = {n} samples do not spread evenly over {len(prompts)} prompts; "
                             "use a multiple of 16")
        asked = prompt_list(prompts, n // len(prompts), "wording_table")
        images = sample(model, tok, asked, w=w, steps=steps, generator=generator, decoder=decoder, progress=False)
        out[row] = (int(adherence(reader, images, asked).sum()), len(asked))
    return out
