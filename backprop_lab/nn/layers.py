"""Linear, Flatten, Dropout and Residual modules (conv/pool: `conv.py`, batchnorm: `norm.py`,
activations: `activation.py`).

Each module but Residual is an `OpModule`: it calls its `backprop_lab.functional` pair and keeps
the cache of its most recent forward; backward *adds* the parameter gradients into ``param.grad``
and returns dx.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from . import init
from .module import Module
from .op_module import OpModule
from .parameter import Parameter, data_or_none

__all__ = ["Linear", "Flatten", "Dropout", "Residual"]


class Linear(OpModule):
    """y = x W^T + b, with torch's layout and default initialization.

    Args:
        in_features: D, the input width.
        out_features: M, the output width.
        bias: whether to learn b. ``bias=False`` is allowed: then ``self.bias`` is None (as in
            torch), the forward adds nothing and backward computes no bias gradient.
        dtype: parameter dtype (float64 by default: golden comparisons are float64).
        rng: np.random.Generator or int seed for the initialization (None: fresh entropy).

    Shapes: x (N, D) -> out (N, M); weight (M, D); bias (M,).

    Default init, as torch: W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(D), 1/sqrt(D)) and
    b ~ U(-1/sqrt(D), 1/sqrt(D)).
    """

    functional = (F.linear_forward, F.linear_backward)
    grads_to = ("weight", "bias")

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=np.float64, rng=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        init_weight_and_bias(self, (out_features, in_features), bias, dtype, rng)

    def reset_parameters(self, rng=None) -> None:
        reset_like_torch(self, rng)

    def op_args(self) -> tuple:
        return self.weight.data, data_or_none(self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def init_weight_and_bias(layer: Module, weight_shape: tuple, bias: bool, dtype, rng) -> None:
    """Give a Linear or Conv2d its `weight` (`weight_shape`) and `bias` (one per output, None when
    `bias` is False), then torch's default init (`layer.reset_parameters(rng)`)."""
    layer.weight = Parameter(np.zeros(weight_shape), dtype=dtype)
    layer.register_parameter("bias", Parameter(np.zeros(weight_shape[0]), dtype=dtype) if bias else None)
    layer.reset_parameters(rng)


def reset_like_torch(layer: Module, rng=None) -> None:
    """torch's default init for Linear and Conv2d: W ~ kaiming_uniform_(a=sqrt(5)), which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    rng = init.as_rng(rng)
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5), rng=rng)
    if layer.bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(layer.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(layer.bias, -bound, bound, rng=rng)


class Flatten(OpModule):
    """(N, C, H, W) -> (N, C*H*W): keeps the batch axis, joins the rest (torch's defaults)."""

    functional = (F.flatten_forward, F.flatten_backward)

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        if (start_dim, end_dim) != (1, -1):
            raise NotImplementedError("Flatten supports only start_dim=1, end_dim=-1")
        self.start_dim, self.end_dim = start_dim, end_dim

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(OpModule):
    """Inverted dropout: in training, zero each entry with probability p and scale the survivors
    by 1/(1-p), so that eval mode (the identity) needs no rescaling. Shape (*) -> (*).

    Args:
        p: probability of zeroing an entry.
        rng: this module's own np.random.Generator, or an int seed (None: fresh entropy).
            Its masks therefore never match torch's; compare with torch at p=0 or in eval mode.
    """

    functional = (F.dropout_forward, F.dropout_backward)

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.rng = init.as_rng(rng)

    def op_args(self) -> tuple:
        return self.p, self.training, self.rng

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


class Residual(Module):
    """y = x + F(x), where F is `block` (any module whose output has x's shape).

    Backward: dx = dout + F.backward(dout). The identity term passes dout to the input
    unchanged -- a "gradient highway" that a deep stack of blocks cannot shrink (He et al. 2016).
    """

    def __init__(self, block: Module):
        super().__init__()
        self.block = block

    def forward(self, x):
        fx = self.block(x)
        if fx.shape != x.shape:
            raise ValueError(f"Residual: the block maps {x.shape} to {fx.shape}; "
                             "y = x + F(x) needs F(x) to have the shape of x")
        self._cache = True  # the sum needs nothing saved; this only marks that forward ran
        return x + fx

    def backward(self, dout):
        self._cached()
        return dout + self.block.backward(dout)
