"""Two-pixel images and the 2-D shapes of minidiff.toy, checked against what they promise: exact
scaling, exact cell probabilities, points on the right curves, uniform where uniform is claimed."""

import math
import pathlib
import re

import pytest
import torch
from scipy import stats

from minidiff import metrics, toy

# Every statistical test uses a fixed seed and rejects at p < 1e-6: a correct sampler would fail one
# in a million seeds, while each alternative below is rejected by a wide margin.
P_REJECT = 1e-6


def chi_square_ok(counts: torch.Tensor, probs: torch.Tensor) -> bool:
    """Pearson's chi-square test; cells expected to get fewer than 5 points are pooled (the usual
    condition for the chi-square approximation)."""
    counts, probs = counts.double().ravel(), probs.double().ravel()
    expected = probs * counts.sum()
    small = expected < 5
    obs = torch.cat([counts[~small], counts[small].sum()[None]])
    exp = torch.cat([expected[~small], expected[small].sum()[None]])
    keep = exp > 0
    stat = (((obs - exp) ** 2)[keep] / exp[keep]).sum().item()
    return stat < stats.chi2.isf(P_REJECT, int(keep.sum()) - 1)


# --- two-pixel images ------------------------------------------------------------------------------

def test_image_to_point_is_the_course_scaling(device):
    levels = torch.arange(256, device=device).to(torch.uint8).reshape(128, 1, 2)
    x = toy.image_to_point(levels)
    assert x.shape == (128, 2) and x.device.type == device.type and x.dtype == torch.float32
    # 0 -> -1 and 255 -> +1 exactly, with equal steps of 2/255 in between.
    assert x[0, 0].item() == -1.0 and x[-1, -1].item() == 1.0
    assert torch.allclose(x.ravel().diff(), torch.full((255,), 2 / 255, device=device), atol=1e-6)
    assert torch.equal(toy.point_to_image(x), levels)  # round trip for all 256 levels


def test_point_to_image_clips_and_rounds(device):
    x = torch.tensor([[-3.0, 2.0], [0.0, 1 / 255], [-1 + 0.9 * 2 / 255, 1 - 0.4 * 2 / 255]], device=device)
    img = toy.point_to_image(x)
    assert img.dtype == torch.uint8 and img.shape == (3, 1, 2) and img.device.type == device.type
    # 0.0 is level 127.5, rounded half to even -> 128; 1/255 is 128.0; then 0.9 -> 1 and 254.6 -> 255.
    assert img.reshape(3, 2).tolist() == [[0, 255], [128, 128], [1, 255]]


