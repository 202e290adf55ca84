"""Elementwise activations as modules: ReLU, LeakyReLU, Sigmoid, Tanh.

Each is its `backprop_lab.functional` pair inside an `OpModule`: forward keeps the cache,
backward hands it back. Shape (*) -> (*). No parameters, so backward only returns dx.
"""
from __future__ import annotations

from .. import functional as F
from .op_module import OpModule

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh"]


class ReLU(OpModule):
    """max(0, x). Backward: dx = dout where x > 0, else 0 (torch's choice at exactly 0)."""

    functional = (F.relu_forward, F.relu_backward)


class Sigmoid(OpModule):
    """s = 1 / (1 + exp(-x)). Backward: dx = dout * s * (1 - s), at most dout / 4."""

    functional = (F.sigmoid_forward, F.sigmoid_backward)


class Tanh(OpModule):
    """t = tanh(x). Backward: dx = dout * (1 - t^2), at most dout."""

    functional = (F.tanh_forward, F.tanh_backward)


class LeakyReLU(OpModule):
    """x if x > 0 else negative_slope * x (torch's default slope 0.01)."""

    functional = (F.leaky_relu_forward, F.leaky_relu_backward)

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def op_args(self) -> tuple:
        return (self.negative_slope,)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
