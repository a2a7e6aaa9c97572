"""nets.autoencoder: the KL term against torch.distributions and a Monte Carlo estimate, the loss as
its parts, the reparameterised sample written out, the logvar clamp, the latent scale (fit on data,
undone by decode_latents), gradients through the sample, and clear errors for wrong shapes. Small
untrained models (width 8) with fixed seeds: no checkpoint needed."""

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence as torch_kl

from minidiff import scenes as S
from minidiff.core.nets.autoencoder import Autoencoder, Block, kl_divergence, vae_loss


def tiny(seed: int = 0, **kwargs) -> Autoencoder:
    torch.manual_seed(seed)
    return Autoencoder(width=8, **kwargs)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def push_logvar(vae: Autoencoder, shift: float) -> None:
    """Move the encoder's log-variance output by `shift` (an untrained one sits near 0, where
    exp(logvar), exp(0.5 logvar) and 1 are hard to tell apart)."""
    with torch.no_grad():
        vae.encoder[-1].bias[vae.config["latent_channels"]:] += shift


IMAGES = S.sample_scenes(24, seed=0)[0]


# ---- the KL term ------------------------------------------------------------------------------------

def test_kl_divergence_is_the_closed_form_averaged_over_latent_numbers():
    g = gen(0)
    mean = torch.randn(3, 4, 6, 6, generator=g, dtype=torch.float64)
    logvar = 2 * torch.randn(3, 4, 6, 6, generator=g, dtype=torch.float64)
    expected = torch_kl(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean()
    assert torch.allclose(kl_divergence(mean, logvar), expected, rtol=1e-12)
    # zero exactly at the prior, positive anywhere else
    zero = torch.zeros(2, 4, 6, 6)
    assert kl_divergence(zero, zero).item() == 0.0
    assert kl_divergence(zero + 0.1, zero).item() > 0 and kl_divergence(zero, zero - 0.1).item() > 0
    # known values: KL(N(1, 1) || N(0, 1)) = 1/2; KL(N(0, e^2) || N(0, 1)) = (e^2 - 1 - 2) / 2
    one = torch.ones(1, 1)
    assert kl_divergence(one, 0 * one).item() == pytest.approx(0.5, rel=1e-7)
    assert kl_divergence(0 * one, 2 * one).item() == pytest.approx((math.e ** 2 - 3) / 2, rel=1e-6)


def test_kl_divergence_agrees_with_a_monte_carlo_estimate():
    # KL(q || p) = E_q[log q(z) - log p(z)], per latent number, then averaged over the numbers
    mean = torch.tensor([0.0, 1.5, -0.7, 0.3], dtype=torch.float64)
    logvar = torch.tensor([0.0, -1.0, 0.8, -2.5], dtype=torch.float64)
    q, p = Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)
    z = mean + (0.5 * logvar).exp() * torch.randn(200_000, 4, generator=gen(1), dtype=torch.float64)
    ratio = (q.log_prob(z) - p.log_prob(z)).mean(1)  # (N,): one estimate of the averaged KL per draw
    estimate, stderr = ratio.mean().item(), ratio.std().item() / math.sqrt(len(ratio))
    # a fixed seed, and 5 standard errors (about 0.004 here): a wrong formula is off by far more
    assert abs(kl_divergence(mean, logvar).item() - estimate) < 5 * stderr


# ---- the encoder's sample, the loss -----------------------------------------------------------------

def test_forward_decodes_mean_plus_std_times_noise_from_the_generator():
    vae = tiny()
    push_logvar(vae, 1.5)
    mean, logvar = vae.encode(IMAGES[:4])
    assert logvar.mean() > 1.0  # far from 0, so std = exp(logvar / 2) is not exp(logvar) nor 1
    vae.decoder = nn.Identity()  # decode(z) returns z itself: see the sample
    z, mean2, logvar2 = vae(IMAGES[:4], generator=gen(3))
    noise = torch.randn(mean.shape, generator=gen(3))
    assert torch.equal(mean2, mean) and torch.equal(logvar2, logvar)
    assert torch.allclose(z, mean + (0.5 * logvar).exp() * noise, atol=1e-6)
    # the sample's statistics: (z - mean) / std is standard normal over the 576 numbers
    u = (z - mean) / (0.5 * logvar).exp()
    assert abs(u.mean()) < 4 / math.sqrt(u.numel()) and abs(u.std() - 1) < 4 / math.sqrt(2 * u.numel())


def test_the_same_generator_gives_the_same_output_and_another_seed_another():
    vae = tiny()
    a, b, c = vae(IMAGES[:2], gen(5))[0], vae(IMAGES[:2], gen(5))[0], vae(IMAGES[:2], gen(6))[0]
    assert torch.equal(a, b) and not torch.allclose(a, c, atol=1e-4)
    assert not torch.allclose(vae(IMAGES[:2])[0], vae(IMAGES[:2])[0], atol=1e-5)  # no generator: random


def test_encode_clamps_logvar_so_exp_stays_finite():
    vae = tiny()
    mean, logvar = vae.encode(IMAGES[:2])
    push_logvar(vae, 1000.0)
    high_mean, high = vae.encode(IMAGES[:2])
    assert torch.equal(high_mean, mean)  # the mean half is untouched
    assert (high == 20.0).all() and torch.isfinite(high.exp()).all()
    push_logvar(vae, -2000.0)
    low = vae.encode(IMAGES[:2])[1]
    assert (low == -30.0).all() and (low.exp() > 0).all()
    # and within the range nothing is clamped
    assert logvar.abs().max() < 20 and not torch.equal(logvar, logvar.clamp(-0.01, 0.01))


