"""Exact denoisers: for a Gaussian mixture the noised law at every t is known in closed form, so the
ideal network can be written down, and any sampler can run with no training at all (its error is
then the sampler's own, not the network's).

    model = exact.mixture_denoiser(toy.ring(), VPLinear())    # model(x, t).eps, .x0
    model = exact.mixture_denoiser(toy.ring(), ZeroTerminalSNR(), target="x0")  # also at alpha = 0

With class labels on the components (toy.labelled_mixture()), the same holds for guidance: the exact
conditional denoiser (Ho & Salimans 2022's ideal network), the exact noise-aware classifier p(y | x_t)
(Dhariwal & Nichol 2021's ideal one), and the powered law p(x|y)^w p(x)^(1-w) on a grid, with exact
samples, to compare guided samplers against (Bradley & Nakkiran 2024):

    gm, labels = toy.labelled_mixture()
    guided = guidance.ClassifierFree(exact.conditional_mixture_denoiser(gm, labels, VPLinear()), 0, w)
    truth = functools.partial(exact.sample_powered, gm, labels, 0, w)   # a Sampler (n, generator)
"""

import functools
import math
from typing import NamedTuple

import torch
from torch import nn

from ..runtime import check_generator
from ..core.schedules import Schedule
from .toy import GaussianMixture


class MixtureEps(nn.Module):
    """The exact noise predictor of a mixture: eps(x, t) = -sigma(t) grad log p_t(x) (the ideal network).

    p_t is the law of x_t = alpha(t) x0 + sigma(t) eps, GaussianMixture.noised(alpha, sigma); since
    E[eps | x_t] = -sigma(t) grad log p_t(x_t) (Vincent 2011; Ho et al. 2020, eq. 11 and section 3.2),
    this is the best possible eps-prediction in the mean-square sense.
    """

    def __init__(self, gm: GaussianMixture, schedule: Schedule):
        super().__init__()
        if not isinstance(gm, GaussianMixture):
            raise ValueError(f"MixtureEps: gm must be a toy.GaussianMixture, got {type(gm).__name__}")
        self.gm, self.schedule = gm, schedule

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.gm.dim:
            raise ValueError(f"MixtureEps: x must have shape (B, {self.gm.dim}), got {tuple(x.shape)}")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t  # (B,)
        if t.shape != (x.shape[0],):
            raise ValueError(f"MixtureEps: t must be one time or shape ({x.shape[0]},), got {tuple(t.shape)}")
        eps = torch.empty_like(x)  # (B, D)
        # noised() takes one (alpha, sigma) pair: one pass per distinct time (a sampler has only one).
        for time in t.unique():
            rows = t == time
            t64 = time.cpu().double()  # float64 on the CPU: MPS has no float64
            alpha, sigma = self.schedule.alpha(t64).item(), self.schedule.sigma(t64).item()
            eps[rows] = -sigma * self.gm.noised(alpha, sigma).score(x[rows])
        return eps


class MixtureX0(nn.Module):
    """The exact clean-data predictor of a mixture: x0(x, t) = E[x0 | x_t], written without dividing by alpha.

    Given component k (mean mu_k, variances s_k^2 per axis), x0 and x_t are jointly Gaussian, so
    E[x0 | x_t, k] = mu_k + alpha s_k^2 / (alpha^2 s_k^2 + sigma^2) (x_t - alpha mu_k) (Bishop 2006, eq. 2.116),
    and E[x0 | x_t] averages these with the responsibilities p(k | x_t) of the noised mixture. Unlike
    Tweedie's (x_t + sigma^2 score) / alpha it stays finite at alpha = 0, where x_t says nothing about
    x0 and the answer is the data's mean: the target a zero-terminal-SNR schedule needs at t = 1.
    """

    def __init__(self, gm: GaussianMixture, schedule: Schedule):
        super().__init__()
        if not isinstance(gm, GaussianMixture):
            raise ValueError(f"MixtureX0: gm must be a toy.GaussianMixture, got {type(gm).__name__}")
        self.gm, self.schedule = gm, schedule

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.gm.dim:
            raise ValueError(f"MixtureX0: x must have shape (B, {self.gm.dim}), got {tuple(x.shape)}")
        means, stds = self.gm.means.to(x), self.gm.stds.to(x)  # (K, D) each
        x0 = torch.empty_like(x)  # (B, D)
        for rows, alpha, sigma in _time_groups(t, x, self.schedule):
            r = self.gm.noised(alpha, sigma).responsibilities(x[rows])  # (b, K): p(k | x_t)
            gain = alpha * stds**2 / (alpha**2 * stds**2 + sigma**2)  # (K, D): 0 where alpha = 0
            per_k = means + gain * (x[rows][:, None, :] - alpha * means)  # (b, K, D): E[x0 | x_t, k]
            x0[rows] = (r[:, :, None] * per_k).sum(1)
        return x0


