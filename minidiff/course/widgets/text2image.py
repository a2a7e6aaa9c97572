"""The text box of lesson 10: type a prompt, move the guidance weight w and the seed, and see samples of a
text-to-image model with how many of them show what the prompt asks (read by the scene reader).

An unknown word is not an error here: the label shows the tokenizer's message (which names the word and
the nearest known ones), the words the model knows are listed below it, and the last picture stays.
Every (prompt, w, seed) is computed once."""

import html

import ipywidgets
import torch

from ...worlds import text2image
from ...worlds.metrics.scenes import adherence
from ..plot.text import image_grid
from ...worlds.scenes import GOLDFISH_PROMPT
from ...core.text import UnknownWord
from ._controls import FigureControls, int_slider, slider


class PromptControls(FigureControls):
    """FigureControls whose draw may fail with a message (ValueError): the label shows it and the
    picture stays. A label is one line, so the tokenizer's list of known words goes below it, in
    `.words`, which wraps (and is hidden while the prompt is fine)."""

    def __init__(self, draw, label, controls: dict, dpi: int = 80, sharpness: int = 2):
        self.error = None
        self.words = ipywidgets.HTML(layout=ipywidgets.Layout(display="none"))
        super().__init__(draw, label, controls, dpi, sharpness)
        self.children = (*self.children[:2], self.words, *self.children[2:])  # controls, label, words, picture

    def redraw(self) -> None:
        values = self.values
        try:
            fig = self.draw(**values)
        except ValueError as err:  # e.g. Tokenizer: unknown word 'goldfsh' ...; did you mean 'gold'?
            self.error = str(err)
            known = err.known if isinstance(err, UnknownWord) else ""
            self.label.value, self.label.tooltip = (err.problem if known else self.error), self.error
            self.words.value = html.escape(known)
            self.words.layout.display = None if known else "none"
            return
        self.error = None
        self.show(fig)
        self.label.value = self.label_of(**values)
        self.label.tooltip, self.words.layout.display = None, "none"


def prompt_explorer(model, tok, reader, prompt: str = GOLDFISH_PROMPT, *, n: int = 8, w: float = 3.0,
                    steps: int = 20, seed: int = 0, max_w: float = 8.0, max_seed: int = 99,
                    decoder=None) -> PromptControls:
    """A text box for the prompt, sliders for the guidance weight w (0..max_w) and the seed: n samples of
    the text-to-image model (text2image.sample, DDIM with `steps` steps; the seed fixes the starting noise,
    the same for every prompt and w) and a label with how many adhere to the prompt
    (metrics.scenes.adherence with the scene reader). `.cache` holds what was computed, by (prompt ids, w,
    seed). With a decoder (lesson 11's Autoencoder) the model samples latents, decoded to images."""
    cache = {}

    def measure(prompt, w, seed):
        ids = tok([prompt])  # an unknown word raises ValueError here, before any sampling
        key = (tuple(ids[0].tolist()), float(w), int(seed))
        if key not in cache:
            images = text2image.sample(model, tok, prompt, n=n, w=w, steps=steps,
                                       generator=torch.Generator().manual_seed(seed), decoder=decoder)
            cache[key] = (images, int(adherence(reader, images, prompt).sum()))
        return cache[key]

    def shown(prompt):
        return repr(prompt.strip()) if prompt.strip() else "the empty caption"

    def draw(prompt, w, seed):
        images, _ = measure(prompt, w, seed)
        return image_grid(images, ncols=min(n, 8), size=0.9, title=f"{shown(prompt)}, w = {w:g}, seed {seed}")

    def label(prompt, w, seed):
        _, hits = measure(prompt, w, seed)
        return f"{shown(prompt)}, w = {w:g}, seed {seed}: {hits} of {n} samples show what the prompt asks"

    box = ipywidgets.Text(value=prompt, description="prompt", continuous_update=False,
                          layout=ipywidgets.Layout(width="28em"))
    ui = PromptControls(draw, label, {"prompt": box, "w": slider("w", 0.0, max_w, w, 0.5),
                                      "seed": int_slider("seed", 0, max_seed, seed)})
    ui.children[0].layout.flex_flow = "row wrap"  # the text box and two sliders: wrap on a narrow screen
    ui.cache = cache
    return ui
