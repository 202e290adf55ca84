"""Conv2d, MaxPool2d and AvgPool2d modules over the fast (im2col) functional layers.

Shapes: x (N, C, H, W) -> out (N, F, Ho, Wo) with Ho = (H + 2P - KH) // S + 1 (same for W).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional.shapes import as_pair
from .layers import reset_like_torch
from .module import Module
from .parameter import Parameter, data_or_none

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d"]


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in torch), NCHW layout.

    Args:
        in_channels: C.
        out_channels: F, the number of filters.
        kernel_size: an int K (KH = KW = K) or a pair (KH, KW).
        stride: S, an int or a pair (SH, SW).
        padding: P, zeros added on both sides of H and W: an int or a pair (PH, PW).
        bias: whether to learn one bias per filter.
        dtype: parameter dtype (float64 by default).
        rng: np.random.Generator or int seed for torch's default init (see `Linear`),
            with fan_in = C * KH * KW.

    Shapes: weight (F, C, KH, KW); bias (F,); x (N, C, H, W) -> out (N, F, Ho, Wo).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, dtype=np.float64, rng=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = as_pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = as_pair("Conv2d", "stride", stride, 1)
        self.padding = as_pair("Conv2d", "padding", padding, 0)
        kh, kw = self.kernel_size
        self.weight = Parameter(np.zeros((out_channels, in_channels, kh, kw)), dtype=dtype)
        if bias:
            self.bias = Parameter(np.zeros(out_channels), dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None) -> None:
        reset_like_torch(self, rng)

    def forward(self, x):
        out, self._cache = F.conv2d_forward(x, self.weight.data, data_or_none(self.bias),
                                            stride=self.stride, padding=self.padding)
        return out

    def backward(self, dout):
        dx, dweight, dbias = F.conv2d_backward(dout, self._cached())
        self.weight.grad += dweight
        if self.bias is not None:
            self.bias.grad += dbias
        return dx

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Pool2d(Module):
    """kernel_size K and stride S: ints or pairs, kept as given (torch's repr shows them so)."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        as_pair(type(self).__name__, "kernel_size", self.kernel_size, 1)  # fail here, not at the first forward
        as_pair(type(self).__name__, "stride", self.stride, 1)


class MaxPool2d(_Pool2d):
    """Max over KxK windows with stride S (default S = K). (N, C, H, W) -> (N, C, Ho, Wo).

    Backward routes each dout entry to the *first* maximum of its window (torch's rule on ties).
    """

    def forward(self, x):
        out, self._cache = F.maxpool2d_forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout):
        return F.maxpool2d_backward(dout, self._cached())

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding=0, "
                "dilation=1, ceil_mode=False")


class AvgPool2d(_Pool2d):
    """Mean over KxK windows with stride S (default S = K). (N, C, H, W) -> (N, C, Ho, Wo).

    Backward spreads each dout entry evenly, dout / K^2, over its window.
    """

    def forward(self, x):
        out, self._cache = F.avgpool2d_forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout):
        return F.avgpool2d_backward(dout, self._cached())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding=0"
