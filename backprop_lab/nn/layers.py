"""Linear, Flatten, Dropout and Residual modules (conv/pool: `conv.py`, batchnorm: `norm.py`,
activations: `activation.py`).

Each module calls its `backprop_lab.functional` pair and keeps the cache of its most recent
forward; backward *adds* the parameter gradients into ``param.grad`` and returns dx.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from . import init
from .module import Module
from .parameter import Parameter, data_or_none

__all__ = ["Linear", "Flatten", "Dropout", "Residual"]


class Linear(Module):
    """y = x W^T + b, with torch's layout and default initialization.

    Args:
        in_features: D, the input width.
        out_features: M, the output width.
        bias: whether to learn b.
        dtype: parameter dtype (float64 by default: golden comparisons are float64).
        rng: np.random.Generator or int seed for the initialization (None: fresh entropy).

    Shapes: x (N, D) -> out (N, M); weight (M, D); bias (M,).

    Default init, as torch: W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(D), 1/sqrt(D)) and
    b ~ U(-1/sqrt(D), 1/sqrt(D)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=np.float64, rng=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.zeros((out_features, in_features)), dtype=dtype)
        if bias:
            self.bias = Parameter(np.zeros(out_features), dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None) -> None:
        reset_like_torch(self, rng)

    def forward(self, x):
        out, self._cache = F.linear_forward(x, self.weight.data, data_or_none(self.bias))
        return out

    def backward(self, dout):
        dx, dweight, dbias = F.linear_backward(dout, self._cached())
        self.weight.grad += dweight
        if self.bias is not None:
            self.bias.grad += dbias
        return dx

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def reset_like_torch(layer: Module, rng=None) -> None:
    """torch's default init for Linear and Conv2d: W ~ kaiming_uniform_(a=sqrt(5)), which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    rng = init.as_rng(rng)
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5), rng=rng)
    if layer.bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(layer.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(layer.bias, -bound, bound, rng=rng)


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): keeps the batch axis, joins the rest (torch's defaults)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        if (start_dim, end_dim) != (1, -1):
            raise NotImplementedError("Flatten supports only start_dim=1, end_dim=-1")
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        out, self._cache = F.flatten_forward(x)
        return out

    def backward(self, dout):
        return F.flatten_backward(dout, self._cached())

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout: in training, zero each entry with probability p and scale the survivors
    by 1/(1-p), so that eval mode (the identity) needs no rescaling. Shape (*) -> (*).

    Args:
        p: probability of zeroing an entry.
        rng: this module's own np.random.Generator, or an int seed (None: fresh entropy).
            Its masks therefore never match torch's; compare with torch at p=0 or in eval mode.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.rng = init.as_rng(rng)

    def forward(self, x):
        out, self._cache = F.dropout_forward(x, self.p, self.training, self.rng)
        return out

    def backward(self, dout):
        return F.dropout_backward(dout, self._cached())

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
