"""Data for the course: the 8x8 digits, small 2-D toy sets, minibatches and augmentations.

Nothing is ever downloaded: the digits ship with the package (`digits.npz`, CC BY 4.0, see
`DIGITS_LICENSE.txt`) and the toy sets are generated. Everything random takes a `seed` (or an
`rng`, a `numpy.random.Generator`), so the same call gives the same arrays on every machine.

Shapes use the project's letters: N samples, D features, C channels, H/W height/width.
Features come back as float64 unless `dtype=` says otherwise; class labels as int64.

    >>> X_train, X_test, y_train, y_test = digits_split()
    >>> X_train.shape, X_test.shape
    ((1437, 1, 8, 8), (360, 1, 8, 8))
"""
from __future__ import annotations

import math
import numbers
from functools import lru_cache
from importlib import resources

import numpy as np

from .toy import make_circles, make_moons, make_regression_curve, make_spirals, make_xor, xor_truth_table

__all__ = [
    "load_digits", "train_test_split", "digits_split",
    "make_spirals", "make_moons", "make_xor", "xor_truth_table", "make_circles", "make_regression_curve",
    "minibatches", "shift", "random_shift", "add_noise", "random_flip",
]

DIGITS_CLASSES = 10


# --- digits --------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _digits_raw():
    with resources.files(__name__).joinpath("digits.npz").open("rb") as f:
        with np.load(f) as npz:
            images, labels = npz["images"], npz["labels"]
    images.setflags(write=False)  # cached: callers get converted copies, never these arrays
    labels.setflags(write=False)
    return images, labels


def load_digits(flatten=False, normalize=True, dtype=np.float64):
    """The 1797 handwritten digits (UCI optdigits test set, as shipped with scikit-learn).

    Args:
        flatten: return X as (N, 64) rows for an MLP instead of (N, 1, 8, 8) images for a CNN.
        normalize: divide the pixel counts (0..16) by 16, giving values in [0, 1].
        dtype: floating dtype of X (any dtype when `normalize=False`).

    Returns:
        (X, y): X of shape (1797, 1, 8, 8) (NCHW, C=1) or (1797, 64); y of shape (1797,), int64 in 0..9.
    """
    images, labels = _digits_raw()
    dtype = np.dtype(dtype)
    if normalize and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"normalize=True needs a floating dtype, got {dtype}")
    X = images.astype(dtype)
    if normalize:
        X /= 16.0
    X = X.reshape(len(X), -1) if flatten else X[:, None, :, :]
    return X, labels.astype(np.int64)


def train_test_split(X, y, test_size=0.2, seed=0, stratify=True):
    """A seeded random split into a training and a test set.

    The test set has ceil(test_size * N) samples (scikit-learn's rule: 360 of the 1797 digits
    for 0.2). With `stratify=True` every class is split in the same proportion (to within one
    sample), so a small test set still holds every class about as often as the whole set does.
    Both parts come back shuffled.

    The results come in scikit-learn's order, so code written for `sklearn.model_selection.
    train_test_split` works unchanged.

    Args:
        X: features, shape (N, ...).
        y: labels, shape (N,); used to stratify.
        test_size: fraction of the samples for the test set, strictly between 0 and 1.
        seed: seed of the split (int or None).
        stratify: keep class proportions in both parts.

    Returns:
        (X_train, X_test, y_train, y_test), new arrays.

    Raises:
        ValueError: if test_size is not in (0, 1), if X and y differ in length, or if a part
            would be empty.
    """
    X, y = np.asarray(X), np.asarray(y)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}")
    if y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"y must have shape (N,) with N = len(X) = {len(X)}, got {y.shape}")
    n = len(y)
    n_test = math.ceil(test_size * n - 1e-9)  # tolerance: 0.2 * n may come out as 359.00000000000006
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size} leaves {n - n_test} training and {n_test} test samples of {n}")

    rng = np.random.default_rng(seed)
    if stratify:
        classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
        # Each class gets its share of n_test, rounded down; the samples still missing go to the
        # classes with the largest rounding remainders (ties broken at random).
        exact = counts * n_test / n
        per_class = np.floor(exact).astype(int)
        missing = n_test - per_class.sum()
        tie_break = rng.permutation(len(classes))
        order = np.lexsort((tie_break, -(exact - per_class)))
        per_class[order[:missing]] += 1
        test_parts = [rng.permutation(np.flatnonzero(y_idx == k))[:m] for k, m in enumerate(per_class)]
        test_idx = np.concatenate(test_parts)
    else:
        test_idx = rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(np.flatnonzero(is_test))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def digits_split(flatten=False, test_size=0.2, seed=0, dtype=np.float64):
    """The digits, scaled to [0, 1] and split with stratification (1437 train / 360 test by default).

    Returns:
        (X_train, X_test, y_train, y_test) in scikit-learn's order: X of shape (N, 1, 8, 8),
        or (N, 64) with `flatten`.
    """
    X, y = load_digits(flatten=flatten, dtype=dtype)
    return train_test_split(X, y, test_size=test_size, seed=seed, stratify=True)


# --- minibatches ---------------------------------------------------------------------------------

