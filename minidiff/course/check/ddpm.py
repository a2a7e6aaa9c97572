"""Checkers for lesson 07 (DDPM, Ho et al. 2020), in the paper's discrete notation:
x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, alpha_t = 1 - beta_t."""

import torch

from ._core import Feedback, Mistake, check_function


def _net(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed, nonlinear stand-in for a trained network: (B, D), (B,) -> (B, D)."""
    return torch.tanh(1.5 * x) * (0.5 + t[:, None]) - 0.3 * x


def _points(seed: int, n: int = 6, d: int = 2) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _loss_cases() -> list:
    cases = []
    for seed, ts in [(0, [0.1, 0.5, 0.9, 0.3, 0.7, 0.05]), (1, [0.95, 0.2, 0.6, 0.4, 0.8, 0.15])]:
        t = torch.tensor(ts, dtype=torch.float64)  # (B,)
        alpha_bar = torch.exp(-8 * t**2)[:, None]  # (B, 1): some decreasing alpha_bar(t)
        cases.append((_net, 1.5 * _points(seed), _points(seed + 10), t, alpha_bar))
    return cases


def _eps_loss(net, x0, eps, t, alpha_bar):
    xt = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps  # Ho et al. 2020, eq. 4
    return ((eps - net(xt, t)) ** 2).mean()  # eq. 14


def eps_loss(fn) -> Feedback:
    """fn(net, x0, eps, t, alpha_bar) -> the simple loss mean ||eps - net(x_t, t)||^2 (Ho et al. 2020, eq. 14)."""
    mistakes = [
        Mistake("x_t needs square roots: sqrt(alpha_bar) * x0 + sqrt(1 - alpha_bar) * eps "
                "(alpha_bar is the variance kept, not the scale).",
                lambda net, x0, eps, t, ab: ((eps - net(ab * x0 + (1 - ab) * eps, t)) ** 2).mean()),
        Mistake("the network must see the noised x_t, not the clean x0.",
                lambda net, x0, eps, t, ab: ((eps - net(x0, t)) ** 2).mean()),
        Mistake("the target is the noise eps that made x_t, not the clean x0.",
                lambda net, x0, eps, t, ab: ((x0 - net(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t)) ** 2).mean()),
        Mistake("signal and noise are swapped: x0 gets sqrt(alpha_bar), eps gets sqrt(1 - alpha_bar).",
                lambda net, x0, eps, t, ab: ((eps - net((1 - ab).sqrt() * x0 + ab.sqrt() * eps, t)) ** 2).mean()),
        Mistake("average the squared error (.mean()), do not sum it.",
                lambda net, x0, eps, t, ab: ((eps - net(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t)) ** 2).sum()),
    ]
    return check_function("the epsilon loss", fn, _loss_cases(), _eps_loss, mistakes, rtol=1e-5, atol=1e-7)


def _step_cases() -> list:
    cases = []
    for seed, beta, alpha_bar in [(2, 0.02, 0.05), (3, 0.3, 0.4), (4, 0.1, 0.8)]:
        b, ab = torch.tensor(beta, dtype=torch.float64), torch.tensor(alpha_bar, dtype=torch.float64)
        cases.append((2 * _points(seed), _points(seed + 10), b, ab, _points(seed + 20)))
    return cases


def _ancestral_step(x, eps, beta, alpha_bar, z):
    mean = (x - beta / torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(1 - beta)  # Algorithm 2, line 4
    return mean + torch.sqrt(beta) * z  # sigma_t^2 = beta_t


def ancestral_step(fn) -> Feedback:
    """fn(x, eps, beta, alpha_bar, z) -> x_{t-1} = (x - beta / sqrt(1 - alpha_bar) eps) / sqrt(1 - beta)
    + sqrt(beta) z, one step of Ho et al. 2020, Algorithm 2 (sigma_t^2 = beta_t)."""
    def wrong(scale=lambda b: torch.sqrt(1 - b), coef=lambda b, ab: b / torch.sqrt(1 - ab),
              noise=lambda b: torch.sqrt(b)):
        return lambda x, eps, b, ab, z: (x - coef(b, ab) * eps) / scale(b) + noise(b) * z

    mistakes = [
        Mistake("the noise term needs a square root: add sqrt(beta) * z (beta is a variance).",
                wrong(noise=lambda b: b)),
        Mistake("divide by sqrt(alpha_t) = sqrt(1 - beta), not by alpha_t = 1 - beta.",
                wrong(scale=lambda b: 1 - b)),
        Mistake("the eps coefficient is beta / sqrt(1 - alpha_bar): a square root is missing.",
                wrong(coef=lambda b, ab: b / (1 - ab))),
        Mistake("subtract the predicted noise (x - ... * eps), do not add it.",
                wrong(coef=lambda b, ab: -b / torch.sqrt(1 - ab))),
        Mistake("the step also adds fresh noise sqrt(beta) * z (except at the very last step).",
                wrong(noise=lambda b: 0 * b)),
        Mistake("the eps coefficient uses 1 - alpha_bar_t, the noise variance at t, not alpha_bar_t.",
                wrong(coef=lambda b, ab: b / torch.sqrt(ab))),
    ]
    return check_function("one ancestral step", fn, _step_cases(), _ancestral_step, mistakes,
                          rtol=1e-5, atol=1e-7)


def _x0_cases() -> list:
    return [(2 * _points(seed), _points(seed + 10), torch.tensor(ab, dtype=torch.float64))
            for seed, ab in [(5, 0.9), (6, 0.3), (7, 0.02)]]


def _eps_to_x0(xt, eps, alpha_bar):
    from ...core.params import eps_to_x0

    return eps_to_x0(eps, xt, alpha_bar.sqrt(), (1 - alpha_bar).sqrt())


def eps_to_x0(fn) -> Feedback:
    """fn(xt, eps, alpha_bar) -> x0 = (xt - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar) (Ho et al. 2020, eq. 4 solved for x0)."""
    mistakes = [
        Mistake("the sign: x0 = (xt - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar); the noise is "
                "subtracted, it was added to make xt.",
                lambda xt, eps, ab: (xt + (1 - ab).sqrt() * eps) / ab.sqrt()),
        Mistake("divide by alpha = sqrt(alpha_bar), not by alpha_bar itself.",
                lambda xt, eps, ab: (xt - (1 - ab).sqrt() * eps) / ab),
        Mistake("the noise's scale is sigma = sqrt(1 - alpha_bar), not 1 - alpha_bar.",
                lambda xt, eps, ab: (xt - (1 - ab) * eps) / ab.sqrt()),
        Mistake("after removing the noise, divide by sqrt(alpha_bar) to undo the shrinking of x0.",
                lambda xt, eps, ab: xt - (1 - ab).sqrt() * eps),
    ]
    return check_function("eps -> x0", fn, _x0_cases(), _eps_to_x0, mistakes, rtol=1e-5, atol=1e-7)
