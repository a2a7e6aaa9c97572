"""minidiff.core.inverse: each step against an independent formula, each method against the exact posterior
of a Gaussian mixture (exact.seen_posterior, exact.linear_posterior), measured in floor units."""

import pytest
import torch

from minidiff import exact, guidance, inverse, metrics, samplers, schedules, toy

SCHEDULE = schedules.VPLinear()
N = 2000


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_reverse_step_is_ddpm_ancestral():
    gm = toy.two_pixel_mixture()
    model = exact.mixture_denoiser(gm, SCHEDULE)
    x = torch.randn(500, 2, generator=_gen(0))
    ts = torch.tensor([0.6, 0.45], dtype=torch.float64)
    want = samplers.run(samplers.ddpm(model, x, ts, variance="beta", generator=_gen(1)))
    a, s = SCHEDULE.alpha(ts).tolist(), SCHEDULE.sigma(ts).tolist()
    pred = model(x, 0.6)
    got = inverse.reverse_step(x, pred.eps, a[0], s[0], a[1], s[1], torch.randn(500, 2, generator=_gen(1)))
    assert torch.allclose(got, want, atol=1e-5)


def test_forward_step_has_the_law_of_q_xt_given_xs():
    # from s to t and then composing: x_t | x_0 must be N(alpha_t x0, sigma_t^2), whatever s is
    x0 = torch.full((200_000, 1), 0.7, dtype=torch.float64)
    ts = torch.tensor([0.2, 0.7], dtype=torch.float64)
    a, s = SCHEDULE.alpha(ts).tolist(), SCHEDULE.sigma(ts).tolist()
    g = _gen(2)
    xs = a[0] * x0 + s[0] * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    xt = inverse.forward_step(xs, a[0], s[0], a[1], s[1], torch.randn(x0.shape, generator=g, dtype=torch.float64))
    # standard errors of mean and std over 200,000 draws: about 0.002 and 0.0015
    assert xt.mean().item() == pytest.approx(a[1] * 0.7, abs=0.01)
    assert xt.std().item() == pytest.approx(s[1], abs=0.01)


@pytest.mark.parametrize("make", [lambda x: inverse.masked(x, (torch.rand(1, 8, 8, generator=_gen(3)) > 0.5).float()),
                                  lambda x: inverse.pooled(x, 4)])
def test_the_seen_part_is_an_orthogonal_projection(make):
    x, v = torch.randn(2, 3, 1, 8, 8, generator=_gen(4), dtype=torch.float64)
    seen = make(x)
    P = seen.project
    assert torch.allclose(P(P(v)), P(v))  # idempotent
    assert torch.allclose((P(x) * v).sum(), (x * P(v)).sum())  # symmetric
    assert torch.allclose(seen.value, P(x)) and seen.residual(x).abs().max() < 1e-12


def test_replace_keeps_the_hidden_part_and_pastes_the_seen_one():
    x, truth = torch.randn(2, 4, 1, 4, 4, generator=_gen(5))
    mask = torch.zeros(1, 4, 4)
    mask[:, :2] = 1
    seen = inverse.masked(truth, mask)
    out = inverse.replace(x, seen, 1.0, 0.0, torch.randn_like(x))  # at t = 0: the observation itself
    assert torch.equal(out[..., 2:, :], x[..., 2:, :]) and torch.allclose(out[..., :2, :], truth[..., :2, :])


def test_repaint_path_goes_down_and_back_up_block_by_block():
    path = inverse.repaint_path(6, jump=2, resample=3)
    moves = [b - a for a, b in zip(path[:-1], path[1:])]
    assert path[0] == 0 and path[-1] == 6 and set(moves) == {1, -1}
    assert moves.count(1) == 6 * 3  # every step of the grid taken resample times
    assert inverse.repaint_path(5, jump=1, resample=1) == list(range(6))  # no resampling: replacement's path


def _two_pixel(value=0.6):
    gm = toy.two_pixel_mixture()
    truth = exact.seen_posterior(gm, torch.tensor([True, False]), [value])
    seen = inverse.masked(torch.tensor([[value, 0.0]]).expand(N, 2), torch.tensor([1.0, 0.0]))
    return exact.mixture_denoiser(gm, SCHEDULE), truth, seen


