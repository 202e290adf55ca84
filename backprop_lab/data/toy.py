"""2-D toy data sets: spirals, moons, XOR, circles, and 1-D regression curves. All seeded."""
from __future__ import annotations

import numpy as np

REGRESSION_KINDS = ("sine", "cubic", "abs")


# --- 2-D toy sets ----------------------------------------------------------------------------
# All return (X, y) with X of shape (N, 2); points are grouped by class, so shuffle them
# (`minibatches` does by default) before any order-dependent use.

def _checked_rng(seed, noise, n=None, minimum=1) -> np.random.Generator:
    """The generator of `seed`, after checking the arguments every toy set shares: n >= minimum
    points (when n is given) and noise >= 0."""
    if n is not None and n < minimum:
        raise ValueError(f"need n >= {minimum}, got {n}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    return np.random.default_rng(seed)


def make_spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0, dtype=np.float64):
    """Interleaved spiral arms, one per class: not linearly separable, the classic MLP demo.

    Arm k starts at the origin at angle 2*pi*k/n_classes and turns through 4 radians while the
    radius grows from 0 to 1.

    Args:
        n_per_class: points per arm.
        n_classes: number of arms (classes).
        noise: standard deviation of the jitter added to each point's angle, in radians.
        seed: random seed.

    Returns:
        X of shape (n_per_class * n_classes, 2), y of shape (N,) int64 in 0..n_classes-1.
    """
    if n_per_class < 1 or n_classes < 1:
        raise ValueError(f"need n_per_class >= 1 and n_classes >= 1, got {n_per_class}, {n_classes}")
    rng = _checked_rng(seed, noise)
    r = np.linspace(0.0, 1.0, n_per_class)
    X, y = [], []
    for k in range(n_classes):
        angle = 2 * np.pi * k / n_classes + 4.0 * r + noise * rng.standard_normal(n_per_class)
        X.append(np.column_stack([r * np.cos(angle), r * np.sin(angle)]))
        y.append(np.full(n_per_class, k))
    return np.concatenate(X).astype(dtype), np.concatenate(y).astype(np.int64)


def make_moons(n=200, noise=0.1, seed=0, dtype=np.float64):
    """Two interleaving half circles: class 0 the upper arc, class 1 the lower one, shifted.

    Args:
        n: total number of points (class 0 gets the extra one when n is odd).
        noise: standard deviation of the Gaussian noise added to both coordinates.
        seed: random seed.

    Returns:
        X of shape (n, 2), y of shape (n,) int64 in {0, 1}.
    """
    rng = _checked_rng(seed, noise, n, 2)
    n0 = n - n // 2
    t0, t1 = np.linspace(0.0, np.pi, n0), np.linspace(0.0, np.pi, n // 2)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n // 2)])
    return X.astype(dtype), y.astype(np.int64)


def xor_truth_table(dtype=np.float64):
    """The four points of XOR: X = [[0, 0], [0, 1], [1, 0], [1, 1]], y = [0, 1, 1, 0].

    No single linear unit separates them; one hidden layer does.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    return X, np.array([0, 1, 1, 0], dtype=np.int64)


def make_xor(n=200, noise=0.1, seed=0, dtype=np.float64):
    """Noisy copies of the XOR truth table: Gaussian clouds around its four corners.

    The label of a point is the XOR of the corner it was drawn around, so with noise=0 this is
    `xor_truth_table()` repeated.

    Args:
        n: total number of points, spread as evenly as possible over the four corners.
        noise: standard deviation of the Gaussian noise added to both coordinates.
        seed: random seed.

    Returns:
        X of shape (n, 2), y of shape (n,) int64 in {0, 1}.
    """
    rng = _checked_rng(seed, noise, n, 1)
    corners, labels = xor_truth_table(np.float64)
    which = np.arange(n) % 4
    which.sort(kind="stable")  # grouped by corner
    X = corners[which] + noise * rng.standard_normal((n, 2))
    return X.astype(dtype), labels[which]


def make_circles(n=200, noise=0.05, factor=0.5, seed=0, dtype=np.float64):
    """Two concentric circles: class 0 the outer one (radius 1), class 1 the inner (radius `factor`).

    Unlike the other toy sets this one is mirror symmetric, so `random_flip` keeps its labels right.

    Returns:
        X of shape (n, 2), y of shape (n,) int64 in {0, 1}.
    """
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = _checked_rng(seed, noise, n, 2)
    n0 = n - n // 2
    t0 = np.linspace(0.0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * np.pi, n // 2, endpoint=False)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        factor * np.column_stack([np.cos(t1), np.sin(t1)])])
    X += noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n // 2)])
    return X.astype(dtype), y.astype(np.int64)


def make_regression_curve(n=100, noise=0.1, seed=0, kind="sine", dtype=np.float64):
    """Noisy samples y = f(x) + noise of a 1-D curve, for regression with an MLP.

    kinds: "sine" f(x) = sin(pi x), "cubic" f(x) = 2x^3 - x, "abs" f(x) = |x| (a kink, like ReLU).
    x is drawn uniformly from [-1, 1] and sorted, so `plt.plot(X, y)` draws the curve.

    Returns:
        X of shape (n, 1) and y of shape (n, 1), both float. y is a column on purpose: it has the
        shape of a network's (N, 1) output, so `pred - y` cannot broadcast to (N, N).
    """
    curves = {"sine": lambda x: np.sin(np.pi * x), "cubic": lambda x: 2 * x**3 - x, "abs": np.abs}
    if kind not in curves:
        raise ValueError(f"kind must be one of {REGRESSION_KINDS}, got {kind!r}")
    rng = _checked_rng(seed, noise, n, 1)
    x = np.sort(rng.uniform(-1.0, 1.0, n))[:, None]
    y = curves[kind](x) + noise * rng.standard_normal((n, 1))
    return x.astype(dtype), y.astype(dtype)
