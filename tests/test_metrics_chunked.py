"""chunked_floor_units: about 1 for exact samples, clearly above 1 for a wrong law."""

import pytest
import torch

from minidiff import toy
from minidiff.metrics import chunked_floor_units


def sample(n, generator):
    return toy.ring().sample(n, generator=generator)


def test_exact_samples_score_about_one_and_wrong_ones_do_not():
    g = torch.Generator().manual_seed(0)
    exact = chunked_floor_units(sample(8000, g), sample, generator=g)
    # Measured spread for exact samples, 16 chunks of 500: sd 0.07 (20 draws); 4 sd is 0.28.
    assert abs(exact - 1) < 0.28
    shifted = chunked_floor_units(sample(8000, g) + 0.3, sample, generator=g)  # every point moved by 0.3
    widened = chunked_floor_units(sample(8000, g) * 1.2, sample, generator=g)  # radius 2.4, bumps 0.18
    assert shifted > 1.6 and widened > 1.6, (shifted, widened)  # measured 1.95 and 2.17: ~10 sd out


def test_bad_chunks_say_what_is_wrong():
    with pytest.raises(ValueError, match="at least 2 points per chunk"):
        chunked_floor_units(torch.zeros(10, 2), sample, chunks=8)
