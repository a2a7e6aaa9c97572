"""Checkers for lesson 12 (beyond the basics): the ideal denoiser of a finite training set, and counting
the modes a set of 2-D samples covers (with the share of high-quality samples), as the GAN literature does,
and a prediction of the training-set size at which a network's copying falls below chance.
"""

import torch

from ._core import CORRECT, WRONG, Feedback, Mistake, check_function
from .choices import number

# --- the ideal denoiser --------------------------------------------------------------------------------

# (seed, N points, B queries, D, alpha, sigma): noise levels from nearly clean to nearly pure noise, with
# points far enough apart that a hard nearest-point answer differs from the soft average.
IDEAL_CASES_SPEC = ((0, 5, 4, 2, 0.9, 0.4), (1, 8, 6, 3, 0.6, 0.8), (2, 4, 3, 2, 0.98, 0.45), (3, 6, 5, 4, 0.3, 0.95))


def _ideal_cases() -> list:
    cases = []
    for seed, n, b, d, alpha, sigma in IDEAL_CASES_SPEC:
        g = torch.Generator().manual_seed(seed)
        points = torch.randn(n, d, generator=g, dtype=torch.float64)
        x = alpha * points[torch.randint(n, (b,), generator=g)] + sigma * torch.randn(b, d, generator=g,
                                                                                      dtype=torch.float64)
        cases.append((points, x, alpha, sigma))
    return cases


def _weights(points, x, alpha, sigma, *, scale=1.0, square_sigma=True, use_alpha=True, sign=-1.0, half=True):
    target = (alpha if use_alpha else 1.0) * points  # (N, D)
    d2 = ((x[:, None, :] - target[None]) ** 2).sum(-1)  # (B, N)
    var = sigma**2 if square_sigma else sigma
    return (sign * d2 / ((2 if half else 1) * var) * scale).softmax(dim=1)


def _ideal(points, x, alpha, sigma, **kw):
    return _weights(points, x, alpha, sigma, **kw) @ points


IDEAL_MISTAKES = [
    Mistake("the distances must be to alpha * x_i, not to x_i: x_t = alpha x0 + sigma eps is centred on the "
            "shrunk point, so the likelihood is exp(-|x_t - alpha x_i|^2 / (2 sigma^2)).",
            lambda p, x, a, s: _ideal(p, x, a, s, use_alpha=False)),
    Mistake("the variance of the noise is sigma^2, not sigma: weights exp(-|x_t - alpha x_i|^2 / (2 sigma^2)).",
            lambda p, x, a, s: _ideal(p, x, a, s, square_sigma=False)),
    Mistake("the Gaussian's exponent has a 1/2: exp(-|x_t - alpha x_i|^2 / (2 sigma^2)), not / sigma^2.",
            lambda p, x, a, s: _ideal(p, x, a, s, half=False)),
    Mistake("the sign of the exponent is flipped: with +|x_t - alpha x_i|^2 the weights favour the farthest "
            "points. Nearer training points must weigh more: exp(-|...|^2 / (2 sigma^2)).",
            lambda p, x, a, s: _ideal(p, x, a, s, sign=1.0)),
    Mistake("that is the nearest training point alone (a hard choice). The posterior mean averages every "
            "point with its posterior weight, softmax_i(-|x_t - alpha x_i|^2 / (2 sigma^2)); it becomes the "
            "nearest point only as sigma -> 0.",
            lambda p, x, a, s: p[((x[:, None] - a * p[None]) ** 2).sum(-1).argmin(1)]),
    Mistake("that is the plain mean of the training points, the answer at alpha = 0 only; each point must "
            "be weighted by how likely it is to have produced x_t.",
            lambda p, x, a, s: p.mean(0, keepdim=True).expand(len(x), -1)),
    Mistake("the weighted average is of the training points x_i, not of alpha * x_i: the question is which "
            "clean point x0 was, so the answer is on the data's scale.",
            lambda p, x, a, s: a * _ideal(p, x, a, s)),
    Mistake("the weights must be normalised over the training points (a softmax over i, dim=1 for "
            "(B, N) weights), not over the batch of queries (dim=0).",
            lambda p, x, a, s: (-((x[:, None] - a * p[None]) ** 2).sum(-1) / (2 * s**2)).softmax(0) @ p),
]


def ideal_denoiser(fn):
    """fn(points, x, alpha, sigma) -> E[x0 | x_t = x] (B, D) for training points (N, D), queries x (B, D),
    and the numbers alpha, sigma: the softmax-weighted average of the points, as exact.EmpiricalX0."""
    return check_function("the ideal denoiser", fn, _ideal_cases(), _ideal, IDEAL_MISTAKES, rtol=1e-6, atol=1e-9,
                          shape_hint="one denoised point per query: (B, D), like x.")


# --- counting covered modes ----------------------------------------------------------------------------

