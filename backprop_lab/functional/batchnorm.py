"""Batch normalization for (N, D) features and (N, C, H, W) images, like `torch.nn.functional.batch_norm`.

Per feature (or per channel, pooling N, H and W), training mode normalizes with the batch mean and
the *biased* batch variance, then scales by gamma and shifts by beta. It also updates the running
statistics in place, exactly like torch::

    running_mean = (1 - momentum) * running_mean + momentum * batch_mean
    running_var  = (1 - momentum) * running_var  + momentum * batch_var * M / (M - 1)   # unbiased

where M is the number of values per feature (N, or N*H*W). Eval mode normalizes with the running
statistics instead, so it is a fixed affine map of x.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .shapes import check_float, check_same_shape, check_shape


class BatchNormCache(NamedTuple):
    """What `batchnorm_backward` needs. Per-feature vectors have shape (D,) or (C,)."""

    xhat: np.ndarray  # the normalized input, shape of x: dgamma = sum(dout * xhat)
    gamma: np.ndarray  # (D,) or (C,): dxhat = dout * gamma
    inv_std: np.ndarray  # (D,) or (C,): 1 / sqrt(var + eps), the slope of xhat in x
    training: bool  # True: batch statistics (they depend on x, so dx has two extra terms)
    axes: tuple[int, ...]  # the axes the statistics pool: (0,) for (N, D), (0, 2, 3) for (N, C, H, W)
    pshape: tuple[int, ...]  # (1, -1) or (1, -1, 1, 1): reshapes a per-feature vector to broadcast with x


def _layout(op: str, x: np.ndarray):
    """Axes to reduce over and the shape that broadcasts a per-feature vector against x."""
    if x.ndim == 2:
        return (0,), (1, -1), "N, D", "D,"
    if x.ndim == 4:
        return (0, 2, 3), (1, -1, 1, 1), "N, C, H, W", "C,"
    raise ValueError(f"{op}: x must have shape (N, D) or (N, C, H, W); got {x.shape} ({x.ndim} axes). "
                     f"Use batchnorm on features (N, D) after a linear layer or on images (N, C, H, W) "
                     f"after a convolution.")


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training: bool,
                      momentum: float = 0.1, eps: float = 1e-5):
    """Normalize each feature/channel, then scale and shift.

    Args:
        x: input, shape (N, D) or (N, C, H, W).
        gamma: scale, shape (D,) or (C,). Required (no None): pass ones for "no scale".
        beta: shift, shape (D,) or (C,). Required (no None): pass zeros for "no bias"
            (what `nn.BatchNorm1d(bias=False)` does).
        running_mean: shape (D,) or (C,); updated in place in training mode. May be None in
            training mode (no running statistics are kept then).
        running_var: shape (D,) or (C,); updated in place (with the unbiased variance) in training mode.
        training: True: use batch statistics (and update the running ones); False: use the running ones.
        momentum: weight of the new batch statistics in the running average (torch's default 0.1).
        eps: added to the variance before the square root.

    Returns:
        out: same shape and dtype as x.
        cache: a `BatchNormCache` (xhat, gamma, inv_std, training, axes, pshape) for `batchnorm_backward`.
    """
    op = "batchnorm_forward"
    check_float(op, "x", x)
    axes, pshape, letters, pletters = _layout(op, x)
    width = x.shape[1]
    match = ("x", letters, x.shape)
    for name, arr in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if arr is None and training and name.startswith("running"):
            continue
        check_shape(op, name, arr, pletters, (width,), match=match,
                    hint="There is one value per feature (2-D input) or per channel (4-D input).")
    if training:
        count = x.size // width  # M values per feature
        if count < 2:
            raise ValueError(f"{op}: training needs more than 1 value per feature/channel to estimate a "
                             f"variance; got x of shape {x.shape}. Use a batch of 2 or more, or eval mode.")
        mean = x.mean(axis=axes)
        xc = x - mean.reshape(pshape)
        var = (xc * xc).mean(axis=axes)  # biased: this is what normalizes the batch
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (count / (count - 1))  # unbiased, as torch stores it
    else:
        xc = x - running_mean.reshape(pshape)
        var = running_var
    inv_std = 1 / np.sqrt(var + eps)
    xhat = xc * inv_std.reshape(pshape)
    out = gamma.reshape(pshape) * xhat + beta.reshape(pshape)
    return out, BatchNormCache(xhat, gamma, inv_std, training, axes, pshape)


def batchnorm_backward(dout: np.ndarray, cache):
    """Gradients of batch normalization (the compact formula).

    In training mode the mean and variance depend on every x in the batch. Writing
    dxhat = dout * gamma and M for the number of values per feature, the chain rule through
    xhat = (x - mean) * inv_std collapses to

        dx = inv_std / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

    with sums over the batch (and spatial) axes. In eval mode the statistics are constants, so
    dx = dout * gamma * inv_std.

    Args:
        dout: upstream gradient, shape (N, D) or (N, C, H, W).
        cache: from `batchnorm_forward`.

    Returns:
        dx: same shape as dout.
        dgamma: shape (D,) or (C,).
        dbeta: shape (D,) or (C,).
    """
    xhat, pshape = cache.xhat, cache.pshape
    check_same_shape("batchnorm_backward", "dout", dout, "x", xhat)
    dbeta = dout.sum(axis=cache.axes)
    dgamma = (dout * xhat).sum(axis=cache.axes)
    scale = (cache.gamma * cache.inv_std).reshape(pshape)
    if not cache.training:
        return dout * scale, dgamma, dbeta
    count = dout.size // dout.shape[1]
    # sum(dxhat) = gamma * dbeta and sum(dxhat * xhat) = gamma * dgamma: reuse them.
    dx = scale / count * (count * dout - dbeta.reshape(pshape) - xhat * dgamma.reshape(pshape))
    return dx, dgamma, dbeta
