"""Checkers for lesson 09 (guidance): the classifier-free combination, the classifier-guided eps by
Bayes' rule, converting Ho & Salimans' w to diffusers' guidance_scale, a prediction of guided DDIM's
spread against the powered target's (measured by the checker with exact scores), and the w whose samples
are closest to real digits (measured on the shipped class-conditional 8x8 model)."""

import math

import torch

from ._core import CORRECT, ERROR, NOT_ATTEMPTED, WRONG, Feedback, Mistake, check_function
from .choices import number


def _points(seed: int, n: int = 6) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- the classifier-free combination (Ho & Salimans 2022, eq. 6, with our w = 1 + theirs) ----------------

def _cfg(eps_uncond, eps_cond, w):
    return eps_uncond + w * (eps_cond - eps_uncond)


CFG_CASES = [(_points(0), _points(1), 3.0), (_points(2), _points(3), 0.5), (_points(4), _points(5), 7.5)]
def cfg_mistakes(uncond: str = "eps_uncond", cond: str = "eps_cond", start: str = "the unconditional eps",
                 towards: str = "the conditional one", plain: str = "plain conditional") -> list:
    """The typical wrong classifier-free combinations, worded with the names of a lesson's two eps."""
    right = f"{uncond} + w ({cond} - {uncond})"
    return [
        Mistake(f"{cond} and {uncond} are swapped: start from {start} and move by w towards {towards}, {right}.",
                lambda eu, ec, w: ec + w * (eu - ec)),
        Mistake(f"that is Ho & Salimans' convention, (1 + w) {cond} - w {uncond}, where w = 0 is {plain}; "
                f"here w = 1 must give {cond}: {right}.", lambda eu, ec, w: (1 + w) * ec - w * eu),
        Mistake(f"you left out the starting point: w ({cond} - {uncond}) is only the step; add it to {uncond}.",
                lambda eu, ec, w: w * (ec - eu)),
        Mistake(f"w multiplies the difference {cond} - {uncond}, not {cond} alone: {right}.",
                lambda eu, ec, w: eu + w * ec),
    ]


CFG_MISTAKES = cfg_mistakes()


def cfg_combination(fn) -> Feedback:
    """fn(eps_uncond, eps_cond, w) -> the classifier-free guided eps; w = 0 unconditional, w = 1 conditional."""
    return check_function("classifier-free combination", fn, CFG_CASES, _cfg, CFG_MISTAKES)


# --- the classifier-guided eps by Bayes' rule (Dhariwal & Nichol 2021, section 4.2) ----------------------

def _guided(eps, grad_log_p, sigma, scale):
    # score + scale grad log p(y | x), in eps units (eps = -sigma score)
    return eps - sigma * scale * grad_log_p


GUIDED_CASES = [(_points(6), _points(7), 0.3, 2.0), (_points(8), _points(9), 0.8, 4.0),
                (_points(10), 3 * _points(11), 0.99, 0.5)]
GUIDED_MISTAKES = [
    Mistake("the sign: the classifier's gradient is added to the score, and eps = -sigma score, so "
            "in eps it is subtracted: eps - sigma scale grad.", lambda e, gr, s, w: e + s * w * gr),
    Mistake("eps is -sigma times the score: multiply the classifier's gradient by sigma, not leave it bare.",
            lambda e, gr, s, w: e - w * gr),
    Mistake("multiply the gradient by sigma, do not divide by it: eps = -sigma score.",
            lambda e, gr, s, w: e - w * gr / s),
    Mistake("the guidance scale is missing: eps - sigma * scale * grad.", lambda e, gr, s, w: e - s * gr),
    Mistake("that is the guided score, -eps / sigma + scale grad; the sampler wants it in eps units: "
            "multiply by -sigma.", lambda e, gr, s, w: -e / s + w * gr),
]


def guided_eps(fn) -> Feedback:
    """fn(eps, grad_log_p, sigma, scale) -> the classifier-guided eps, from the score of p(x) p(y|x)^scale."""
    return check_function("classifier-guided eps", fn, GUIDED_CASES, _guided, GUIDED_MISTAKES)


# --- converting w conventions --------------------------------------------------------------------------

def _to_scale(w_hs):
    return 1.0 + w_hs  # diffusers' guidance_scale is our w; Ho & Salimans' w' = w - 1


W_CASES = [(torch.tensor(0.0, dtype=torch.float64),), (torch.tensor(1.0, dtype=torch.float64),),
           (torch.tensor(3.0, dtype=torch.float64),), (torch.tensor(0.3, dtype=torch.float64),)]
W_MISTAKES = [
    Mistake("the two conventions differ by one: Ho & Salimans' w' = 0 is plain conditional sampling, which "
            "diffusers (and this course) call guidance_scale = 1.", lambda w: w),
    Mistake("the other direction: Ho & Salimans' (1 + w') eps_cond - w' eps_uncond equals "
            "eps_uncond + (1 + w') (eps_cond - eps_uncond), so guidance_scale = 1 + w'.", lambda w: w - 1.0),
]


def ho_salimans_to_scale(fn) -> Feedback:
    """fn(w_hs) -> the guidance_scale (diffusers, and this course's w) of Ho & Salimans' weight w'."""
    return check_function("Ho & Salimans' w to guidance_scale", fn, W_CASES, _to_scale, W_MISTAKES)


# --- a measurement: which w gives samples closest to real digits of their class? ------------------------

WS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)