def minibatches(X, y, batch_size, shuffle=True, seed=None, rng=None, drop_last=False):
    """Iterate over one epoch of (xb, yb) minibatches.

    Every sample appears exactly once per epoch (the last batch is smaller unless `drop_last`).
    For a new order every epoch but a reproducible run, make one Generator and pass it each
    epoch: `rng = np.random.default_rng(0); for epoch ...: for xb, yb in minibatches(X, y, 64, rng=rng)`.

    Args:
        X: shape (N, ...).
        y: shape (N, ...), or None (then every yb is None).
        batch_size: positive int.
        shuffle: visit the samples in a random order.
        seed: seed for that order (give `seed` or `rng`, not both; neither: a fresh random order).
        rng: a `numpy.random.Generator` to draw the order from (advanced by each call).
        drop_last: skip a final batch smaller than `batch_size`.

    Returns:
        A generator of (xb, yb) with xb of shape (B, ...), B <= batch_size.

    Raises:
        ValueError: bad batch_size, X and y of different lengths, or both seed and rng given.
    """
    # Checked here, eagerly: a generator function would only complain at the first next().
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if y is not None and len(y) != len(X):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if seed is not None and rng is not None:
        raise ValueError("give seed or rng, not both")
    n = len(X)
    order = np.random.default_rng(rng if rng is not None else seed).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n

    def batches():
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            yield X[idx], (None if y is None else y[idx])

    return batches()


# --- augmentations -----------------------------------------------------------------------------------

def _check_images(X, name):
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"{name} expects images of shape (N, C, H, W), got {X.shape}"
                         " (reshape flattened digits with X.reshape(-1, 1, 8, 8))")
    return X


def shift(X, dy, dx):
    """Shift every image by dy rows (down if positive) and dx columns (right if positive), filling with 0.

    out[..., i, j] = X[..., i - dy, j - dx] where that pixel exists, else 0.

    Args:
        X: images, shape (N, C, H, W) (or any array whose last two axes are H, W).
        dy, dx: integer offsets.

    Returns:
        New array of X's shape and dtype.
    """
    X = np.asarray(X)
    H, W = X.shape[-2:]
    out = np.zeros_like(X)
    if abs(dy) < H and abs(dx) < W:
        out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
            X[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out


def random_shift(X, max_shift=1, rng=None, return_shifts=False):
    """Shift each image by its own random offset in {-max_shift..max_shift}^2, zero-filled.

    For the 8x8 digits a shift of one pixel is a sensible augmentation: a 3 moved by one pixel
    is still a 3, and the digits do not always fill their frame the same way.

    Args:
        X: images, shape (N, C, H, W).
        max_shift: largest offset in pixels, along each axis.
        rng: a `numpy.random.Generator`, a seed, or None.
        return_shifts: also return the offsets.

    Returns:
        The shifted images (new array, X's shape and dtype); with `return_shifts`, also the
        (N, 2) int array of (dy, dx) used for each image.
    """
    X = _check_images(X, "random_shift")
    if isinstance(max_shift, bool) or not isinstance(max_shift, numbers.Integral) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative integer, got {max_shift!r}")
    rng = np.random.default_rng(rng)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(X), 2))
    out = np.empty_like(X)
    # One vectorized shift per distinct offset (9 of them for max_shift=1), not one per image.
    for dy, dx in np.unique(shifts, axis=0):
        rows = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))
        out[rows] = shift(X[rows], int(dy), int(dx))
    return (out, shifts) if return_shifts else out


def add_noise(X, std, rng=None):
    """X plus Gaussian noise of standard deviation `std` (not clipped), in X's float dtype.

    Args:
        X: any float array.
        std: noise standard deviation, >= 0.
        rng: a `numpy.random.Generator`, a seed, or None.
    """
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"add_noise needs a float array, got {X.dtype}")
    if not std >= 0:
        raise ValueError(f"std must be >= 0, got {std!r}")
    rng = np.random.default_rng(rng)
    return (X + std * rng.standard_normal(X.shape)).astype(X.dtype, copy=False)


def random_flip(X, rng=None, p=0.5):
    """Mirror each sample left-right with probability p.

    Images (N, C, H, W) are flipped along W; 2-D points (N, 2) are mirrored across the vertical
    axis (x -> -x).

    NOT for the digits: a mirrored 2 or 7 is not a 2 or 7 any more (and a mirrored 3 looks like
    an E), so flipping teaches the network wrong labels. It is label-preserving only for data
    whose classes are mirror symmetric, e.g. `make_circles`, or photos of cats.

    Args:
        X: shape (N, C, H, W) or (N, 2).
        rng: a `numpy.random.Generator`, a seed, or None.
        p: probability of flipping each sample.

    Returns:
        New array of X's shape and dtype.
    """
    X = np.asarray(X)
    if not (X.ndim == 4 or (X.ndim == 2 and X.shape[1] == 2)):
        raise ValueError(f"random_flip expects images (N, C, H, W) or points (N, 2), got {X.shape}")
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    rng = np.random.default_rng(rng)
    flip = rng.random(len(X)) < p
    out = X.copy()
    if X.ndim == 4:
        out[flip] = X[flip][..., ::-1]
    else:
        out[flip, 0] = -X[flip, 0]
    return out
