"""Lesson 03's checkers accept right answers written in other ways and name the typical mistakes."""

import math

import torch

from minidiff import check


def todo(*args):
    raise NotImplementedError


# --- alpha_bar from betas ---------------------------------------------------------------------------

def alpha_bars_by_loop(betas):
    out, product = [1.0], 1.0
    for beta in betas.tolist():
        product *= 1 - beta
        out.append(product)
    return torch.tensor(out, dtype=betas.dtype)


def test_alpha_bar_from_betas():
    assert check.alpha_bar_from_betas(alpha_bars_by_loop).status == "correct"
    by_logs = lambda b: torch.cat([torch.ones(1, dtype=b.dtype), (1 - b).log().cumsum(0).exp()])  # noqa: E731
    assert check.alpha_bar_from_betas(by_logs)
    cases = {
        "not 1 minus their sum": lambda b: torch.cat([torch.ones(1, dtype=b.dtype), 1 - b.cumsum(0)]),
        "off by one step": lambda b: torch.cat([torch.ones(2, dtype=b.dtype), (1 - b).cumprod(0)[:-1]]),
        "not the beta_i": lambda b: torch.cat([torch.ones(1, dtype=b.dtype), b.cumprod(0)]),
        "alpha_k = sqrt(alpha_bar_k)": lambda b: torch.cat([torch.ones(1, dtype=b.dtype), (1 - b).sqrt().cumprod(0)]),
    }
    for words, wrong in cases.items():
        fb = check.alpha_bar_from_betas(wrong)
        assert fb.status == "wrong" and words in fb.message, (words, fb)
    fb = check.alpha_bar_from_betas(lambda b: (1 - b).cumprod(0))  # forgot alpha_bar_0 = 1
    assert fb.status == "wrong" and "wrong shape" in fb.message
    assert check.alpha_bar_from_betas(todo).status == "not attempted"


# --- q_sample by hand -------------------------------------------------------------------------------

def test_q_sample_by_hand():
    def right(x0, alpha_bar, eps):
        a = alpha_bar.view(-1, *[1] * (x0.ndim - 1))
        return a.sqrt() * x0 + (1 - a).sqrt() * eps

    def right_by_loop(x0, alpha_bar, eps):  # one image at a time, plain numbers
        return torch.stack([math.sqrt(a) * x + math.sqrt(1 - a) * e
                            for x, a, e in zip(x0, alpha_bar.tolist(), eps)])

    assert check.q_sample_by_hand(right).status == "correct"
    assert check.q_sample_by_hand(right_by_loop).status == "correct"

    def with_(signal, noise):
        return lambda x0, ab, eps: torch.stack([signal(a) * x + noise(a) * e for x, a, e in zip(x0, ab, eps)])

    cases = {
        "1 - alpha_bar is its variance": with_(torch.sqrt, lambda a: 1 - a),
        "not alpha_bar": with_(lambda a: a, lambda a: (1 - a).sqrt()),
        "take square roots": with_(lambda a: a, lambda a: 1 - a),
        "swapped": with_(lambda a: (1 - a).sqrt(), torch.sqrt),
    }
    for words, wrong in cases.items():
        fb = check.q_sample_by_hand(wrong)
        assert fb.status == "wrong" and words in fb.message, (words, fb)
    # Forgetting to reshape alpha_bar for broadcasting raises inside the learner's code: reported, not raised.
    fb = check.q_sample_by_hand(lambda x0, ab, eps: ab.sqrt() * x0 + (1 - ab).sqrt() * eps)
    assert fb.status == "error" and "RuntimeError" in fb.message
    assert check.q_sample_by_hand(todo).status == "not attempted"


# --- where the SNR crosses a level ------------------------------------------------------------------

def bisect(f, level, steps=40):
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        if f(mid) > level:  # the SNR falls with t
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def test_snr_crossing():
    def right(schedule, level):
        return bisect(lambda t: schedule.snr(torch.tensor(t, dtype=torch.float64)).item(), level)

    def right_from_alpha_sigma(schedule, level):
        def snr(t):
            t = torch.tensor(t, dtype=torch.float64)
            return (schedule.alpha(t) ** 2 / schedule.sigma(t) ** 2).item()
        return bisect(snr, level)

    assert check.snr_crossing(right).status == "correct"
    assert check.snr_crossing(right_from_alpha_sigma).status == "correct"
    assert check.snr_crossing(lambda s, level: bisect(lambda t: s.snr(t).item(), level, steps=20)), \
        "20 halvings (1e-6) are accurate enough"

    def ratio(schedule, t):
        t = torch.tensor(t, dtype=torch.float64)
        return (schedule.alpha(t) / schedule.sigma(t)).item()

    cases = {
        "(squares)": lambda s, level: bisect(lambda t: ratio(s, t), level),
        "upside down": lambda s, level: bisect(lambda t: -1 / ratio(s, t) ** 2, -level),
        "from the noisy end": lambda s, level: 1 - right(s, level),
    }
    for words, wrong in cases.items():
        fb = check.snr_crossing(wrong)
        assert fb.status == "wrong" and words in fb.message, (words, fb)
    fb = check.snr_crossing(lambda s, level: bisect(lambda t: s.snr(t).item(), level, steps=6))
    assert fb.status == "wrong"  # 6 halvings: only within 0.016 of the answer
    assert check.snr_crossing(todo).status == "not attempted"
