"""scikit-learn's handwritten digits (``load_digits``): 1,797 8x8 grey images, 10 classes, no files needed.

Small enough to train on in seconds on a CPU, which is what tests and smoke runs use it for. The dataset has no
official test split, so a fixed 297 images (the same whatever the run's seed) are set aside as the test split.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError

#: Images set aside as the test split (1,797 = 1,500 + 297).
TEST_SIZE = 297
#: Seed of the fixed train/test partition (independent of the run's seed on purpose).
PARTITION_SEED = 20240501

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load_digits_arrays() -> Arrays:
    """``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 1, 8, 8)`` (0..16 ink levels scaled to 0..255), int64."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits dataset needs scikit-learn: pip install scikit-learn") from None
    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(PARTITION_SEED).permutation(len(y))
    test, train = perm[:TEST_SIZE], np.sort(perm[TEST_SIZE:])
    return x[train], y[train], x[np.sort(test)], y[np.sort(test)]
