"""The handwritten digits data set: scikit-learn's bundled copy of the UCI optical digits (no download).

1,797 grey-scale 8x8 images of the digits 0-9, each pixel an integer 0..16. :func:`load` splits them into
a training and a test set, stratified by class (each class contributes the same fraction to the test set),
the order fixed by a seed. Networks see pixels scaled to ``pixel / 16`` in [0, 1]; the integer pixels are
kept for integer-only inference (``pixel`` is then the input and ``1/16`` its scale).
"""

import functools
from dataclasses import dataclass

import numpy as np

PIXEL_MAX = 16  # pixels are integers 0..PIXEL_MAX
CLASSES = 10


@dataclass(frozen=True)
class Split:
    """One side of the split: ``pixels`` (N, 8, 8) uint8 in 0..16 and ``labels`` (N,) int64 in 0..9."""

    pixels: np.ndarray
    labels: np.ndarray

    def inputs(self, shape: tuple[int, ...]) -> np.ndarray:
        """The images as float64 network inputs of per-image ``shape`` (e.g. (1, 8, 8) or (64,)), in [0, 1]."""
        return (self.pixels / PIXEL_MAX).reshape(len(self.labels), *shape)


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imports SciPy: only when the data is needed

    data = load_digits()
    return data.images.astype(np.uint8), data.target.astype(np.int64)


@functools.cache
def load(seed: int = 0, test_fraction: float = 0.2) -> tuple[Split, Split]:
    """``(train, test)``: per class, a seeded permutation puts ``round(test_fraction · n)`` images in test."""
    pixels, labels = _digits()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test[members[:round(test_fraction * len(members))]] = True
    return Split(pixels[~test], labels[~test]), Split(pixels[test], labels[test])


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows of ``scores`` (N, classes) whose largest entry is the label."""
    return float(np.mean(np.argmax(scores, axis=1) == labels))
