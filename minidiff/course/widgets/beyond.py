"""The slider of lesson 12: a GAN's samples over its training, step by step, from one fixed noise."""

from ...worlds import metrics
from ..plot.beyond import coverage_panels
from ._controls import FigureControls, int_slider


def gan_training_explorer(run, gm, lim: float = 5.0, index: int | None = None) -> FigureControls:
    """A slider over the snapshots of a gan.GANRun (train_gan(..., snapshot_every=k)): the generator's
    samples of the same noise at that step, over the 3-std circles of gm's modes; the label gives the
    step, the modes covered and the high-quality share (metrics.mode_coverage)."""
    if not run.snapshots:
        raise ValueError("gan_training_explorer: the run has no snapshots; train with snapshot_every > 0")
    std = float(gm.stds[0, 0])
    k = len(gm.weights)

    def draw(i):
        step, x = run.snapshots[i]
        return coverage_panels({"GAN": x}, gm.means, std, lim, titles={"GAN": f"GAN samples at step {step}"}, size=3.6)

    def label(i):
        step, x = run.snapshots[i]
        c = metrics.mode_coverage(x, gm)
        return f"step {step}: {c.modes} of {k} modes covered, {c.high_quality:.0%} of samples high quality"

    last = len(run.snapshots) - 1
    return FigureControls(draw, label, {"i": int_slider("snapshot", 0, last, last if index is None else index)})
