"""Pictures of lesson 01: two-pixel images as points, a density as a surface over the plane."""

import numpy as np
import torch
from matplotlib.patches import Rectangle

from ...worlds import toy
from ._core import figure

LIM = 1.15  # the plane shown: the square [-1, 1]^2 where images live, plus a margin
LETTERS = "ABCDEFGHIJKL"


def density_grid(gm, lim: float = LIM, grid: int = 121):
    """The density on a grid x grid mesh over [-lim, lim]^2, as numpy arrays (X, Y, Z)."""
    g = torch.linspace(-lim, lim, grid, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")  # (grid, grid): rows are y, columns are x
    z = gm.to("cpu", torch.float64).log_prob(torch.stack([xx.ravel(), yy.ravel()], 1)).exp()
    return xx.numpy(), yy.numpy(), z.reshape(grid, grid).numpy()


def _grey_level_axes(ax) -> None:
    # Point coordinates below and left; the grey levels they stand for on top and right.
    to_level, to_point = (lambda x: (x + 1) * 127.5), (lambda v: v / 127.5 - 1)
    ax.secondary_xaxis("top", functions=(to_level, to_point)).set_xlabel("pixel 1 (grey level)")
    ax.secondary_yaxis("right", functions=(to_level, to_point)).set_ylabel("pixel 2 (grey level)")
    ax.set_xlabel("x1 = pixel 1 / 127.5 - 1")
    ax.set_ylabel("x2 = pixel 2 / 127.5 - 1")
    ax.set_aspect("equal")


def _contours(ax, grid, points=None, level_axes: bool = True) -> None:
    X, Y, Z = grid
    ax.contourf(X, Y, Z, levels=14, cmap="viridis")
    ax.plot([-1, 1, 1, -1, -1], [-1, -1, 1, 1, -1], "w--", lw=0.8)  # where images can be
    if points is not None:
        p = points.detach().cpu().numpy()
        ax.scatter(p[:, 0], p[:, 1], s=3, c="tab:orange", alpha=0.6, lw=0)
    ax.set_xlim(-LIM, LIM)
    ax.set_ylim(-LIM, LIM)
    if level_axes:
        _grey_level_axes(ax)
    else:  # the slider's figure: half the drawing time without the second pair of axes
        ax.set_xlabel("x1 (pixel 1)")
        ax.set_ylabel("x2 (pixel 2)")
        ax.set_aspect("equal")


def density_contours(gm, points: torch.Tensor | None = None, title: str = "density p(x), seen from above"):
    """Contours of a 2-D density over the image square, with sample points on top when given."""
    fig, ax = figure(size=4.2)
    _contours(ax, density_grid(gm), points)
    ax.set_title(title)
    return fig


def _surface(ax, grid) -> None:
    X, Y, Z = grid
    ax.plot_surface(X, Y, Z, cmap="viridis", rstride=2, cstride=2, linewidth=0, antialiased=False)
    ax.set_xlabel("x1 (pixel 1)")
    ax.set_ylabel("x2 (pixel 2)")
    ax.set_zlabel("p(x)")
    ax.view_init(elev=32, azim=-62)


def surface_and_contours(gm, points: torch.Tensor | None = None):
    """The density as a surface over the plane (3-D) beside the same surface from above (contours)."""
    fig, axes = figure(1, 2, size=4.4)
    axes[0].remove()  # the left panel becomes a 3-D one
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    grid = density_grid(gm)
    _surface(ax3, grid)
    ax3.set_title("density as a surface")
    _contours(axes[1], grid, points)
    axes[1].set_title("the same, from above" + (" + samples" if points is not None else ""))
    return fig


def draw_pixels(ax, image, x: float = 0.0, y: float = 0.0, width: float = 2.0, label: str = "") -> None:
    """Draw one two-pixel image (grey levels 0..255) at (x, y), with its levels written on it."""
    levels = np.asarray(torch.as_tensor(image).reshape(-1).cpu(), dtype=float)  # (2,)
    h = width / 2
    ax.imshow(levels[None, :], cmap="gray", vmin=0, vmax=255, extent=(x, x + width, y, y + h),
              interpolation="nearest")
    ax.add_patch(Rectangle((x, y), width, h, fill=False, edgecolor="tab:red", lw=1.2))
    for i, v in enumerate(levels):
        ax.text(x + h * (i + 0.5), y + h / 2, f"{v:.0f}", ha="center", va="center",
                color="black" if v > 127 else "white", fontsize=9)
    if label:
        ax.text(x - 0.1 * h, y + h / 2, label, ha="right", va="center", fontsize=10)


def _image_column(ax, images, labels) -> None:
    # A column of two-pixel images, top to bottom, each labelled.
    for row, (img, label) in enumerate(zip(images, labels)):
        draw_pixels(ax, img, 0.0, -1.4 * row, 2.0, label)
    ax.set_xlim(-0.8, 2.1)
    ax.set_ylim(-1.4 * len(images) + 0.3, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")


def cloud_with_images(images: torch.Tensor, k: int = 6, gm=None, highlight=None):
    """A data set of two-pixel images as a cloud of points, some shown as the images they are: the
    first k, or those at the indices `highlight`."""
    highlight = list(range(k)) if highlight is None else [int(i) for i in highlight]
    if not 1 <= len(highlight) <= len(LETTERS):
        raise ValueError(f"cloud_with_images: show 1..{len(LETTERS)} images, got {len(highlight)}")
    x = toy.image_to_point(images).cpu()  # (N, 2)
    fig, (ax, side) = figure(1, 2, size=4.2, gridspec_kw={"width_ratios": [3, 1.2]})
    fig.set_size_inches(6.4, 4.4)
    if gm is not None:
        X, Y, Z = density_grid(gm)
        ax.contour(X, Y, Z, levels=8, cmap="viridis", linewidths=0.7)
    ax.scatter(x[:, 0], x[:, 1], s=4, c="tab:blue", alpha=0.4, lw=0)
    ax.set_xlim(-LIM, LIM)
    ax.set_ylim(-LIM, LIM)
    _grey_level_axes(ax)
    for letter, i in zip(LETTERS, highlight):
        ax.scatter(x[i, 0], x[i, 1], s=40, c="tab:red", marker="x")
        ax.annotate(letter, x[i].tolist(), xytext=(4, 4), textcoords="offset points", color="tab:red",
                    fontweight="bold", fontsize=11)
    ax.set_title(f"{len(x)} images = {len(x)} points")
    _image_column(side, images[highlight], LETTERS[:len(highlight)])
    side.set_title("as images")
    return fig


def cell_mass_figure(probs: torch.Tensor, counts: torch.Tensor):
    """Exact probability of each cell of grey levels beside the fraction of samples that fell in it."""
    bins = probs.shape[0]
    freq = (counts / counts.sum()).cpu().double()
    fig, (left, right) = figure(1, 2, size=3.8)
    im = left.imshow(probs.T.cpu().numpy(), origin="lower", extent=(0, 256, 0, 256), cmap="viridis")
    fig.colorbar(im, ax=left, shrink=0.8)
    left.set_title(f"exact mass of {bins}x{bins} cells")
    left.set_xlabel("pixel 1 (grey level)")
    left.set_ylabel("pixel 2 (grey level)")
    top = max(probs.max().item(), freq.max().item()) * 1.05
    right.plot([0, top], [0, top], "k--", lw=0.8, label="equal")
    right.scatter(probs.ravel().cpu().numpy(), freq.ravel().numpy(), s=14)
    right.set_xlabel("exact probability of the cell")
    right.set_ylabel(f"fraction of {int(counts.sum())} samples")
    right.set_title("samples land where the mass is")
    right.legend(loc="upper left")
    return fig


def cursor_figure(gm, level1: int, level2: int, grid=None):
    """Where the cursor (pixel 1, pixel 2) sits in the plane, the image it is, and the density there."""
    grid = grid if grid is not None else density_grid(gm)
    image = torch.tensor([[[level1, level2]]], dtype=torch.uint8)  # (1, 1, 2)
    x = toy.image_to_point(image)  # (1, 2)
    density = gm.log_prob(x.to(gm.means)).exp().item()
    fig, (ax, side) = figure(1, 2, size=3.4, gridspec_kw={"width_ratios": [3, 1.6]})
    fig.set_size_inches(5.4, 3.4)
    _contours(ax, grid, level_axes=False)
    ax.scatter([x[0, 0]], [x[0, 1]], s=160, marker="+", c="tab:red", lw=2.2)
    ax.set_title(f"cursor at ({x[0, 0]:.2f}, {x[0, 1]:.2f}): p = {density:.3f}")
    _image_column(side, image, [""])
    side.set_title("the image there")
    return fig


def grey_level_figure(level: int):
    """One grey pixel, and where its level lands on the course's [-1, 1] scale."""
    fig, (ax, scale) = figure(1, 2, size=2.6, gridspec_kw={"width_ratios": [1, 2]})
    ax.imshow([[level]], cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"grey level {level}")
    ax.axis("off")
    x = level / 127.5 - 1
    scale.axhline(0, color="k", lw=0.8)
    scale.plot([x], [0], "o", ms=10, c="tab:red")
    scale.set_xlim(-1.1, 1.1)
    scale.set_yticks([])
    scale.set_xlabel("x = level / 127.5 - 1")
    scale.set_title(f"x = {x:+.3f}")
    return fig
