"""Pooling (max and average over KH x KW windows) and flatten, like torch's max_pool2d,
avg_pool2d and flatten(x, 1).

Letters: N batch, C channels, H/W input size, KH/KW window size, Ho/Wo output size with
Ho = (H - KH) // stride + 1 (no padding; trailing rows/columns that fit no window are ignored,
as in torch). The stride defaults to the window size (non-overlapping windows), like torch.

Both poolings loop over the KH*KW offsets (a, b) of a window rather than over output pixels:
for a fixed offset, the pixels that all windows see form one strided slice of x, so each step
is a single vectorized numpy operation.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .shapes import as_pair, check_float, check_shape, output_size


class MaxPoolCache(NamedTuple):
    """What `maxpool2d_backward` needs: x and out, to find where each window's maximum was."""

    x: np.ndarray  # (N, C, H, W)
    out: np.ndarray  # (N, C, Ho, Wo): the maxima; x == out marks the candidates in each window
    kernel_size: tuple[int, int]  # (KH, KW)
    stride: tuple[int, int]  # (sh, sw)


class AvgPoolCache(NamedTuple):
    """What `avgpool2d_backward` needs: only shapes (every pixel gets the same share)."""

    x_shape: tuple[int, int, int, int]  # (N, C, H, W)
    kernel_size: tuple[int, int]  # (KH, KW)
    stride: tuple[int, int]  # (sh, sw)


def _pool_setup(op, x, kernel_size, stride):
    """Validate; return (KH, KW), (sh, sw), Ho, Wo and a function giving the slice for offset (a, b)."""
    check_float(op, "x", x)
    _, _, H, W = check_shape(op, "x", x, "N, C, H, W", hint="Pooling takes a batch of images.")
    KH, KW = as_pair(op, "kernel_size", kernel_size, 1)
    sh, sw = as_pair(op, "stride", kernel_size if stride is None else stride, 1)
    Ho = output_size(op, H, KH, sh, 0, "H")
    Wo = output_size(op, W, KW, sw, 0, "W")

    def window_slice(a, b):
        return (slice(None), slice(None), slice(a, a + sh * Ho, sh), slice(b, b + sw * Wo, sw))

    return (KH, KW), (sh, sw), (Ho, Wo), window_slice


def maxpool2d_forward(x: np.ndarray, kernel_size, stride=None):
    """Maximum over each KH x KW window.

    Args:
        x: input, shape (N, C, H, W).
        kernel_size: int or (KH, KW).
        stride: int or (sh, sw); None means kernel_size (non-overlapping windows).

    Returns:
        out: shape (N, C, Ho, Wo).
        cache: a `MaxPoolCache` (x, out, kernel_size, stride) for `maxpool2d_backward`.
    """
    (KH, KW), stride, (Ho, Wo), window_slice = _pool_setup("maxpool2d_forward", x, kernel_size, stride)
    out = x[window_slice(0, 0)].copy()
    for a in range(KH):
        for b in range(KW):
            if a or b:
                np.maximum(out, x[window_slice(a, b)], out=out)
    return out, MaxPoolCache(x, out, (KH, KW), stride)


