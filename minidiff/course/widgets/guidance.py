"""Sliders of lesson 09 (guidance): the guidance weight w on a labelled 2-D mixture (the powered target
beside guided DDPM and DDIM samples, with their distances to it), and classifier-free guided digits
over the digit and w. Both cache what they computed, so a slider moved back to a value costs nothing."""

import functools

import torch

from ...worlds import exact, metrics
from ...core import guidance, samplers, schedules
from ..plot.guidance import guided_digits, powered_panels
from ._controls import FigureControls, int_slider, slider


def powered_explorer(gm, labels, y: int, schedule, w: float = 1.0, max_w: float = 8.0, n: int = 2000,
                     steps: int = 100, lim: float = 4.0, grid: int = 200, parts: int = 4,
                     seed: int = 0) -> FigureControls:
    """A slider over w: the powered density p(x|y)^w p(x)^(1-w) (exact.powered_density) beside the samples
    of classifier-free guided DDPM and DDIM with the exact class-conditional denoiser of the labelled
    mixture gm, and each one's distance to exact samples of that target in floor units
    (metrics.in_floor_units over `parts` parts)."""
    model = exact.conditional_mixture_denoiser(gm, labels, schedule)
    background = gm.sample(n, torch.Generator().manual_seed(seed + 1))  # the whole mixture, in grey
    ts = schedules.uniform_grid(steps)
    cache = {}

    def measure(w):
        if w not in cache:  # a redraw at a value seen before costs nothing
            guided = guidance.ClassifierFree(model, y, w)
            # exact samples of the target, a Sampler (n, generator); a 400-cell grid keeps a redraw quick
            target = functools.partial(exact.sample_powered, gm, labels, y, w, lim=lim, grid=400)
            results = {}
            for name, sampler in (("ddpm", samplers.ddpm), ("ddim", samplers.ddim)):
                # the same starting noise for both samplers and every w
                start = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)).to(gm.means)
                x = samplers.run(sampler(guided, start, ts, schedule, generator=torch.Generator().manual_seed(seed + 3)))
                units = metrics.in_floor_units(x, target, parts=parts, generator=torch.Generator().manual_seed(seed + 2))
                results[name] = (x, units)
            cache[w] = (exact.powered_density(gm, labels, y, w, lim, grid).density, results)
        return cache[w]

    def draw(w):
        density, results = measure(w)
        titles = {name: f"guided {name}, w = {w:g}\n{u:.2f}x the floor from the target"
                  for name, (_, u) in results.items()}
        return powered_panels(density, {name: r[0] for name, r in results.items()}, lim, titles,
                              density_title=f"target p(x|y)^w p(x)^(1-w), w = {w:g}", background=background)

    def label(w):
        _, results = measure(w)
        parts_ = [f"{name} {u:.2f}x" for name, (_, u) in results.items()]
        return f"w = {w:g}, class y = {y}: distance to the powered target, " + ", ".join(parts_) + " the floor"

    return FigureControls(draw, label, {"w": slider("w", 0.0, max_w, w, 0.5)})


def cfg_explorer(model, digit: int = 3, w: float = 2.0, max_w: float = 8.0, n: int = 16, steps: int = 25,
                 seed: int = 0) -> FigureControls:
    """Sliders over the digit and w: n samples of classifier-free guidance (guidance.ClassifierFree) with a
    class-conditional digit model, DDIM with `steps` steps from the same noise for every setting; the
    label says how many the shipped classifier reads as the requested digit."""
    shape = tuple(model.sample_shape)  # (1, size, size)
    device = next(model.parameters()).device
    clf = metrics.load_classifier(shape[-1], device=device)
    noise = torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed)).to(device)
    ts = schedules.uniform_grid(steps)
    cache = {}

    def measure(digit, w):
        if (digit, w) not in cache:
            guided = guidance.ClassifierFree(model, digit, w)
            x = samplers.run(samplers.ddim(guided, noise, ts, model.schedule)).clamp(-1, 1)
            hits = int((metrics.predict(x, clf) == digit).sum())
            cache[digit, w] = (x, hits)
        return cache[digit, w]

    def draw(digit, w):
        x, _ = measure(digit, w)
        return guided_digits({"": x}, ncols=int(n**0.5 + 0.5), size=3.2,
                             titles={"": f"digit {digit}, w = {w:g}"})

    def label(digit, w):
        _, hits = measure(digit, w)
        return f"digit {digit}, w = {w:g}: the classifier reads {hits} of {n} samples as a {digit}"

    return FigureControls(draw, label, {"digit": int_slider("digit", 0, 9, digit),
                                        "w": slider("w", 0.0, max_w, w, 0.5)})