def test_converters_reject_bad_input():
    with pytest.raises(ValueError, match="0..255"):
        toy.image_to_point(torch.tensor([[0.0, 300.0]]))
    with pytest.raises(ValueError, match="batch of images"):
        toy.image_to_point(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        toy.point_to_image(torch.zeros(4, 3))


def test_two_pixel_mixture_sits_on_the_named_clusters():
    gm = toy.two_pixel_mixture()
    levels = toy.point_to_image(gm.means).reshape(-1, 2)
    assert levels.tolist() == [list(c[1]) for c in toy.TWO_PIXEL_CLUSTERS]
    assert torch.allclose(gm.weights, torch.tensor([c[3] for c in toy.TWO_PIXEL_CLUSTERS]))


def test_cell_mass_equals_the_integral_of_the_density():
    # Independent truth: a midpoint Riemann sum of exp(log_prob) over each cell.
    gm = toy.two_pixel_mixture().to(torch.float64)
    edges = torch.tensor([-1.0, -0.6, -0.1, 0.3, 0.8, 1.0], dtype=torch.float64)
    h = 0.0025
    g = torch.arange(-1 + h / 2, 1, h, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    dens = gm.log_prob(torch.stack([xx.ravel(), yy.ravel()], 1)).exp().reshape(xx.shape) * h * h
    cell = torch.bucketize(g, edges) - 1  # which cell each grid coordinate falls in
    rows, cols = cell[:, None].expand_as(dens).ravel(), cell[None, :].expand_as(dens).ravel()
    riemann = torch.zeros(5, 5, dtype=torch.float64).index_put_((rows, cols), dens.ravel(), accumulate=True)
    # Midpoint rule error ~ h^2 / 24 * |f''| * area: far below 1e-4 for stds of 0.11.
    assert torch.allclose(toy.cell_mass(gm, edges, edges), riemann, atol=1e-4)


@pytest.mark.parametrize("bins", [4, 8, 16])
def test_image_counts_match_exact_cell_probabilities(bins):
    images = toy.two_pixel_images(100_000, generator=torch.Generator().manual_seed(0))
    probs = toy.two_pixel_cell_probs(bins)
    assert abs(probs.sum().item() - 1) < 1e-12
    counts = toy.two_pixel_cell_counts(images, bins)
    assert counts.sum() == 100_000 and chi_square_ok(counts, probs)
    # Power: the same counts against the mixture with its weights swapped fail the test.
    assert not chi_square_ok(counts, probs.T)


def test_two_pixel_images_type_device_and_seed(device):
    a = toy.two_pixel_images(50, generator=torch.Generator().manual_seed(1), device=device)
    b = toy.two_pixel_images(50, generator=torch.Generator().manual_seed(1), device=device)
    assert a.dtype == torch.uint8 and a.shape == (50, 1, 2) and a.device.type == device.type
    assert torch.equal(a, b)


# --- 2-D shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [toy.moons, toy.spirals, toy.checkerboard])
def test_seed_device_dtype_and_scale(shape, device):
    sample = shape().sample
    a = sample(2000, generator=torch.Generator().manual_seed(3), device=device)
    b = sample(2000, generator=torch.Generator().manual_seed(3), device=device)
    c = sample(2000, generator=torch.Generator().manual_seed(4), device=device)
    assert a.shape == (2000, 2) and a.dtype == torch.float32 and a.device.type == device.type
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() < 3.0  # the scale of ring(radius=2)
    assert sample(0).shape == (0, 2)


def test_moons_without_noise_lie_on_their_arcs():
    x = toy.moons(noise=0.0).sample(20_001, generator=torch.Generator().manual_seed(5)).double()
    (c1, c2), r = torch.tensor(toy.MOON_CENTRES, dtype=torch.float64), toy.MOON_RADIUS
    upper = ((x - c1).norm(dim=1) - r).abs() < 1e-5
    lower = ((x - c2).norm(dim=1) - r).abs() < 1e-5
    assert (upper | lower).all()
    assert (x[upper, 1] >= c1[1] - 1e-5).all() and (x[lower, 1] <= c2[1] + 1e-5).all()
    assert upper.sum() == 10_001 and lower.sum() == 10_000  # half the points each
    # Uniform along each half circle: the angle is uniform on its half turn.
    angle = torch.atan2(x[upper, 1] - c1[1], x[upper, 0] - c1[0]) / math.pi  # in [0, 1]
    counts = torch.histc(angle.float(), bins=20, min=0, max=1)
    assert chi_square_ok(counts, torch.full((20,), 1 / 20))


def _distance_to_arc(x, centre, upper: bool):
    d = x - centre  # (N, 2)
    on_side = d[:, 1] >= 0 if upper else d[:, 1] <= 0
    radial = (d.norm(dim=1) - toy.MOON_RADIUS).abs()
    ends = centre + toy.MOON_RADIUS * torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=x.dtype)
    to_ends = torch.cdist(x, ends).min(dim=1).values
    return torch.where(on_side, radial, to_ends)


def test_moons_noise_has_the_stated_size():
    noise, n = 0.05, 40_000
    x = toy.moons(noise=noise).sample(n, generator=torch.Generator().manual_seed(6)).double()
    (c1, c2) = torch.tensor(toy.MOON_CENTRES, dtype=torch.float64)
    dist = torch.minimum(_distance_to_arc(x, c1, True), _distance_to_arc(x, c2, False))
    # The distance to the curve is |radial part of the noise| ~ |N(0, noise^2)| up to curvature
    # terms of order noise^2 / R (0.2% here); the RMS estimate has relative s.e. 1/sqrt(2n) = 0.35%.
    rms = dist.pow(2).mean().sqrt().item()
    assert abs(rms / noise - 1) < 0.03, rms
    assert dist.max() < 6 * noise


def test_spirals_without_noise_lie_on_the_curve():
    x = toy.spirals(noise=0.0).sample(20_000, generator=torch.Generator().manual_seed(7)).double()
    r = x.norm(dim=1)
    theta_max = 2 * math.pi * toy.SPIRAL_TURNS
    theta = r / toy.SPIRAL_RADIUS * theta_max  # where r = R theta / theta_max puts each point
    # The polar angle equals theta (first arm) or theta + pi (second arm), modulo a full turn.
    offset = torch.remainder(torch.atan2(x[:, 1], x[:, 0]) - theta, 2 * math.pi)
    first = (offset < 1e-4) | (offset > 2 * math.pi - 1e-4)
    second = (offset - math.pi).abs() < 1e-4
    assert (first | second).all() and first.sum() == 10_000 and second.sum() == 10_000
    # theta = theta_max sqrt(u): (r / R)^2 is uniform on [0, 1].
    counts = torch.histc((r / toy.SPIRAL_RADIUS).pow(2).float(), bins=20, min=0, max=1)
    assert chi_square_ok(counts, torch.full((20,), 1 / 20))


def _checker_cells(x, size=4.0, squares=4, sub=4):
    # Index of each point's sub-cell on a (squares * sub)^2 grid.
    k = squares * sub
    ij = ((x + size / 2) / size * k).floor().long().clamp(0, k - 1)
    return ij, torch.bincount(ij[:, 0] * k + ij[:, 1], minlength=k * k).reshape(k, k)


def test_checkerboard_is_uniform_on_the_dark_squares():
    n = 100_000
    x = toy.checkerboard().sample(n, generator=torch.Generator().manual_seed(8))
    assert (x.abs() <= 2.0).all()
    square = ((x + 2.0).floor()).long()  # (N, 2): column, row of the 1 x 1 square
    assert ((square.sum(1) % 2) == 0).all(), "a point landed on a light square"
    _, counts = _checker_cells(x)
    idx = torch.arange(16)
    dark = ((idx[:, None] // 4 + idx[None, :] // 4) % 2 == 0).double()
    probs = dark / dark.sum()  # uniform over the 8 dark squares, 16 sub-cells each
    assert chi_square_ok(counts, probs)
    # Power: a sampler with a 10% tilt towards x > 0 is rejected at this size.
    g = torch.Generator().manual_seed(9)
    tilted = x.clone()
    flip = (tilted[:, 0] < 0) & (torch.rand(n, generator=g) < 0.1)
    tilted[flip, 0] += 2.0  # same parity, other half of the board
    assert not chi_square_ok(_checker_cells(tilted)[1], probs)


def test_shapes_reject_bad_input():
    with pytest.raises(ValueError, match="noise must be"):
        toy.moons(noise=-0.1)
    with pytest.raises(ValueError, match="n must be a non-negative int, got -1"):
        toy.spirals().sample(-1)
    with pytest.raises(ValueError, match="even int"):
        toy.checkerboard(squares=3)
    # the old call form draws nothing silently: it says how to draw now
    with pytest.raises(TypeError, match=r"toy.moons\(\) takes no n: it returns the data set, as toy.ring\(\) does; "
                                        r"draw points with toy.moons\(\).sample\(1000, generator=g\)"):
        toy.moons(1000)
    with pytest.raises(TypeError, match=r"toy.checkerboard\(\).sample\(10, generator=g\)"):
        toy.checkerboard(10)


# --- one shape for every 2-D data set ---------------------------------------------------------------

DATA_SETS = {"ring": toy.ring, "grid": toy.grid, "two_modes": toy.two_modes, "moons": toy.moons,
             "spirals": toy.spirals, "checkerboard": toy.checkerboard,
             "labelled_mixture": lambda: toy.labelled_mixture().gm, "two_pixel_mixture": toy.two_pixel_mixture}


def _readme_opening() -> str:
    """The README script's lines up to the training data: imports, seed, truth, x0."""
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme[readme.index("truth = toy.ring()") - 2000:], re.S).group(1)
    lines = code.splitlines()
    return "\n".join(lines[:next(i for i, line in enumerate(lines) if line.startswith("x0 = truth.sample")) + 1])


@pytest.mark.parametrize("name", DATA_SETS)
def test_every_2d_data_set_drops_into_the_readme_script(name):
    opening = _readme_opening()
    assert "truth = toy.ring()" in opening
    space = {}
    exec(opening.replace("toy.ring()", f"DATA_SETS[{name!r}]()"), {"DATA_SETS": DATA_SETS}, space)
    x0, truth = space["x0"], space["truth"]
    assert x0.shape == (20_000, 2) and x0.dtype == torch.float32 and x0.isfinite().all()
    assert truth.dim == 2
    # the same seed draws the same points; the truth stands in for its sampler in the floor measures
    g = torch.Generator().manual_seed(0)
    assert torch.equal(truth.sample(300, generator=g), truth.sample(300, torch.Generator().manual_seed(0)))
    units = metrics.in_floor_units(truth.sample(400, g), truth, generator=g)
    assert 0.4 < units < 2.5, units  # exact samples: about 1


# Sums and absolute sums of 1,000 points at seed 0, from the functions the lessons called before the
# data sets became objects (toy.moons(1000, generator=g)): the lessons' numbers must not move.
OLD_SUMS = {"moons": (18.21639680536464, 1843.8982837158255), "spirals": (-14.347070668824017, 2117.202375884168),
            "checkerboard": (6.511823654174805, 2045.8522810935974)}


@pytest.mark.parametrize("name", OLD_SUMS)
def test_the_shapes_draw_the_old_samplers_numbers(name):
    x = getattr(toy, name)().sample(1000, generator=torch.Generator().manual_seed(0)).double()
    assert (x.sum().item(), x.abs().sum().item()) == pytest.approx(OLD_SUMS[name], rel=1e-6)
