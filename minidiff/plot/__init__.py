"""Every picture of the course; the only place (with `widgets`) that imports matplotlib.

Functions return a `matplotlib.figure.Figure` made without pyplot, so nothing is shown twice and
figures drawn for sliders do not pile up. A Figure as the last line of a cell shows inline.
"""

from ._core import CourseFigure, figure, to_png

__all__ = ["CourseFigure", "figure", "to_png"]
# Each topic's pictures live in a submodule and are re-exported here.
