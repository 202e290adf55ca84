"""Conv2d, MaxPool2d and AvgPool2d modules (`OpModule`s) over the fast (im2col) functional layers.

Shapes: x (N, C, H, W) -> out (N, F, Ho, Wo) with Ho = (H + 2P - KH) // S + 1 (same for W).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional.shapes import as_pair
from .layers import init_weight_and_bias, reset_like_torch
from .op_module import OpModule
from .parameter import data_or_none

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d"]


class Conv2d(OpModule):
    """2-D convolution (cross-correlation, as in torch), NCHW layout.

    Args:
        in_channels: C.
        out_channels: F, the number of filters.
        kernel_size: an int K (KH = KW = K) or a pair (KH, KW).
        stride: S, an int or a pair (SH, SW).
        padding: P, zeros added on both sides of H and W: an int or a pair (PH, PW).
        bias: whether to learn one bias per filter. ``bias=False`` is allowed: then ``self.bias``
            is None (as in torch) and backward computes no bias gradient.
        dtype: parameter dtype (float64 by default).
        rng: np.random.Generator or int seed for torch's default init (see `Linear`),
            with fan_in = C * KH * KW.

    Shapes: weight (F, C, KH, KW); bias (F,); x (N, C, H, W) -> out (N, F, Ho, Wo).
    """

    functional = (F.conv2d_forward, F.conv2d_backward)
    grads_to = ("weight", "bias")

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, dtype=np.float64, rng=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = as_pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = as_pair("Conv2d", "stride", stride, 1)
        self.padding = as_pair("Conv2d", "padding", padding, 0)
        init_weight_and_bias(self, (out_channels, in_channels, *self.kernel_size), bias, dtype, rng)

    def reset_parameters(self, rng=None) -> None:
        reset_like_torch(self, rng)

    def op_args(self) -> tuple:
        return self.weight.data, data_or_none(self.bias), self.stride, self.padding

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Pool2d(OpModule):
    """kernel_size K and stride S: ints or pairs, kept as given (torch's repr shows them so)."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        as_pair(type(self).__name__, "kernel_size", self.kernel_size, 1)  # fail here, not at the first forward
        as_pair(type(self).__name__, "stride", self.stride, 1)

    def op_args(self) -> tuple:
        return self.kernel_size, self.stride


class MaxPool2d(_Pool2d):
    """Max over KxK windows with stride S (default S = K). (N, C, H, W) -> (N, C, Ho, Wo).

    Backward routes each dout entry to the *first* maximum of its window (torch's rule on ties).
    """

    functional = (F.maxpool2d_forward, F.maxpool2d_backward)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding=0, "
                "dilation=1, ceil_mode=False")


class AvgPool2d(_Pool2d):
    """Mean over KxK windows with stride S (default S = K). (N, C, H, W) -> (N, C, Ho, Wo).

    Backward spreads each dout entry evenly, dout / K^2, over its window.
    """

    functional = (F.avgpool2d_forward, F.avgpool2d_backward)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding=0"
