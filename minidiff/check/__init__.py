"""Exercise checkers, one function per exercise: `check.<exercise>(your_function)`.

Each returns a `Feedback` that shows as one line in the notebook: correct, wrong (with what is
wrong), or not attempted yet. Checkers never raise, so a lesson always runs to the end.
"""

from ._core import Feedback, Mistake, check_function

__all__ = ["Feedback", "Mistake", "check_function"]
# Each lesson's checkers live in a submodule named after its topic and are re-exported here.