def _units(x, truth):
    return metrics.in_floor_units(x[:, 1:], truth.sample, generator=_gen(9), parts=2)


def test_replacement_fails_on_mid_grey_and_repaint_repairs_it():
    # A mid-grey left pixel: the right one is mid grey too (the only cluster that explains the left one).
    # Replacement lets the right pixel settle in a dark or bright cluster while the left one is still noise.
    model, truth, seen = _two_pixel(128 / 127.5 - 1)
    mid = (truth.sample(100_000, generator=_gen(3)).abs() < 0.3).float().mean().item()  # 0.92
    grid = schedules.uniform_grid(250)
    g = _gen(0)
    x = samplers.run(inverse.replacement(model, torch.randn(N, 2, generator=g), grid, seen, generator=g))
    assert torch.allclose(x[:, 0], seen.value[:, 0])  # the seen pixel is the observation
    # the share near mid grey has a standard error of 0.006 at N = 2000: replacement is dozens of them off
    assert (x[:, 1].abs() < 0.3).float().mean().item() < mid - 0.1
    assert _units(x, truth) > 4.0
    g = _gen(0)
    x = samplers.run(inverse.repaint(model, torch.randn(N, 2, generator=g), grid, seen, jump=10, resample=10, generator=g))
    assert (x[:, 1].abs() < 0.3).float().mean().item() == pytest.approx(mid, abs=0.03)
    assert _units(x, truth) < 1.6  # exact samples of 2,000 points score about 0.7 to 1.5


def test_dps_pulls_the_seen_part_towards_the_observation():
    model, truth, seen = _two_pixel()
    g = _gen(0)
    free = samplers.run(samplers.ddpm(model, torch.randn(N, 2, generator=g), schedules.uniform_grid(200), generator=g))
    g = _gen(0)
    x = samplers.run(inverse.dps(model, torch.randn(N, 2, generator=g), schedules.uniform_grid(200), seen, zeta=0.1, generator=g))
    assert (x[:, 0] - 0.6).abs().mean() < 0.1 < (free[:, 0] - 0.6).abs().mean()
    assert (x[:, 1] > 0).float().mean() > 0.5  # mostly the bright right pixel, as the posterior (0.71)


def test_methods_take_a_guidance_wrapper():
    # a class-conditional exact mixture under classifier-free guidance, class 1 only: completions follow it
    gm, labels = toy.labelled_mixture()
    guided = guidance.ClassifierFree(exact.conditional_mixture_denoiser(gm, labels, SCHEDULE), 1, 1.0)
    value = gm.means[1, 0].item()
    seen = inverse.masked(torch.tensor([[value, 0.0]]).expand(1000, 2), torch.tensor([1.0, 0.0]))
    g = _gen(0)
    x = samplers.run(inverse.repaint(guided, torch.randn(1000, 2, generator=g), schedules.uniform_grid(25), seen,
                                     jump=1, resample=4, generator=g))
    truth = exact.seen_posterior(exact.class_mixture(gm, labels, 1), torch.tensor([True, False]), [value])
    assert x[:, 1].mean().item() == pytest.approx(truth.mean().item(), abs=0.1)


def test_tweedie_is_the_exact_posterior_mean():
    gm = toy.ring()
    model = exact.mixture_denoiser(gm.to(torch.float64), SCHEDULE)
    y = torch.tensor([[1.2, 0.9], [-0.3, 0.1]], dtype=torch.float64)
    got = inverse.tweedie(model, y, 0.5)
    for row, yi in zip(got, y):
        want = exact.linear_posterior(gm, torch.eye(2), yi, 0.5).mean().double()
        assert torch.allclose(row, want, atol=1e-6)


