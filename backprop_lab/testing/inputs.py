"""Random inputs that keep finite differences honest: sizes, normal values, values away from a kink,
values without near-ties. Every maker takes a `np.random.Generator` and a dtype, so a test is
reproducible from its seed and runs in float32 as well as float64.
"""
from __future__ import annotations

import numpy as np

__all__ = ["batch_size", "randn", "image_shape", "away_from_zero", "distinct_values"]


def batch_size(rng: np.random.Generator, n: int | None, low: int = 1, high: int = 5) -> int:
    """`n` when given, else a random batch size N in [low, high] (odd sizes find more bugs than 32)."""
    return int(rng.integers(low, high + 1)) if n is None else n


def randn(rng: np.random.Generator, shape, dtype, scale: float = 1.0) -> np.ndarray:
    """Normal values times `scale`, shape `shape`, in `dtype`."""
    return (scale * rng.standard_normal(shape)).astype(dtype)


def image_shape(rng: np.random.Generator, n: int | None, channels=(1, 3), sizes=(5, 7)) -> tuple:
    """A random (N, C, H, W) image-batch shape: C in `channels`, H and W in `sizes` (ends included)."""
    size = lambda bounds: int(rng.integers(*bounds, endpoint=True))
    return (batch_size(rng, n, 1, 3), size(channels), size(sizes), size(sizes))


def away_from_zero(rng: np.random.Generator, shape, dtype, margin: float = 0.05) -> np.ndarray:
    """Normal values with |x| >= margin: no input sits on the kink of relu/leaky_relu/abs, where a
    finite difference straddles two slopes and matches neither."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin).astype(dtype)


def distinct_values(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """A shuffled grid of values at least ~4/size apart: no near-ties inside a max-pool window
    (a tie within eps makes the finite difference of a max meaningless)."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * (4.0 / size)).reshape(shape).astype(dtype)
