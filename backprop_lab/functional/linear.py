"""Fully connected (affine) layer: `out = x @ weight.T + bias`, like `torch.nn.functional.linear`.

Letters: N batch, D input features (in_features), M output features (out_features).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .shapes import check_float, check_shape


class LinearCache(NamedTuple):
    """What `linear_backward` needs from the forward pass."""

    x: np.ndarray  # (N, D): dweight = dout.T @ x
    weight: np.ndarray  # (M, D): dx = dout @ weight
    has_bias: bool  # False when the forward had bias=None: then dbias is None


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None):
    """Affine map of a batch of feature vectors.

    Args:
        x: inputs, shape (N, D).
        weight: shape (M, D) = (out_features, in_features), torch's layout (not D x M).
        bias: shape (M,), or None for no bias (then `linear_backward` returns dbias = None).

    Returns:
        out: shape (N, M), `x @ weight.T + bias`.
        cache: a `LinearCache` (x, weight, has_bias) for `linear_backward`.
    """
    op = "linear_forward"
    check_float(op, "x", x)
    shape = check_shape(op, "x", x, "N, D",
                        hint="Flatten images first (flatten_forward turns (N, C, H, W) into (N, C*H*W)).")
    check_shape(op, "weight", weight, "out_features, in_features", (None, shape[1]),
                match=("x", "N, D", shape),
                hint="Did you pass weight transposed? torch's Linear stores weight as (out_features, in_features).")
    if bias is not None:
        check_shape(op, "bias", bias, "out_features,", (weight.shape[0],),
                    match=("weight", "out_features, in_features", weight.shape))
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, LinearCache(x, weight, bias is not None)


def linear_backward(dout: np.ndarray, cache):
    """Gradients of the affine map.

    Args:
        dout: upstream gradient, shape (N, M).
        cache: from `linear_forward`.

    Returns:
        dx: shape (N, D), `dout @ weight`.
        dweight: shape (M, D), `dout.T @ x` (a sum over the batch).
        dbias: shape (M,), `dout` summed over the batch; None when the forward had no bias.
    """
    check_shape("linear_backward", "dout", dout, "N, M", (cache.x.shape[0], cache.weight.shape[0]))
    dx = dout @ cache.weight
    dweight = dout.T @ cache.x
    dbias = dout.sum(axis=0) if cache.has_bias else None
    return dx, dweight, dbias