def test_vae_loss_is_mse_plus_beta_times_kl():
    vae = tiny()
    push_logvar(vae, -1.0)
    x, beta = IMAGES[:6], 0.3
    loss, mse, kl = vae_loss(vae, x, beta, generator=gen(7))
    recon, mean, logvar = vae(x, gen(7))
    expected_mse = ((recon - x) ** 2).mean()  # per pixel, not summed
    expected_kl = torch_kl(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean()
    assert torch.allclose(mse, expected_mse, rtol=1e-6) and torch.allclose(kl, expected_kl, rtol=1e-5)
    assert torch.allclose(loss, expected_mse + beta * expected_kl, rtol=1e-6)
    assert loss.item() == pytest.approx(mse.item() + beta * kl.item(), rel=1e-6)


def test_the_reconstruction_gradient_reaches_the_log_variance_through_the_sample():
    # with beta = 0 only the MSE pulls on logvar, and only through z = mean + exp(logvar / 2) noise
    vae = tiny()
    vae_loss(vae, IMAGES[:4], beta=0.0, generator=gen(8))[0].backward()
    head = vae.encoder[-1].weight.grad  # (2 * latent_channels, width * 2, 1, 1): mean rows, logvar rows
    c = vae.config["latent_channels"]
    assert head[:c].abs().max() > 0 and head[c:].abs().max() > 0
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in vae.decoder.parameters())


def test_a_few_adam_steps_lower_the_reconstruction_error():
    vae, x = tiny(1), IMAGES[:16]
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = gen(9)
    first = vae_loss(vae, x, 1e-4, g)[1].item()
    for _ in range(25):
        loss = vae_loss(vae, x, 1e-4, g)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    # measured: 0.61 -> 0.34 in 25 steps; a broken gradient path (a detached sample, a wrong sign)
    # leaves it near where it started
    assert vae_loss(vae, x, 1e-4, g)[1].item() < 0.75 * first


# ---- the latent scale -------------------------------------------------------------------------------

def test_fit_scale_makes_the_latents_unit_variance_and_decode_latents_undoes_it():
    vae = tiny()
    x = IMAGES
    mean = vae.encode(x)[0]
    assert vae.scale.item() == 1.0 and torch.equal(vae.latents(x), mean)  # unfitted: the mean itself
    s = vae.fit_scale(x, batch_size=7)  # in 4 chunks: the same as one
    assert s == pytest.approx(1 / mean.std().item(), rel=1e-5) and vae.scale.item() == s
    assert s != pytest.approx(1.0, abs=0.05)  # an untrained encoder's means are not unit-sized already
    z = vae.latents(x)
    assert torch.allclose(z, s * mean, rtol=1e-6)
    assert z.std().item() == pytest.approx(1.0, abs=1e-5)
    assert vae.fit_scale(x) == pytest.approx(s, rel=1e-6)  # measured on the unscaled means: fitting twice
    fresh = vae.latents(S.sample_scenes(48, seed=1)[0])  # other scenes of the same kind: near 1 too
    assert 0.9 < fresh.std().item() < 1.1
    # decode_latents divides the scale out again
    assert torch.allclose(vae.decode_latents(z), vae.decode(mean), atol=1e-5)
    # and the scale travels with the weights (a buffer)
    other = tiny(seed=1)
    other.load_state_dict(vae.state_dict())
    assert other.scale.item() == s


def test_latents_sample_draws_from_q_and_is_scaled():
    vae = tiny()
    push_logvar(vae, -0.5)
    with torch.no_grad():
        vae.scale.fill_(0.25)
    mean, logvar = vae.encode(IMAGES[:3])
    noise = torch.randn(mean.shape, generator=gen(4))
    got = vae.latents(IMAGES[:3], generator=gen(4), sample=True)
    assert torch.allclose(got, 0.25 * (mean + (0.5 * logvar).exp() * noise), atol=1e-6)
    assert torch.allclose(vae.latents(IMAGES[:3]), 0.25 * mean)


# ---- shapes and errors --------------------------------------------------------------------------------

def test_latent_shape_follows_the_config_and_errors_name_the_expected_shape():
    vae = tiny(latent_channels=2, size=16)
    assert vae.latent_shape == (2, 4, 4)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    mean, logvar = vae.encode(x)
    assert mean.shape == logvar.shape == (2, *vae.latent_shape)
    assert vae.decode(mean).shape == x.shape
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, 16, 16\), got \(2, 3, 24, 24\)"):
        vae.encode(IMAGES[:2])
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, 16, 16\), got \(3, 16, 16\)"):
        vae(x[0])
    with pytest.raises(ValueError, match=r"images must have shape .* got ndarray"):
        vae.latents(x.numpy())
    with pytest.raises(ValueError, match=r"latents must have shape \(B, 2, 4, 4\), got \(2, 4, 6, 6\)"):
        vae.decode(torch.zeros(2, 4, 6, 6))
    with pytest.raises(ValueError, match=r"latents must have shape \(B, 2, 4, 4\), got \(2, 4, 4\)"):
        vae.decode_latents(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, 16, 16\)"):
        vae.fit_scale(IMAGES)


def test_block_adds_its_input_back():
    torch.manual_seed(0)
    same, wider = Block(8, 8), Block(8, 16)
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():  # silence the residual branch: what is left is the skip path
        for block in (same, wider):
            block.conv2.weight.zero_()
            block.conv2.bias.zero_()
    assert torch.equal(same(x), x)
    assert torch.allclose(wider(x), wider.skip(x)) and isinstance(wider.skip, nn.Conv2d)