def _coverage_cases() -> list:
    from ...worlds.toy import grid, ring

    cases = []
    for seed, gm in ((0, grid()), (1, ring(std=0.05)), (2, grid(k=3, std=0.1))):
        g = torch.Generator().manual_seed(seed)
        k = len(gm.weights)
        keep = torch.randperm(k, generator=g)[: max(1, k // 2)]  # half the modes, the rest left out
        near = gm.means[keep][torch.randint(len(keep), (300,), generator=g)]
        spread = gm.stds[0, 0] * torch.tensor([1.0, 2.5, 4.0])[torch.randint(3, (300,), generator=g)]
        x = near + spread[:, None] * torch.randn(300, 2, generator=g)  # some within 3 std, some not
        x = torch.cat([x, gm.means[:1] + 5 * gm.stds[0, 0]])  # one stray sample near mode 0, not within 3 std
        cases.append((x.double(), gm.means.double(), float(gm.stds[0, 0])))
    return cases


def _nearest(x, means):
    return torch.cdist(x, means).min(1)


def _coverage(x, means, std, within=3.0, need_quality=True, share=True):
    d, k = _nearest(x, means)
    good = d <= within * std if need_quality else torch.ones_like(d, dtype=torch.bool)
    modes = len(k[good].unique())
    hq = (d <= within * std).double()
    return torch.tensor([float(modes), hq.mean().item() if share else hq.sum().item()], dtype=torch.float64)


COVERAGE_MISTAKES = [
    Mistake("a mode counts only when a high-quality sample (within 3 standard deviations) has it as its "
            "nearest mode; you counted every mode that is the nearest of any sample, stray ones included.",
            lambda x, m, s: _coverage(x, m, s, need_quality=False)),
    Mistake("the high-quality radius is 3 standard deviations, 3 * std, not one std.",
            lambda x, m, s: _coverage(x, m, s, within=1.0)),
    Mistake("the second number is a share, the count of high-quality samples divided by the number of "
            "samples, not the count.", lambda x, m, s: _coverage(x, m, s, share=False)),
    Mistake("compare distances (not squared distances) with 3 * std, or squared distances with (3 std)^2.",
            lambda x, m, s: _coverage(x, m, s, within=3.0 ** 0.5 * s ** -0.5)),
]


def mode_coverage(fn):
    """fn(x, means, std) -> (modes covered, high-quality share) for samples x (N, 2), mode means (K, 2) and
    the modes' standard deviation: metrics.mode_coverage's two numbers (Srivastava et al. 2017's definition)."""
    return check_function("the mode-coverage count", lambda *a: _pair(fn(*a)), _coverage_cases(), _coverage,
                          COVERAGE_MISTAKES, rtol=1e-9, atol=1e-9,
                          shape_hint="two numbers: return (modes, share), e.g. `return modes, share`.")


def _pair(out):
    if isinstance(out, (tuple, list)) and len(out) == 2:
        return torch.tensor([float(v) for v in out], dtype=torch.float64)  # float(): a 0-d tensor or a number
    return out


# --- a prediction: at which training-set size does copying fall below chance? ---------------------------

def first_below_chance(curve) -> int | None:
    """The smallest training-set size whose samples are near-copies less often than fresh draws of the data
    (rows of beyond.copy_curve: dict(size, copies, chance)), or None when no size is."""
    return next((row["size"] for row in curve if row["copies"] < row["chance"]), None)


def copy_below_chance(answer, curve) -> Feedback:
    """answer: the training-set size N, one of the curve's, at which the trained network's share of
    near-copies first falls below the chance level (fresh draws from the ring), predicted before the curve
    is shown; the checker reads the lesson's own measurement, `curve` (beyond.copy_curve's rows)."""
    ex = "where copying falls below chance"
    sizes = [row["size"] for row in curve]
    answer = number(ex, answer, integer=True)
    if isinstance(answer, Feedback):
        return answer
    if answer not in sizes:
        return Feedback(ex, WRONG, f"pick one of the sizes measured: {', '.join(str(s) for s in sizes)}.")
    truth = first_below_chance(curve)
    rows = {row["size"]: row for row in curve}
    at = lambda s: f"N = {s}: {rows[s]['copies']:.1%} near-copies against {rows[s]['chance']:.1%} by chance"
    if truth is None:
        return Feedback(ex, WRONG, f"at no size measured here does copying fall below chance ({at(sizes[-1])}).")
    if answer == truth:
        return Feedback(ex, CORRECT, f"{at(truth)}. Below chance is blur between the training points, not yet "
                                     "learning the ring: the two-halves test below asks that.")
    if answer < truth:
        return Feedback(ex, WRONG, f"at N = {answer} the network still copies at least as often as chance "
                                   f"({at(answer)}): with so few points it can fit the ideal denoiser, which "
                                   f"only returns training points. It first falls below at N = {truth}.")
    return Feedback(ex, WRONG, f"it falls below chance earlier, at N = {truth} ({at(truth)}): once the network "
                               "cannot fit every point its samples blur between them, and blurred samples are "
                               "rarely three times closer to one training point than to the next.")