def guidance_frechet(ws=WS, per_digit: int | None = None, steps: int | None = None) -> dict:
    """{w: per-class Frechet distance in floor units (metrics.guidance_scores, the median over digits)} for
    the shipped class-conditional 8x8 DDPM with classifier-free guidance: DDIM, fixed seeds, the same noise
    for every w."""
    from ...core import guidance, samplers, schedules
    from ...worlds import metrics, pretrained
    from ...runtime import by_mode, default_device

    per_digit = per_digit or by_mode(full=30, fast=12)
    steps = steps or by_mode(full=20, fast=10)
    device = default_device()
    model = pretrained.load_ddpm("digits8_cond", device)
    y = torch.arange(10).repeat_interleave(per_digit).to(device)  # (10 per_digit,)
    noise = torch.randn(len(y), 1, 8, 8, generator=torch.Generator().manual_seed(0)).to(device)
    out = {}
    for w in ws:
        guided = guidance.ClassifierFree(model, y, w)
        x = samplers.run(samplers.ddim(guided, noise, schedules.uniform_grid(steps), model.schedule)).clamp(-1, 1)
        out[float(w)] = metrics.guidance_scores(x, y, generator=torch.Generator().manual_seed(1))["frechet"]
    return out


def closest_to_real_w(w, measured: dict | None = None) -> Feedback:
    """w = the guidance weight among WS whose samples are closest to real digits of the requested class
    (the lowest per-class Frechet distance in floor units). The checker measures every w in WS (about half
    a minute on a CPU), or takes `measured` ({w: Frechet}) in tests; within 15% of the best counts as a tie."""
    ex = "the w closest to real digits"
    w = number(ex, w)
    if isinstance(w, Feedback):
        return w
    if not any(abs(w - c) < 1e-9 for c in WS):
        return Feedback(ex, WRONG, f"pick one of the weights measured: {', '.join(f'{c:g}' for c in WS)}.")
    fd = {c: (measured or {})[c] for c in WS} if measured is not None else guidance_frechet(WS)
    mine, best = fd[min(WS, key=lambda c: abs(c - w))], min(fd, key=fd.get)
    table = ", ".join(f"w = {c:g}: {v:.2f}x" for c, v in fd.items())
    if mine <= 1.15 * fd[best]:
        return Feedback(ex, CORRECT, f"w = {w:g} reads {mine:.2f}x the floor, as close as any ({table}): less "
                                     "guidance leaves digits of the wrong class, more makes them too alike.")
    if best > w:
        return Feedback(ex, WRONG, f"more guidance is closer to real digits ({table}): at w = {w:g} too many "
                                   "samples are not the requested digit at all.")
    return Feedback(ex, WRONG, f"less guidance is closer to real digits ({table}): accuracy may still rise "
                               f"beyond w = {best:g}, but the samples become too alike and too heavy to look "
                               "like the real variety of a class.")


# --- a prediction: how wide is guided DDIM's cloud against the powered target's? -----------------------

SPREAD_WORDS = {"narrower": ("narrower", "tighter", "smaller"), "about the same": ("about the same", "same", "equal"),
                "wider": ("wider", "broader", "larger")}
SPREAD_BAND = 0.1  # within 10% of the target's spread reads "about the same"


def ddim_spread_ratio(w: float = 4.0, n: int = 2000, steps: int = 60, seed: int = 0) -> float:
    """The spread (root of the total variance) of guided DDIM's samples over that of exact samples of the
    powered target p(x|y)^w p(x)^(1-w), on lesson 09's labelled mixture with exact scores, class 0."""
    from ...worlds import exact, toy
    from ...core import guidance, samplers, schedules

    g = torch.Generator().manual_seed(seed)
    gm, labels = toy.labelled_mixture()
    schedule = schedules.VPLinear()
    model = guidance.ClassifierFree(exact.conditional_mixture_denoiser(gm, labels, schedule), 0, w)
    x = samplers.run(samplers.ddim(model, torch.randn(n, 2, generator=g), schedules.uniform_grid(steps), schedule))
    target = exact.sample_powered(gm, labels, 0, w, n, generator=g)
    return (x.var(0).sum().sqrt() / target.var(0).sum().sqrt()).item()


def _spread_word(ratio: float) -> str:
    return "narrower" if ratio < 1 - SPREAD_BAND else "wider" if ratio > 1 + SPREAD_BAND else "about the same"


def ddim_spread(answer, measured: float | None = None) -> Feedback:
    """answer: 'narrower', 'about the same' or 'wider', the prediction of guided DDIM's spread at w = 4
    against the powered target's; the checker measures the ratio itself (ddim_spread_ratio, about a second),
    or takes `measured` in tests. Within 10% counts as 'about the same'."""
    ex = "DDIM's spread against the target's"
    if answer is None or answer is ...:
        return Feedback(ex, NOT_ATTEMPTED, "not attempted yet: replace None with your prediction.")
    word = str(answer).strip().lower() if isinstance(answer, str) else None
    choice = next((k for k, words in SPREAD_WORDS.items() if word in words), None)
    if choice is None:
        return Feedback(ex, ERROR, f"answer one of 'narrower', 'about the same' or 'wider', got {answer!r}"[:200])
    ratio = ddim_spread_ratio() if measured is None else float(measured)
    truth = _spread_word(ratio)
    said = f"measured: DDIM's spread is {ratio:.2f} times the target's at w = 4"
    if choice == truth:
        return Feedback(ex, CORRECT, f"{said}. DDIM follows the guided score deterministically, and its pushes "
                                     "away from the other classes add up along the path; nothing spreads the "
                                     "cloud again (DDPM's fresh noise at every step does, in part).")
    if truth == "narrower":
        return Feedback(ex, WRONG, f"{said}: narrower. The guided score is not the score of the powered target "
                                   "at each noise level (section 3); DDIM follows it deterministically, so the "
                                   "extra pushes away from the other classes squeeze its cloud.")
    return Feedback(ex, WRONG, f"{said}: {truth}, not {choice}.")
