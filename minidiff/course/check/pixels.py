"""Checkers for lessons 00 (the demo exercise) and 01 (two-pixel images)."""

import math

import torch

from ._core import Feedback, Mistake, check_function

LOG_2PI = math.log(2 * math.pi)


def _cases(seed: int, shapes) -> list:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=torch.float64) for shape in shapes]


# --- lesson 00: the demo exercise --------------------------------------------------------------------

def _squared_norm(x):
    return (x**2).sum(dim=1)


def squared_norm(fn) -> Feedback:
    """Lesson 00: fn(x) with x of shape (N, D) returns the squared length of each row, shape (N,)."""
    # N != D on purpose, so summing over the wrong axis shows as a wrong shape.
    cases = [(x,) for x in _cases(0, [(5, 3), (4, 2), (1, 6)])]
    mistakes = [
        Mistake("that is the length |x|; the exercise asks for its square (leave out the square root).",
                lambda x: x.norm(dim=1)),
        Mistake("square each coordinate before adding them up.", lambda x: x.sum(dim=1)),
        Mistake("add the squares up (sum), do not average them (mean).", lambda x: (x**2).mean(dim=1)),
    ]
    return check_function("squared norm", fn, cases, _squared_norm, mistakes)


# --- lesson 01: grey levels -> points ------------------------------------------------------------------

def _image_to_point(levels):
    return levels / 127.5 - 1


def image_to_point(fn) -> Feedback:
    """Lesson 01: fn(levels) maps grey levels 0..255, shape (N, 2), to points in [-1, 1]."""
    g = torch.Generator().manual_seed(1)
    ends = torch.tensor([[0.0, 255.0], [255.0, 0.0], [127.5, 64.0]], dtype=torch.float64)
    cases = [(ends,), (torch.randint(0, 256, (6, 2), generator=g).double(),)]
    mistakes = [
        Mistake("dividing by 255 gives [0, 1]; the course uses [-1, 1]: level / 127.5 - 1.",
                lambda v: v / 255),
        Mistake("level / 127.5 is in [0, 2]: shift it by -1 so that grey 0 is -1 and 255 is +1.",
                lambda v: v / 127.5),
        Mistake("off by one: the largest level is 255, not 256, so divide by 127.5 (255 / 2), not 128.",
                lambda v: v / 128 - 1),
        Mistake("off by one: the largest level is 255, not 256, so divide by 255, not 256.",
                lambda v: 2 * v / 256 - 1),
        Mistake("(level - 127.5) / 255 is in [-0.5, 0.5]: divide by 127.5 instead.",
                lambda v: (v - 127.5) / 255),
    ]
    return check_function("image to point", fn, cases, _image_to_point, mistakes)


# --- lesson 01: the log-density of a round Gaussian in the plane -------------------------------------

def _gauss(x, mu, sigma, half=0.5, var_exp=None, var_norm=None, norm=1.0):
    # -|x - mu|^2 / (2 var) - (D/2) log(2 pi var) with D = 2; the knobs make the typical mistakes.
    var_exp = sigma**2 if var_exp is None else var_exp
    var_norm = sigma**2 if var_norm is None else var_norm
    return -half * ((x - mu) ** 2).sum(dim=1) / var_exp - norm * (LOG_2PI + math.log(var_norm))


def gaussian_log_density(fn) -> Feedback:
    """Lesson 01: fn(x, mu, sigma) = log N(x; mu, sigma^2 I) for x of shape (N, 2), shape (N,)."""
    xs = _cases(2, [(5, 2), (4, 2), (3, 2)])
    mus = [torch.tensor([0.5, -1.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64),
           torch.tensor([-0.3, 0.2], dtype=torch.float64)]
    cases = list(zip(xs, mus, [0.5, 2.0, 0.3]))  # sigma != 1, so sigma and sigma^2 differ
    sigma_hint = "divide by the variance sigma**2, not by sigma (the std)."
    mistakes = [
        Mistake("the exponent is -|x - mu|^2 / (2 sigma^2): the 1/2 is missing.",
                lambda x, mu, s: _gauss(x, mu, s, half=1.0)),
        Mistake(sigma_hint, lambda x, mu, s: _gauss(x, mu, s, var_exp=s, var_norm=s)),
        Mistake(sigma_hint, lambda x, mu, s: _gauss(x, mu, s, var_exp=s)),
        Mistake("the normaliser is log(2 pi sigma^2): square sigma there.",
                lambda x, mu, s: _gauss(x, mu, s, var_norm=s)),
        Mistake("in 2-D the normaliser is 1 / (2 pi sigma^2) (one 1/sqrt(2 pi sigma^2) per coordinate), "
                "so subtract log(2 pi sigma^2), not half of it.",
                lambda x, mu, s: _gauss(x, mu, s, norm=0.5)),
        Mistake("the normalising constant is missing: subtract log(2 pi sigma^2).",
                lambda x, mu, s: _gauss(x, mu, s, norm=0.0)),
        Mistake("that is the density p(x); the exercise asks for its log.",
                lambda x, mu, s: _gauss(x, mu, s).exp()),
    ]
    return check_function("gaussian log-density", fn, cases, _gauss, mistakes)


# --- lesson 01: how big a table of probabilities would be --------------------------------------------

def _table_log10(d, levels):
    return torch.tensor(d * math.log10(levels), dtype=torch.float64)


def table_size_log10(fn) -> Feedback:
    """Lesson 01: fn(d, levels) = log10 of the number of cells of a table over d pixels."""

    def guarded(d, levels):
        try:
            return fn(d, levels)
        except OverflowError:
            raise OverflowError(f"{levels}**{d} is too big for a float: take the log first, "
                                "log10(levels**d) = d * log10(levels)") from None

    cases = [(2, 256), (64, 256), (784, 256), (10**6, 256), (3, 10), (5, 2)]
    mistakes = [
        Mistake("that is the natural log: use math.log10.", lambda d, L: d * math.log(L)),
        Mistake("d and levels are swapped: the table has levels**d cells (levels choices for each "
                "of the d pixels), not d**levels.", lambda d, L: L * math.log10(d)),
        Mistake("a table over d pixels has levels**d cells (every combination), not d * levels.",
                lambda d, L: math.log10(d * L)),
    ]
    return check_function("table size", guarded, cases, _table_log10, mistakes, rtol=1e-6, atol=1e-9)
