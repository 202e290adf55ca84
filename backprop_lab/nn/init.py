"""Weight initialization, in place, with torch's formulas (`torch.nn.init`).

Every function takes a numpy array or a `Parameter` (its `.data` is filled), fills it in place
and returns what it was given. Randomness comes from `rng`: a `np.random.Generator`, an int seed,
or None (fresh entropy).

The two classic scales, for a weight of shape (out, in) or (F, C, KH, KW):

* Xavier / Glorot (2010): Var(W) = gain^2 * 2 / (fan_in + fan_out) keeps the variance of the
  activations *and* of the gradients roughly constant through a stack of tanh/sigmoid layers.
* Kaiming / He (2015): Var(W) = gain^2 / fan, with gain^2 = 2 for ReLU (which zeroes half its
  input), keeps the activation variance constant through a stack of ReLU layers.

A uniform U(-b, b) has variance b^2 / 3, so each uniform variant uses b = sqrt(3) * std.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .parameter import Parameter

__all__ = [
    "as_rng", "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_",
    "constant_", "zeros_", "ones_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_",
]


def as_rng(rng=None) -> np.random.Generator:
    """A `np.random.Generator` from a Generator (returned as is), an int seed, or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _array(t) -> np.ndarray:
    arr = t.data if isinstance(t, Parameter) else t
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected a numpy array or a Parameter, got {type(t).__name__}")
    return arr


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (same values as `torch.nn.init.calculate_gain`).

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu with slope a (default 0.01):
    sqrt(2 / (1 + a^2)); selu: 3/4.
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def calculate_fan_in_and_fan_out(t) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight, laid out like torch's.

    Linear (out, in): fan_in = in, fan_out = out. Conv (F, C, KH, KW): each output sums over
    C*KH*KW inputs, so fan_in = C*KH*KW and fan_out = F*KH*KW.
    """
    shape = _array(t).shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(t, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(t, a: float = 0.0, b: float = 1.0, rng=None):
    """Fill `t` with U(a, b)."""
    arr = _array(t)
    arr[...] = as_rng(rng).uniform(a, b, size=arr.shape)
    return t


def normal_(t, mean: float = 0.0, std: float = 1.0, rng=None):
    """Fill `t` with N(mean, std^2)."""
    arr = _array(t)
    arr[...] = mean + std * as_rng(rng).standard_normal(arr.shape)
    return t


def constant_(t, val: float):
    """Fill `t` with `val`."""
    _array(t)[...] = val
    return t


def zeros_(t):
    """Fill `t` with 0."""
    return constant_(t, 0.0)


def ones_(t):
    """Fill `t` with 1."""
    return constant_(t, 1.0)


def xavier_uniform_(t, gain: float = 1.0, rng=None):
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(t, -bound, bound, rng)


def xavier_normal_(t, gain: float = 1.0, rng=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(t, 0.0, std, rng)


def kaiming_uniform_(t, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     rng=None):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    torch's layers call this with ``a=sqrt(5)``, which makes gain = sqrt(1/3) and so b = 1/sqrt(fan_in).
    """
    fan = _calculate_correct_fan(t, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(t, -bound, bound, rng)


def kaiming_normal_(t, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    rng=None):
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    fan = _calculate_correct_fan(t, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(t, 0.0, std, rng)
