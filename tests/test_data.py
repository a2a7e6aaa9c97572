"""The shipped digit data: counts, value range, label balance, the fixed split, and that the files
are exactly the ones data/README.md describes (sha256)."""

import hashlib
import re

import pytest
import torch

from minidiff import data

COUNTS = {8: (1797, 1438, 359), 28: (5000, 4000, 1000)}  # all, train, test


@pytest.mark.parametrize("size", [8, 28])
def test_counts_shapes_and_range(size):
    n_all, n_train, n_test = COUNTS[size]
    x, labels = data.load_digits(size)
    assert x.shape == (n_all, 1, size, size) and x.dtype == torch.float32
    assert labels.shape == (n_all,) and labels.dtype == torch.int64
    assert x.min() == -1 and x.max() == 1  # the darkest and brightest pixel values both occur
    # The pixel values are the source's integers, scaled: 17 levels for optdigits, 256 for MNIST.
    levels = torch.unique(x)
    assert len(levels) == (17 if size == 8 else 256)
    assert len(data.load_digits(size, "train")[0]) == n_train
    assert len(data.load_digits(size, "test")[0]) == n_test


def test_mnist_subset_has_500_per_class_and_split_is_stratified():
    _, labels = data.load_digits(28)
    assert labels.bincount().tolist() == [500] * 10
    _, test = data.load_digits(28, "test")
    assert test.bincount().tolist() == [100] * 10


def test_optdigits_label_balance_and_split():
    _, labels = data.load_digits(8)
    counts = labels.bincount()
    assert len(counts) == 10 and counts.min() >= 170 and counts.max() <= 185
    _, test = data.load_digits(8, "test")
    fraction = test.bincount().double() / counts.double()
    assert torch.allclose(fraction, torch.full((10,), 0.2, dtype=torch.float64), atol=0.01)


@pytest.mark.parametrize("size", [8, 28])
def test_train_and_test_are_disjoint_and_make_up_all(size):
    x, _ = data.load_digits(size)
    train, _ = data.load_digits(size, "train")
    test, _ = data.load_digits(size, "test")
    assert len(train) + len(test) == len(x)
    # Sort flattened images to compare the multisets: train + test is exactly all.
    flat = lambda a: a.flatten(1).tolist()  # noqa: E731
    assert sorted(flat(train) + flat(test)) == sorted(flat(x))


def test_images_look_like_digits():
    # Ink sits in the middle, not at the left and right edges (optdigits' strokes do touch the top
    # and bottom rows, so only the side columns are compared); the background is dark.
    for size in [8, 28]:
        u = data.to_unit(data.load_digits(size)[0])
        centre = u[..., size // 4: -size // 4, size // 4: -size // 4].mean()
        sides = torch.cat([u[..., :, 0], u[..., :, -1]], -1).mean()
        assert centre > 10 * sides and u.mean() < 0.5


def test_sha256_in_readme_matches_the_files():
    readme = (data.DATA_DIR / "README.md").read_text()
    listed = dict((name, digest) for digest, name in re.findall(r"([0-9a-f]{64})\s+(\S+\.npz)", readme))
    assert set(listed) == set(data.FILES.values())
    for name, digest in listed.items():
        assert hashlib.sha256((data.DATA_DIR / name).read_bytes()).hexdigest() == digest, name


def test_device_and_helpers(device):
    x, labels = data.load_digits(8, "test", device=device)
    assert x.device.type == device.type and labels.device.type == device.type
    idx = data.first_per_class(labels, k=2)
    assert labels[idx].tolist() == [c for c in range(10) for _ in range(2)]
    assert torch.equal(data.to_unit(torch.tensor([-1.0, 0.0, 1.0, 3.0])), torch.tensor([0.0, 0.5, 1.0, 1.0]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="size must be 8"):
        data.load_digits(16)
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_digits(8, "validation")
    with pytest.raises(ValueError, match="class 3 has only"):
        data.first_per_class(torch.tensor([0, 1, 2]), k=1)