TARGETS = ("eps", "x0")  # what the exact denoiser's network predicts


def mixture_denoiser(gm: GaussianMixture, schedule: Schedule, clip: float | None = None, target: str = "eps"):
    """The exact denoiser of a Gaussian mixture under `schedule`, as a params.Denoiser: model(x, t)
    gives the exact eps and x0 = E[x0 | x_t] (Tweedie's formula, Efron 2011).

    target='eps' (MixtureEps) predicts the noise; target='x0' (MixtureX0) predicts E[x0 | x_t] directly,
    which is also defined where alpha(t) = 0 (t = 1 of a schedules.ZeroTerminalSNR). Both give the same
    pair (eps, x0) wherever alpha > 0 and sigma > 0, up to rounding."""
    from ..core.params import Denoiser  # params imports nothing from here; lazily to keep imports light

    if target not in TARGETS:
        raise ValueError(f"mixture_denoiser: target must be one of {TARGETS}, got {target!r}")
    net = MixtureEps(gm, schedule) if target == "eps" else MixtureX0(gm, schedule)
    return Denoiser(net, schedule, target=target, clip=clip)


class EmpiricalX0(nn.Module):
    """The ideal denoiser of a finite training set {x_i}: E[x0 | x_t] when x0 is one of the x_i, each
    with probability 1/N. Bayes' rule with q(x_t | x_i) = N(alpha x_i, sigma^2 I) gives

        E[x0 | x_t] = sum_i softmax_i(-|x_t - alpha x_i|^2 / (2 sigma^2)) x_i,

    a weighted average of the training points whose weights sharpen onto the nearest one as sigma
    falls. A network trained to the minimum of the denoising loss on these N points is this function,
    so sampling with it can only return training points: perfect training means perfect copying
    (Kadkhodaie et al. 2024, section 2; Gu et al. 2023). Points may be any shape (N, ...).
    """

    def __init__(self, points: torch.Tensor):
        super().__init__()
        points = torch.as_tensor(points)
        if points.ndim < 2 or len(points) < 1 or not points.is_floating_point():
            raise ValueError(f"EmpiricalX0: points must be a float tensor (N, ...) with N >= 1, got "
                             f"{getattr(points, 'dtype', '?')} {tuple(points.shape)}")
        self.register_buffer("points", points)

    def forward(self, x: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != self.points.shape[1:]:
            raise ValueError(f"EmpiricalX0: x must have shape (B, {', '.join(map(str, self.points.shape[1:]))}) "
                             f"like the training points, got {tuple(x.shape)}")
        flat = self.points.to(x).flatten(1)  # (N, D)
        xf = x.flatten(1)  # (B, D)
        a, s = alpha.reshape(-1, 1), sigma.reshape(-1, 1)  # (B, 1)
        # |x_t - a x_i|^2 = |x_t|^2 - 2 a x_t.x_i + a^2 |x_i|^2; the first term is the same for every i.
        logits = (2 * a * (xf @ flat.T) - a**2 * (flat**2).sum(1)) / (2 * s**2)  # (B, N)
        return (logits.softmax(dim=1) @ flat).reshape(x.shape)


class _EmpiricalNet(nn.Module):
    """Network form (x, t) -> x0 of EmpiricalX0, for params.Denoiser(target='x0')."""

    def __init__(self, points: torch.Tensor, schedule: Schedule):
        super().__init__()
        self.ideal, self.schedule = EmpiricalX0(points), schedule

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t  # (B,)
        if t.shape != (x.shape[0],):
            raise ValueError(f"empirical_denoiser: t must be one time or shape ({x.shape[0]},), got {tuple(t.shape)}")
        return self.ideal(x, self.schedule.alpha(t), self.schedule.sigma(t))


def empirical_denoiser(points: torch.Tensor, schedule: Schedule, clip: float | None = None):
    """The ideal denoiser of a finite training set (EmpiricalX0) as a params.Denoiser predicting x0,
    so any sampler runs with it: model(x, t).x0 is the softmax-weighted average of the points."""
    from ..core.params import Denoiser

    return Denoiser(_EmpiricalNet(points, schedule), schedule, target="x0", clip=clip,
                    sample_shape=tuple(torch.as_tensor(points).shape[1:]))


def reverse_step_density(gm: GaussianMixture, alpha_prev: float, sigma_prev: float, beta: float,
                         xt: float, ys: torch.Tensor) -> torch.Tensor:
    """The exact density of one reverse step, q(x_{t-1} = y | x_t) on a grid ys, for 1-D data.

    Bayes' rule: q(y | x_t) is proportional to q(x_t | y) q_{t-1}(y), with q(x_t | y) = N(sqrt(1 - beta) y,
    beta) (Ho et al. 2020, eq. 2) and q_{t-1} the data noised to (alpha_prev, sigma_prev). For small
    beta the first factor is so narrow that the second is nearly log-linear across it, which makes
    the product nearly Gaussian (Feller 1949; Sohl-Dickstein et al. 2015, section 2.2).
    Normalised so that it sums to 1 / spacing on the (uniform) grid.
    """
    if gm.dim != 1:
        raise ValueError(f"reverse_step_density: needs a 1-D mixture, got D = {gm.dim}")
    if not 0 < beta < 1:
        raise ValueError(f"reverse_step_density: beta must be in (0, 1), got {beta}")
    ys = torch.as_tensor(ys, dtype=torch.float64)
    prior = gm.to(torch.float64).noised(alpha_prev, sigma_prev).log_prob(ys[:, None])  # (G,)
    forward = torch.distributions.Normal((1 - beta) ** 0.5 * ys, beta**0.5).log_prob(torch.tensor(float(xt), dtype=torch.float64))
    log_p = prior + forward
    p = torch.exp(log_p - log_p.max())
    return p / (p.sum() * (ys[1] - ys[0]))


# ---- a labelled mixture: classes, the exact classifier, and the powered target of guidance -------

def _class_labels(gm: GaussianMixture, labels, where: str) -> torch.Tensor:
    """labels (K,): the class of each component, 0..C-1, every class used at least once."""
    labels = torch.as_tensor(labels)
    if labels.is_floating_point() or labels.shape != gm.weights.shape:
        raise ValueError(f"{where}: labels must be {len(gm.weights)} whole numbers, one class per component, "
                         f"got {labels.dtype} of shape {tuple(labels.shape)}")
    labels = labels.long().cpu()
    if labels.min() < 0 or set(labels.tolist()) != set(range(int(labels.max()) + 1)):
        raise ValueError(f"{where}: the classes must be 0..C-1, each used by some component; "
                         f"got {labels.tolist()}")
    return labels


def class_mixture(gm: GaussianMixture, labels, y: int) -> GaussianMixture:
    """p(x | y): the components of class y, their weights renormalised (Bayes' rule on the mixture)."""
    labels = _class_labels(gm, labels, "class_mixture")
    rows = labels == int(y)
    if not rows.any():
        raise ValueError(f"class_mixture: y must be one of the classes 0..{int(labels.max())}, got {y}")
    return GaussianMixture(gm.means[rows], gm.stds[rows], gm.weights[rows])


def _time_groups(t: torch.Tensor, x: torch.Tensor, schedule: Schedule):
    """(rows, alpha, sigma) for each distinct time in t: noised() takes one (alpha, sigma) pair."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    t = t.expand(x.shape[0]) if t.ndim == 0 else t  # (B,)
    if t.shape != (x.shape[0],):
        raise ValueError(f"exact: t must be one time or shape ({x.shape[0]},), got {tuple(t.shape)}")
    for time in t.detach().unique():
        t64 = time.cpu().double()  # float64 on the CPU: MPS has no float64
        yield t == time, schedule.alpha(t64).item(), schedule.sigma(t64).item()


class ConditionalMixtureEps(nn.Module):
    """The exact eps of a labelled mixture given a class: eps(x, t, y) = -sigma(t) grad log p_t(x | y);
    y = num_classes (the null label, or cond=None) gives the whole mixture, as in Ho & Salimans 2022."""

    def __init__(self, gm: GaussianMixture, labels, schedule: Schedule):
        super().__init__()
        self.labels = _class_labels(gm, labels, "ConditionalMixtureEps")
        self.num_classes = int(self.labels.max()) + 1
        # one mixture per class, then the whole one at index num_classes (the null label)
        self.parts = [class_mixture(gm, self.labels, y) for y in range(self.num_classes)] + [gm]
        self.gm, self.schedule = gm, schedule

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.gm.dim:
            raise ValueError(f"ConditionalMixtureEps: x must have shape (B, {self.gm.dim}), got {tuple(x.shape)}")
        cond = torch.full((x.shape[0],), self.num_classes) if cond is None else torch.as_tensor(cond).long()
        cond = cond.expand(x.shape[0]) if cond.ndim == 0 else cond
        if cond.shape != (x.shape[0],) or cond.min() < 0 or cond.max() > self.num_classes:
            raise ValueError(f"ConditionalMixtureEps: cond must be (B,) = ({x.shape[0]},) labels in "
                             f"0..{self.num_classes} ({self.num_classes}: no label), got {cond.tolist()[:8]}")
        cond = cond.to(x.device)
        eps = torch.empty_like(x)  # (B, D)
        for rows, alpha, sigma in _time_groups(t, x, self.schedule):
            for y in cond[rows].unique().tolist():
                sel = (rows & (cond == y)).nonzero()[:, 0]  # indices: cheaper than a mask twice
                eps[sel] = -sigma * self.parts[y].noised(alpha, sigma).score(x[sel])
        return eps


def conditional_mixture_denoiser(gm: GaussianMixture, labels, schedule: Schedule, clip: float | None = None):
    """The exact class-conditional denoiser of a labelled mixture, a params.Denoiser: model(x, t, cond)
    with cond (B,) in 0..C-1, or C (the null label) for the whole mixture; the ideal network of
    classifier-free guidance (Ho & Salimans 2022), so guidance.ClassifierFree takes it as it is."""
    from ..core.params import Denoiser

    return Denoiser(ConditionalMixtureEps(gm, labels, schedule), schedule, target="eps", clip=clip)


class MixtureClassifier(nn.Module):
    """The exact noise-aware classifier of a labelled mixture: (x, t) -> log p(y | x_t), shape (B, C).

    Bayes' rule on the noised mixture: p(y | x_t) = sum_{k in y} w_k N_k,t(x_t) / sum_k w_k N_k,t(x_t),
    N_k,t the k-th component noised to (alpha(t), sigma(t)). The outputs are normalised log-probabilities,
    so they are also logits (log_softmax leaves them unchanged); differentiable in x.
    """

    def __init__(self, gm: GaussianMixture, labels, schedule: Schedule):
        super().__init__()
        self.labels = _class_labels(gm, labels, "MixtureClassifier")
        self.num_classes = int(self.labels.max()) + 1
        self.gm, self.schedule = gm, schedule

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.gm.dim:
            raise ValueError(f"MixtureClassifier: x must have shape (B, {self.gm.dim}), got {tuple(x.shape)}")
        onehot = nn.functional.one_hot(self.labels, self.num_classes).to(x)  # (K, C)
        parts, index = [], []
        for rows, alpha, sigma in _time_groups(t, x, self.schedule):
            rows = rows.nonzero()[:, 0]  # (b,) the samples at this time
            log_joint = self.gm.noised(alpha, sigma)._component_log_probs(x[rows])  # (b, K): log w_k N_k,t
            # log sum over the components of each class; log 0 = -inf masks the others
            per_class = torch.logsumexp(log_joint[:, :, None] + onehot.log(), dim=1)  # (b, C)
            parts.append(per_class - torch.logsumexp(log_joint, dim=1, keepdim=True))
            index.append(rows)
        return torch.cat(parts)[torch.cat(index).argsort()]  # (B, C), back in the batch's order


def mixture_classifier(gm: GaussianMixture, labels, schedule: Schedule) -> MixtureClassifier:
    """The exact log p(y | x_t) of a labelled mixture at every t, as classifier(x, t) -> (B, C)."""
    return MixtureClassifier(gm, labels, schedule)


class PoweredGrid(NamedTuple):
    """A density on a square grid: density[i, j] at the cell centred on (x[j], y[i]) (imshow's rows)."""

    density: torch.Tensor  # (n, n), sums to 1 / cell area
    x: torch.Tensor  # (n,) cell centres along the first coordinate
    y: torch.Tensor  # (n,) along the second


def powered_density(gm: GaussianMixture, labels, y: int, w: float, lim: float = 4.0, n: int = 800) -> PoweredGrid:
    """p(x | y)^w p(x)^(1 - w) on the n x n cell centres of [-lim, lim]^2, normalised numerically:
    what guidance with weight w would sample if it did what its score suggests (Bradley & Nakkiran 2024)."""
    if gm.dim != 2:
        raise ValueError(f"powered_density: needs a 2-D mixture, got D = {gm.dim}")
    w = float(w)
    if not (w >= 0 and math.isfinite(w)):
        raise ValueError(f"powered_density: w must be a finite number >= 0, got {w}")
    labels = tuple(_class_labels(gm, labels, "powered_density").tolist())
    # Cached by value: a noise floor draws from the same grid a dozen times.
    key = tuple(tuple(p.detach().cpu().double().reshape(-1).tolist()) for p in (gm.means, gm.stds, gm.weights))
    return PoweredGrid(*(v.clone() for v in _powered_grid(key, labels, int(y), w, float(lim), int(n))))


@functools.lru_cache(maxsize=16)
def _powered_grid(key: tuple, labels: tuple, y: int, w: float, lim: float, n: int) -> PoweredGrid:
    means, stds, weights = (torch.tensor(k, dtype=torch.float64) for k in key)
    gm64 = GaussianMixture(means.reshape(len(weights), -1), stds.reshape(len(weights), -1), weights)
    h = 2 * lim / n  # the cell width
    centres = -lim + h * (torch.arange(n, dtype=torch.float64) + 0.5)  # (n,)
    gy, gx = torch.meshgrid(centres, centres, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # (n*n, 2), row-major in y
    log_p = w * class_mixture(gm64, labels, y).log_prob(points) + (1 - w) * gm64.log_prob(points)
    mass = torch.softmax(log_p, dim=0)  # (n*n,): each cell's share, by the midpoint rule
    return PoweredGrid((mass / h**2).reshape(n, n), centres, centres)


def sample_powered(gm: GaussianMixture, labels, y: int, w: float, n: int, generator: torch.Generator | None = None,
                   lim: float = 4.0, grid: int = 800) -> torch.Tensor:
    """n exact samples (n, 2) of p(x | y)^w p(x)^(1 - w) (powered_density): a cell by its mass, then a
    uniform point in it. Resolution: no point leaves its cell (width h = 2 lim / grid = 0.01 at the
    defaults), and the law's error, the density's slope across a cell, is of order h^2 |grad log p| / 12,
    about 1e-5, against a sliced-Wasserstein floor of 0.03 (2,000 points of toy.labelled_mixture) or
    0.02 (4,000); mass outside [-lim, lim]^2 is dropped. functools.partial(sample_powered, gm, labels,
    y, w) is a Sampler (n, generator) for metrics.in_floor_units."""
    check_generator(generator, "exact.sample_powered")
    pg = powered_density(gm, labels, y, w, lim, grid)
    h = 2 * lim / grid
    gen_device = generator.device if generator is not None else torch.device("cpu")
    cells = torch.multinomial(pg.density.reshape(-1).to(gen_device), n, replacement=True, generator=generator)
    row, col = cells // grid, cells % grid  # (n,) each
    u = torch.rand(n, 2, generator=generator, device=gen_device, dtype=torch.float64) - 0.5  # within the cell
    x = torch.stack([pg.x.to(gen_device)[col], pg.y.to(gen_device)[row]], dim=1) + h * u
    return x.to(gm.means.dtype)


# ---- exact posteriors of inverse problems (lesson 13): a mixture seen in part, or through noise -----

def seen_posterior(gm: GaussianMixture, seen: torch.Tensor, value) -> GaussianMixture:
    """p(hidden coordinates | the coordinates where `seen` is True equal `value`), a mixture again.

    A component's axes are independent (diagonal covariance), so given component k the hidden axes
    keep their Gaussian N(mu_k, s_k^2); Bayes' rule reweights the components by how well each explains
    what is seen: w_k' proportional to w_k N(value; mu_k[seen], s_k[seen]^2) (Bishop 2006, section 9.2).
    For two pixels, the law of one pixel given the other. seen: (D,) bool; value: (number of seen,)."""
    seen = torch.as_tensor(seen, dtype=torch.bool, device=gm.means.device)
    if seen.shape != (gm.dim,) or seen.all() or not seen.any():
        raise ValueError(f"seen_posterior: seen must be {gm.dim} booleans with some True (seen) and some False "
                         f"(hidden), got {seen.tolist()}")
    value = torch.as_tensor(value, dtype=gm.means.dtype, device=gm.means.device).reshape(-1)
    if value.shape != (int(seen.sum()),):
        raise ValueError(f"seen_posterior: value must hold one number per seen coordinate ({int(seen.sum())}), "
                         f"got shape {tuple(value.shape)}")
    part = GaussianMixture(gm.means[:, seen], gm.stds[:, seen], gm.weights)
    weights = part.responsibilities(value[None])[0]  # (K,): p(k | seen part)
    return GaussianMixture(gm.means[:, ~seen], gm.stds[:, ~seen], weights)


class FullMixture(NamedTuple):
    """A Gaussian mixture with full covariances: what a linear observation makes of a diagonal one."""

    means: torch.Tensor  # (K, D)
    covs: torch.Tensor  # (K, D, D)
    weights: torch.Tensor  # (K,), summing to 1

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n exact samples (n, D): a component by weight, then mu_k + L_k z with L_k L_k^T = C_k."""
        check_generator(generator, "FullMixture.sample")
        gen_device = generator.device if generator is not None else torch.device("cpu")
        k = torch.multinomial(self.weights.to(gen_device), n, replacement=True, generator=generator)  # (n,)
        z = torch.randn(n, self.means.shape[1], generator=generator, device=gen_device, dtype=self.means.dtype)
        chol = torch.linalg.cholesky(self.covs.to(gen_device))  # (K, D, D)
        x = self.means.to(gen_device)[k] + (chol[k] @ z[:, :, None])[:, :, 0]
        return x.to(self.means.device)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x), shape (N,)."""
        normals = torch.distributions.MultivariateNormal(self.means.to(x), self.covs.to(x))
        return torch.logsumexp(normals.log_prob(x[:, None, :]) + self.weights.to(x).log(), dim=1)

    def mean(self) -> torch.Tensor:
        """E[x], shape (D,): for a posterior, the MMSE estimate."""
        return self.weights @ self.means


def linear_posterior(gm: GaussianMixture, A: torch.Tensor, y: torch.Tensor, s: float) -> FullMixture:
    """p(x | y) for y = A x + s n, n ~ N(0, I), x from the mixture: again a mixture, with full covariances.

    Per component, x and y are jointly Gaussian: C_k' = (C_k^-1 + A^T A / s^2)^-1, mu_k' = C_k' (C_k^-1 mu_k
    + A^T y / s^2) (Bishop 2006, eq. 2.116-2.117), and the weights are w_k N(y; A mu_k, A C_k A^T + s^2 I)
    renormalised. A = I is denoising; a row of A that picks a coordinate is a mask; s > 0."""
    s = float(s)
    if not s > 0:
        raise ValueError(f"linear_posterior: s must be > 0 (for s = 0 and a mask use seen_posterior), got {s}")
    A = torch.as_tensor(A, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    if A.ndim != 2 or A.shape[1] != gm.dim or y.shape != (A.shape[0],):
        raise ValueError(f"linear_posterior: A must be (M, {gm.dim}) and y (M,), got A {tuple(A.shape)} and "
                         f"y {tuple(y.shape)}")
    means, var, weights = (p.detach().cpu().double() for p in (gm.means, gm.stds**2, gm.weights))
    eye = torch.eye(A.shape[0], dtype=torch.float64)
    precision = torch.diag_embed(1 / var) + A.T @ A / s**2  # (K, D, D)
    covs = torch.linalg.inv(precision)
    covs = (covs + covs.transpose(1, 2)) / 2  # symmetric to the last bit, for the Cholesky factor
    means_post = (covs @ (means / var + A.T @ y / s**2)[:, :, None])[:, :, 0]  # (K, D)
    evidence = torch.distributions.MultivariateNormal(means @ A.T, A @ torch.diag_embed(var) @ A.T + s**2 * eye)
    w = torch.softmax(evidence.log_prob(y) + weights.log(), dim=0)
    dtype, device = gm.means.dtype, gm.means.device
    return FullMixture(means_post.to(dtype).to(device), covs.to(dtype).to(device), w.to(dtype).to(device))