def maxpool2d_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Route each window's gradient to the position of its maximum.

    On ties the FIRST maximum in row-major order (smallest a, then smallest b) gets the whole
    gradient, exactly like torch (whose kernel keeps the first index with `val > maxval`).
    Overlapping windows (stride < kernel) may pick the same pixel: its gradients add up.

    Args:
        dout: upstream gradient, shape (N, C, Ho, Wo).
        cache: from `maxpool2d_forward`.

    Returns:
        dx: shape (N, C, H, W).
    """
    x, out = cache.x, cache.out
    (KH, KW), (sh, sw) = cache.kernel_size, cache.stride
    check_shape("maxpool2d_backward", "dout", dout, "N, C, Ho, Wo", out.shape)
    window_slice = _pool_setup("maxpool2d_backward", x, cache.kernel_size, cache.stride)[3]
    disjoint = sh >= KH and sw >= KW  # no pixel belongs to two windows
    Ho, Wo = out.shape[2:]
    covered = disjoint and (sh, sw) == (KH, KW) and x.shape[2] == Ho * sh and x.shape[3] == Wo * sw
    # When the windows tile x exactly, every pixel of dx is written below: skip the zero fill.
    dx = np.empty(x.shape, dtype=dout.dtype) if covered else np.zeros(x.shape, dtype=dout.dtype)
    unclaimed = np.ones(out.shape, dtype=bool)  # windows whose maximum is still to be found
    hit = np.empty(out.shape, dtype=bool)
    last = (KH - 1, KW - 1)
    for a in range(KH):  # row-major order over window offsets = torch's tie-breaking order
        for b in range(KW):
            sl = window_slice(a, b)
            if (a, b) == last:
                hit = unclaimed  # every window has a maximum: the unclaimed ones have it here
            else:
                np.equal(x[sl], out, out=hit)
                np.logical_and(hit, unclaimed, out=hit)  # a later tie in a claimed window gets nothing
                np.logical_xor(unclaimed, hit, out=unclaimed)
            if disjoint:  # each pixel is written once: write straight into dx, no temporary
                np.multiply(dout, hit, out=dx[sl])
            else:  # overlapping windows can pick the same pixel: accumulate
                dx[sl] += dout * hit
    return dx


def avgpool2d_forward(x: np.ndarray, kernel_size, stride=None):
    """Mean over each KH x KW window.

    Args:
        x: input, shape (N, C, H, W).
        kernel_size: int or (KH, KW).
        stride: int or (sh, sw); None means kernel_size.

    Returns:
        out: shape (N, C, Ho, Wo).
        cache: an `AvgPoolCache` (x_shape, kernel_size, stride) for `avgpool2d_backward`.
    """
    (KH, KW), stride, _, window_slice = _pool_setup("avgpool2d_forward", x, kernel_size, stride)
    out = x[window_slice(0, 0)].copy()
    for a in range(KH):
        for b in range(KW):
            if a or b:
                out += x[window_slice(a, b)]
    out /= KH * KW
    return out, AvgPoolCache(x.shape, (KH, KW), stride)


def avgpool2d_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Every pixel of a window receives 1 / (KH*KW) of the window's gradient.

    Args:
        dout: upstream gradient, shape (N, C, Ho, Wo).
        cache: from `avgpool2d_forward`.

    Returns:
        dx: shape (N, C, H, W).
    """
    (KH, KW), (sh, sw) = cache.kernel_size, cache.stride
    dx = np.zeros(cache.x_shape, dtype=dout.dtype)
    window_slice = _pool_setup("avgpool2d_backward", dx, cache.kernel_size, cache.stride)[3]
    check_shape("avgpool2d_backward", "dout", dout, "N, C, Ho, Wo", dx[window_slice(0, 0)].shape)
    share = dout / (KH * KW)
    disjoint = sh >= KH and sw >= KW
    for a in range(KH):
        for b in range(KW):
            if disjoint:
                dx[window_slice(a, b)] = share
            else:  # overlapping windows: a pixel collects a share from each window it is in
                dx[window_slice(a, b)] += share
    return dx


def flatten_forward(x: np.ndarray):
    """Flatten every sample into a vector, like `torch.flatten(x, 1)`.

    Args:
        x: shape (N, C, H, W) (any rank >= 2 works: (N, *) -> (N, prod(*))).

    Returns:
        out: shape (N, C*H*W), a view of `x` when `x` is contiguous.
        cache: the input shape.
    """
    check_float("flatten_forward", "x", x)
    if x.ndim < 2:
        raise ValueError(f"flatten_forward: x must have shape (N, C, H, W) or at least (N, D); "
                         f"got {x.shape}. Add a batch axis with x[None].")
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Undo the flattening of the gradient.

    Args:
        dout: shape (N, C*H*W).
        cache: the input shape from `flatten_forward`.

    Returns:
        dx: shape (N, C, H, W).
    """
    return dout.reshape(cache)
