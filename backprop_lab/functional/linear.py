"""Fully connected (affine) layer and flatten: `out = x @ weight.T + bias`, like `torch.nn.Linear`.

Letters: N batch, D input features (in_features), M output features (out_features).
"""
from __future__ import annotations

import numpy as np

from ._shapes import check_float, check_shape


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None):
    """Affine map of a batch of feature vectors.

    Args:
        x: inputs, shape (N, D).
        weight: shape (M, D) = (out_features, in_features), torch's layout (not D x M).
        bias: shape (M,), or None for no bias.

    Returns:
        out: shape (N, M), `x @ weight.T + bias`.
        cache: (x, weight, has_bias) for `linear_backward`.
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
    return out, (x, weight, bias is not None)


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
    x, weight, has_bias = cache
    check_shape("linear_backward", "dout", dout, "N, M", (x.shape[0], weight.shape[0]))
    dx = dout @ weight
    dweight = dout.T @ x
    dbias = dout.sum(axis=0) if has_bias else None
    return dx, dweight, dbias

