"""Inverted dropout, like `torch.nn.functional.dropout`.

At train time each element is zeroed with probability p and the survivors are scaled by
1 / (1 - p), so the expected output equals the input and evaluation needs no rescaling:
eval mode is the identity.
"""
from __future__ import annotations

import numpy as np

from .shapes import check_float, check_same_shape


def dropout_forward(x: np.ndarray, p: float, training: bool, rng: np.random.Generator | None = None):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (train mode only).

    Args:
        x: input, shape (*), e.g. (N, D) or (N, C, H, W).
        p: probability of dropping an element, 0 <= p <= 1 (torch's convention: p is the DROP rate).
        training: if False (eval), return x unchanged.
        rng: a `np.random.Generator`; required when training with p > 0. Passing a generator
            (instead of using a global seed) makes every mask reproducible.

    Returns:
        out: shape (*), same dtype as x.
        cache: the mask of shape (*) already scaled by 1 / (1 - p), or None when nothing was dropped.
    """
    op = "dropout_forward"
    check_float(op, "x", x)
    p = float(p)  # a Python float keeps float32 inputs float32 (a numpy float64 would upcast)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p is the probability of dropping an element and must be in [0, 1]; got {p}.")
    if not training or p == 0.0:
        return x, None
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{op}: training with p > 0 needs rng, a np.random.Generator; got {type(rng).__name__}. "
                         f"Pass rng=np.random.default_rng(seed).")
    draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    mask = np.zeros_like(x) if p == 1.0 else dropout_mask(rng.random(x.shape, dtype=draw_dtype), p).astype(x.dtype)
    return x * mask, mask


def dropout_mask(u: np.ndarray, p: float) -> np.ndarray:
    """The inverted-dropout mask for uniforms `u` in [0, 1): an element is kept where u >= p
    (P(keep) = 1 - p) and scaled by 1 / (1 - p); dropped (0) where u < p. All zeros when p == 1.

    Args:
        u: uniforms, shape (*), float32 or float64.
        p: probability of dropping an element, 0 <= p <= 1.

    Returns:
        mask: shape (*), dtype of u.
    """
    u = np.asarray(u)
    if p >= 1.0:  # everything dropped; 1 / (1 - p) would be inf
        return np.zeros_like(u)
    return (u >= p).astype(u.dtype) * (1.0 / (1.0 - p))


def dropout_backward(dout: np.ndarray, cache) -> np.ndarray:
    """The gradient flows through the kept elements with the same 1 / (1 - p) scale.

    Args:
        dout: upstream gradient, shape (*).
        cache: the scaled mask from `dropout_forward` (None: identity).

    Returns:
        dx: shape (*).
    """
    mask = cache
    if mask is None:
        return dout
    check_same_shape("dropout_backward", "dout", dout, "x", mask)
    return dout * mask
