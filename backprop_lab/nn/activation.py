"""Elementwise activations as modules: ReLU, LeakyReLU, Sigmoid, Tanh.

Each wraps its `backprop_lab.functional` pair: forward keeps the cache, backward hands it
back. Shape (*) -> (*). No parameters, so backward only returns dx.
"""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh"]


class ReLU(Module):
    """max(0, x). Backward: dx = dout where x > 0, else 0 (torch's choice at exactly 0)."""

    def forward(self, x):
        out, self._cache = F.relu_forward(x)
        return out

    def backward(self, dout):
        return F.relu_backward(dout, self._cached())


class Sigmoid(Module):
    """s = 1 / (1 + exp(-x)). Backward: dx = dout * s * (1 - s), at most dout / 4."""

    def forward(self, x):
        out, self._cache = F.sigmoid_forward(x)
        return out

    def backward(self, dout):
        return F.sigmoid_backward(dout, self._cached())


class Tanh(Module):
    """t = tanh(x). Backward: dx = dout * (1 - t^2), at most dout."""

    def forward(self, x):
        out, self._cache = F.tanh_forward(x)
        return out

    def backward(self, dout):
        return F.tanh_backward(dout, self._cached())


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x (torch's default slope 0.01)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        out, self._cache = F.leaky_relu_forward(x, self.negative_slope)
        return out

    def backward(self, dout):
        return F.leaky_relu_backward(dout, self._cached())

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
