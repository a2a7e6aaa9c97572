"""Lesson 07's checkers: right answers pass, typical mistakes are named, stubs are 'not attempted',
and each checker's reference agrees with the library (diffusion_loss, ddpm, params)."""

import torch

from minidiff import check
from minidiff.course.check import ddpm as ck
from minidiff.core.losses import diffusion_loss
from minidiff.core.params import Denoiser
from minidiff.core.samplers import ddpm
from minidiff.core.schedules import DiscreteDDPM, Schedule


def todo(*args):
    raise NotImplementedError


# --- the epsilon loss -----------------------------------------------------------------------------

def right_loss(net, x0, eps, t, alpha_bar):
    xt = torch.sqrt(alpha_bar) * x0 + torch.sqrt(1 - alpha_bar) * eps
    return ((net(xt, t) - eps) ** 2).mean()


def test_eps_loss_checker():
    assert check.eps_loss(right_loss).status == "correct"
    no_sqrt = check.eps_loss(lambda net, x0, eps, t, ab: ((net(ab * x0 + (1 - ab) * eps, t) - eps) ** 2).mean())
    assert no_sqrt.status == "wrong" and "square roots" in no_sqrt.message
    clean_input = check.eps_loss(lambda net, x0, eps, t, ab: ((net(x0, t) - eps) ** 2).mean())
    assert clean_input.status == "wrong" and "noised x_t" in clean_input.message
    x0_target = check.eps_loss(lambda net, x0, eps, t, ab: ((net(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t) - x0) ** 2).mean())
    assert x0_target.status == "wrong" and "not the clean x0" in x0_target.message
    assert check.eps_loss(todo).status == "not attempted"


class Gauss8(Schedule):
    """alpha_bar(t) = exp(-8 t^2), the one the checker's cases use."""

    def alpha(self, t):
        return torch.exp(-4 * torch.as_tensor(t) ** 2)

    def sigma(self, t):
        return torch.sqrt(1 - torch.exp(-8 * torch.as_tensor(t) ** 2))


def test_eps_loss_reference_is_diffusion_loss():
    for net, x0, eps, t, alpha_bar in ck._loss_cases():
        expected = diffusion_loss(net, x0, Gauss8(), "eps", t=t, eps=eps)
        torch.testing.assert_close(ck._eps_loss(net, x0, eps, t, alpha_bar), expected)


# --- one ancestral step ---------------------------------------------------------------------------

def right_step(x, eps, beta, alpha_bar, z):
    return 1 / torch.sqrt(1 - beta) * (x - beta / torch.sqrt(1 - alpha_bar) * eps) + torch.sqrt(beta) * z


def test_ancestral_step_checker():
    assert check.ancestral_step(right_step).status == "correct"
    fb = check.ancestral_step(lambda x, eps, b, ab, z: (x - b / (1 - ab).sqrt() * eps) / (1 - b).sqrt() + b * z)
    assert fb.status == "wrong" and "noise term needs a square root" in fb.message
    fb = check.ancestral_step(lambda x, eps, b, ab, z: (x - b / (1 - ab).sqrt() * eps) / (1 - b) + b.sqrt() * z)
    assert fb.status == "wrong" and "not by alpha_t = 1 - beta" in fb.message
    fb = check.ancestral_step(lambda x, eps, b, ab, z: (x - b / (1 - ab) * eps) / (1 - b).sqrt() + b.sqrt() * z)
    assert fb.status == "wrong" and "square root is missing" in fb.message
    assert check.ancestral_step(todo).status == "not attempted"


def test_ancestral_step_reference_is_one_step_of_the_sampler():
    # A two-entry table of betas whose second step has the case's beta and alpha_bar: the sampler's
    # step from t = 1 to t = 1/2 must be the checker's reference (same z from the same seed).
    for x, eps, beta, alpha_bar, _ in ck._step_cases():
        first = 1 - alpha_bar / (1 - beta)  # alpha_bar = (1 - beta_1)(1 - beta_2)
        schedule = DiscreteDDPM(torch.stack([first, beta]))
        step = next(ddpm(Denoiser(lambda xt, t: eps, schedule), x, torch.tensor([1.0, 0.5], dtype=x.dtype),
                         schedule, generator=torch.Generator().manual_seed(7)))
        z = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
        torch.testing.assert_close(step.x, ck._ancestral_step(x, eps, beta, alpha_bar, z))


# --- eps -> x0 ------------------------------------------------------------------------------------

def test_eps_to_x0_checker():
    assert check.eps_to_x0(lambda xt, eps, ab: (xt - torch.sqrt(1 - ab) * eps) / torch.sqrt(ab)).status == "correct"
    fb = check.eps_to_x0(lambda xt, eps, ab: (xt + torch.sqrt(1 - ab) * eps) / torch.sqrt(ab))
    assert fb.status == "wrong" and "sign" in fb.message
    fb = check.eps_to_x0(lambda xt, eps, ab: (xt - torch.sqrt(1 - ab) * eps) / ab)
    assert fb.status == "wrong" and "not by alpha_bar itself" in fb.message
    fb = check.eps_to_x0(lambda xt, eps, ab: (xt - (1 - ab) * eps) / torch.sqrt(ab))
    assert fb.status == "wrong" and "sqrt(1 - alpha_bar), not 1 - alpha_bar" in fb.message
    assert check.eps_to_x0(todo).status == "not attempted"


def test_eps_to_x0_reference_inverts_the_forward_formula():
    for xt, eps, alpha_bar in ck._x0_cases():
        x0 = ck._eps_to_x0(xt, eps, alpha_bar)
        torch.testing.assert_close(alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps, xt)
