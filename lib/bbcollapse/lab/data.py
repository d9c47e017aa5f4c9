"""Fashion-MNIST on disk: the four idx ``.gz`` files, read with their headers checked.

The lab's world (issue 14) is Fashion-MNIST: 60,000 training and 10,000 test images of 28 x 28
grey levels in 10 classes. Debian's ``dataset-fashion-mnist`` package installs the four files
under ``/usr/share/datasets/fashion-mnist/``; ``FASHION_MNIST_DIR`` points elsewhere.
``tools/setup.d/10-fashion-mnist.sh`` installs the package and records the files' sha256.

The idx format: a big-endian header (two zero bytes, a type code 0x08 for unsigned bytes, the
number of dimensions) followed by one big-endian uint32 per dimension, then the raw bytes.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .._validation import check_option

__all__ = ["DEFAULT_DIR", "FILES", "SIZES", "fashion_mnist_dir", "load_fashion_mnist", "CLASS_NAMES"]

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")

#: split -> (images file, labels file)
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
#: split -> number of items
SIZES = {"train": 60_000, "test": 10_000}

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_HOW_TO = (
    "Install it with `make setup` (Debian, as root: apt-get install dataset-fashion-mnist), or download the "
    "four idx .gz files of Fashion-MNIST and set FASHION_MNIST_DIR to their folder."
)


def fashion_mnist_dir() -> Path:
    """The folder holding the four idx ``.gz`` files: ``$FASHION_MNIST_DIR``, else the Debian location."""
    env = os.environ.get("FASHION_MNIST_DIR")
    return Path(env) if env else DEFAULT_DIR


def _read_idx(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Read one gzipped idx file of unsigned bytes, checking its header against ``shape``."""
    if not path.is_file():
        raise FileNotFoundError(f"Fashion-MNIST file missing: {path}. {_HOW_TO}")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"Fashion-MNIST file {path} is not a readable gzip file ({exc}). {_HOW_TO}") from None
    ndim = len(shape)
    header_len = 4 + 4 * ndim
    if len(raw) < header_len or raw[0:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] != ndim:
        raise ValueError(
            f"Fashion-MNIST file {path} has a bad idx header {raw[:4].hex()} "
            f"(expected 00 00 08 {ndim:02x}: unsigned bytes, {ndim} dimensions). {_HOW_TO}"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if dims != shape:
        raise ValueError(f"Fashion-MNIST file {path} has shape {dims} in its header; expected {shape}. {_HOW_TO}")
    expected = header_len + int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(
            f"Fashion-MNIST file {path} holds {len(raw)} bytes once unzipped; expected {expected} "
            f"(truncated or corrupt). {_HOW_TO}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape).copy()


def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load one split of Fashion-MNIST.

    Parameters
    ----------
    split : ``"train"`` (60,000 items) or ``"test"`` (10,000 items).

    Returns
    -------
    images : uint8 array (n, 28, 28), grey levels 0..255, row-major (row, column).
    labels : int64 array (n,), classes 0..9 (names in ``CLASS_NAMES``).

    Raises
    ------
    FileNotFoundError
        A file is missing (the message says how to install or point ``FASHION_MNIST_DIR``).
    ValueError
        A file is not gzip, has a wrong idx header, a wrong size, or labels outside 0..9.
    """
    check_option(split, FILES, "split")
    folder = fashion_mnist_dir()
    n = SIZES[split]
    images_file, labels_file = FILES[split]
    images = _read_idx(folder / images_file, (n, 28, 28))
    labels = _read_idx(folder / labels_file, (n,)).astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"Fashion-MNIST labels in {folder / labels_file} exceed 9 (max {labels.max()}). {_HOW_TO}")
    return images, labels
