"""Checkers for lesson 13 (diffusion as a tool): the replacement step of inpainting, Tweedie's estimate
from a noisy observation, and a prediction of which seen grey level breaks inpainting by replacement
on two-pixel images (measured here against the exact conditional).
"""

import torch

from ._core import CORRECT, WRONG, Feedback, Mistake, check_function
from .choices import _rng_kept, number

# --- the replacement step --------------------------------------------------------------------------


def _replacement_cases() -> list:
    cases = []
    for seed, shape, alpha, sigma in ((0, (3, 1, 4, 4), 0.8, 0.6), (1, (2, 1, 6, 6), 0.3, 0.95), (2, (5, 2), 0.99, 0.14)):
        g = torch.Generator().manual_seed(seed)
        x, value, z = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3))
        mask = (torch.rand(shape[1:], generator=g) > 0.5).double()
        cases.append((x, mask, mask * value, alpha, sigma, z))
    return cases


def _replaced(x, mask, value, alpha, sigma, z):
    return (1 - mask) * x + mask * (alpha * value + sigma * z)


REPLACEMENT_MISTAKES = [
    Mistake("the seen part must be the observation noised to this step's level, alpha * value + sigma * z: "
            "the rest of x_t is that noisy, and a clean patch in a noisy image is not an x_t of any image.",
            lambda x, m, v, a, s, z: (1 - m) * x + m * v),
    Mistake("the noise is missing: alpha * value alone has the right mean but not the spread of x_t; add sigma * z.",
            lambda x, m, v, a, s, z: (1 - m) * x + m * a * v),
    Mistake("x_t = alpha x0 + sigma eps: the observation is shrunk by alpha before the noise is added.",
            lambda x, m, v, a, s, z: (1 - m) * x + m * (v + s * z)),
    Mistake("the mask is the wrong way round: mask = 1 marks the SEEN pixels, which get the observation; the "
            "hidden ones (mask = 0) keep the sampler's x.",
            lambda x, m, v, a, s, z: m * x + (1 - m) * (a * v + s * z)),
    Mistake("the hidden part is gone: keep (1 - mask) * x beside the pasted seen part.",
            lambda x, m, v, a, s, z: m * (a * v + s * z)),
]


def replacement_step(fn):
    """fn(x, mask, value, alpha, sigma, z) -> x with its seen part (mask = 1) replaced by alpha value + sigma z."""
    return check_function("the replacement step", fn, _replacement_cases(), _replaced, REPLACEMENT_MISTAKES,
                          rtol=1e-6, atol=1e-9, shape_hint="an x_t like x: (B, ...).")


# --- Tweedie's estimate ----------------------------------------------------------------------------


def _tweedie_cases() -> list:
    from ...worlds.toy import ring, two_pixel_mixture

    cases = []
    for seed, gm, s in ((0, ring(), 0.5), (1, two_pixel_mixture(), 0.2), (2, ring(), 1.5)):
        g = torch.Generator().manual_seed(seed)
        gm = gm.to(torch.float64)
        y = gm.sample(6, generator=g) + s * torch.randn(6, 2, generator=g, dtype=torch.float64)
        cases.append((y, gm.noised(1.0, s).score(y), s))
    return cases


TWEEDIE_MISTAKES = [
    Mistake("the score points uphill, towards the data: add s^2 * score to y, do not subtract it.",
            lambda y, sc, s: y - s**2 * sc),
    Mistake("the step is the noise's variance times the score, s^2 * score, not s * score.",
            lambda y, sc, s: y + s * sc),
    Mistake("y + s^2 * score is the whole estimate: the score is a slope (1 / length), so it needs the "
            "variance s^2 in front of it to be a displacement.",
            lambda y, sc, s: sc),
    Mistake("that is the score of a Gaussian of y alone; Tweedie's formula adds the score of the noisy data's "
            "law to y: E[x | y] = y + s^2 grad log p_s(y).", lambda y, sc, s: y + s**2 * (-y / s**2)),
]


def tweedie_estimate(fn):
    """fn(y, score, s) -> E[x | y] for y = x + s n, given score = grad log p_s(y): Tweedie's y + s^2 score."""
    return check_function("Tweedie's estimate", fn, _tweedie_cases(), lambda y, sc, s: y + s**2 * sc,
                          TWEEDIE_MISTAKES, rtol=1e-6, atol=1e-9, shape_hint="one estimate per observation, like y.")


# --- a prediction: which seen grey level breaks replacement? ------------------------------------------

LEVELS = (45, 128, 210)  # the left pixel's grey level, seen; the right pixel is to be filled in


def replacement_misses(levels=LEVELS, n: int = 1000, steps: int = 100, seed: int = 0) -> dict:
    """{level: how far replacement's right pixels are from the exact conditional, in floor units}, for a
    seen left pixel at each grey level of two-pixel images (exact denoiser, so only the method errs)."""
    from ...worlds.exact import mixture_denoiser, seen_posterior
    from ...core.inverse import masked, replacement
    from ...worlds.metrics import in_floor_units
    from ...core.samplers import run
    from ...core.schedules import VPLinear, uniform_grid
    from ...worlds.toy import two_pixel_mixture

    gm, out = two_pixel_mixture(), {}
    model = mixture_denoiser(gm, VPLinear())
    with _rng_kept():
        for level in levels:
            value = level / 127.5 - 1
            seen = masked(torch.tensor([[value, 0.0]]).expand(n, 2), torch.tensor([1.0, 0.0]))
            g = torch.Generator().manual_seed(seed)
            x = run(replacement(model, torch.randn(n, 2, generator=g), uniform_grid(steps), seen, generator=g))
            truth = seen_posterior(gm, torch.tensor([True, False]), [value])
            out[level] = float(in_floor_units(x[:, 1:], truth.sample, generator=torch.Generator().manual_seed(seed + 1),
                                              parts=2))
    return out


def breaking_level(answer):
    """answer: the seen left level, one of LEVELS, at which replacement misses the exact conditional most."""
    level = number("the level that breaks replacement", answer)
    if isinstance(level, Feedback):
        return level
    if level not in LEVELS:
        return Feedback("the level that breaks replacement", WRONG, f"choose one of the levels {LEVELS}, got {answer}")
    misses = replacement_misses()
    worst = max(misses, key=misses.get)
    table = ", ".join(f"level {k}: {v:.1f}x" for k, v in misses.items())
    if int(level) == worst:
        return Feedback("the level that breaks replacement", CORRECT,
                        f"measured: {table} the floor. The right pixel is most wrong where the seen level should "
                        "shift the odds between clusters that replacement cannot yet tell apart.")
    return Feedback("the level that breaks replacement", WRONG,
                    f"measured: {table} the floor; level {worst} is missed most. Ask at which level the exact "
                    "conditional differs most from what the right pixel looks like before the left one is clear.")