def test_posterior_denoise_draws_the_exact_posterior_and_its_error_is_twice_the_mmse():
    gm, s = toy.ring(), 0.5
    model = exact.mixture_denoiser(gm, SCHEDULE)
    y0 = torch.tensor([1.0, 1.3])
    x = inverse.posterior_denoise(model, y0.expand(N, 2), s, steps=100, generator=_gen(0))
    truth = exact.linear_posterior(gm, torch.eye(2), y0, s)
    assert metrics.in_floor_units(x, truth.sample, generator=_gen(1)) < 1.5
    # over the whole data: E|x' - x|^2 = 2 E|E[x|y] - x|^2 (both are twice the posterior variance's trace)
    g = _gen(2)
    x0 = gm.sample(4000, generator=g)
    y = x0 + s * torch.randn(x0.shape, generator=g)
    mmse = (inverse.tweedie(model, y, s) - x0).pow(2).sum(1).mean()
    sample = (inverse.posterior_denoise(model, y, s, steps=100, generator=g) - x0).pow(2).sum(1).mean()
    assert (sample / mmse).item() == pytest.approx(2.0, rel=0.1)


def test_sdedit_from_nothing_to_everything():
    gm = toy.two_pixel_mixture()
    model = exact.mixture_denoiser(gm, SCHEDULE)
    x = torch.full((N, 2), 0.0)  # mid grey: on no mode of the data
    assert torch.equal(inverse.sdedit(model, x, 0.0), x)
    far = inverse.sdedit(model, x, 1.0, steps=100, generator=_gen(0))
    assert metrics.in_floor_units(far, gm.sample, generator=_gen(1)) < 1.5  # strength 1: the data's own law
    near = inverse.sdedit(model, x, 0.05, steps=100, generator=_gen(0))  # sigma / alpha = 0.17 there
    assert near.norm(dim=1).mean() < 0.3 < 0.6 < far.norm(dim=1).mean()  # near the input; on the modes (0.9 away)


def test_matching_time_inverts_sigma_over_alpha():
    for s in (0.05, 0.5, 3.0):
        t = torch.tensor(inverse.matching_time(SCHEDULE, s), dtype=torch.float64)
        assert (SCHEDULE.sigma(t) / SCHEDULE.alpha(t)).item() == pytest.approx(s, rel=1e-6)


def test_bad_inputs_are_refused_with_what_to_do():
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match="only 0"):
        inverse.masked(x, torch.full((1, 8, 8), 0.5))
    with pytest.raises(ValueError, match="does not broadcast"):
        inverse.masked(x, torch.ones(3, 8))
    with pytest.raises(ValueError, match="divisible by 3"):
        inverse.pool(x, 3)
    model = exact.mixture_denoiser(toy.two_pixel_mixture(), SCHEDULE)
    with pytest.raises(ValueError, match="strength must be in"):
        inverse.sdedit(model, torch.zeros(3, 2), 1.5)
    with pytest.raises(ValueError, match="strictly decreasing"):
        next(inverse.replacement(model, torch.zeros(3, 2), [0.0, 1.0], inverse.masked(torch.zeros(3, 2), torch.tensor([1.0, 0.0]))))
    with pytest.raises(ValueError, match="zeta"):
        next(inverse.dps(model, torch.zeros(3, 2), [1.0, 0.0], inverse.masked(torch.zeros(3, 2), torch.tensor([1.0, 0.0])), zeta=-1))


@pytest.mark.parametrize("space", ["latent", "pixel"])
def test_the_text_pipeline_inpaints_and_edits(space):
    from minidiff import latent
    from minidiff import scenes as S

    pipe = latent.load_pipeline(space)
    images = torch.stack([S.render(S.Scene("beach", (S.Thing("red", "can", "right"),)), i) for i in range(2)])
    mask = torch.ones(1, 24, 24)
    mask[:, :, :12] = 0
    out = pipe.inpaint(images, mask, "a gold fish and a red can on the beach", steps=3, resample=2, generator=_gen(0))
    assert torch.equal(out[..., 12:], images[..., 12:])  # the seen half is the input's, pixel for pixel
    assert (out[..., :12] - images[..., :12]).abs().max() > 0.1  # the hidden half is painted anew
    again = pipe.inpaint(images, mask, "a gold fish and a red can on the beach", steps=3, resample=2, generator=_gen(0))
    assert torch.equal(out, again)  # same generator state, same images
    kept = pipe.img2img(images, "a red can on the beach", strength=0.0, generator=_gen(0))
    assert torch.allclose(kept, pipe.decode(pipe.decoder.latents(images) if pipe.decoder is not None else images))
    with pytest.raises(ValueError, match="2 images but 3 prompts"):
        pipe.img2img(images, ["a red can on the beach"] * 3, strength=0.5)
