"""Elementwise activations: relu, leaky_relu, sigmoid, tanh.

Every function accepts an array of any shape (written (*) below, e.g. (N, D) or (N, C, H, W));
outputs and gradients have that same shape and dtype.

The derivative at a kink follows torch, so gradients agree exactly: relu'(0) = 0 and
leaky_relu'(0) = negative_slope (torch uses `x > 0` in both backward rules).
"""
from __future__ import annotations

import numpy as np

from .shapes import check_float, check_same_shape


def relu_forward(x: np.ndarray):
    """max(x, 0).

    Args:
        x: input, shape (*).

    Returns:
        out: shape (*).
        cache: x (backward needs the sign of each input).
    """
    check_float("relu_forward", "x", x)
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Pass the gradient where the input was positive, zero elsewhere (including x == 0).

    Args:
        dout: upstream gradient, shape (*).
        cache: x from `relu_forward`.

    Returns:
        dx: shape (*).
    """
    x = cache
    check_same_shape("relu_backward", "dout", dout, "x", x)
    return dout * (x > 0)  # a bool mask keeps dout's dtype


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01):
    """x where x > 0, negative_slope * x elsewhere (torch's default slope 0.01).

    Args:
        x: input, shape (*).
        negative_slope: slope for x <= 0.

    Returns:
        out: shape (*).
        cache: (x, negative_slope).
    """
    check_float("leaky_relu_forward", "x", x)
    return np.where(x > 0, x, negative_slope * x), (x, negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache) -> np.ndarray:
    """dout where x > 0, negative_slope * dout elsewhere (so the slope at exactly 0 is negative_slope).

    Args:
        dout: upstream gradient, shape (*).
        cache: from `leaky_relu_forward`.

    Returns:
        dx: shape (*).
    """
    x, negative_slope = cache
    check_same_shape("leaky_relu_backward", "dout", dout, "x", x)
    # np.where on dout itself (not on 1 / slope constants) keeps float32 gradients float32.
    return np.where(x > 0, dout, negative_slope * dout)


def sigmoid_forward(x: np.ndarray):
    """Logistic function 1 / (1 + exp(-x)), stable for any x (e.g. +-800).

    The naive formula overflows in exp(-x) for x << 0. Both branches below only ever compute
    e = exp(-|x|), which lies in (0, 1]:  x >= 0: 1 / (1 + e);  x < 0: e / (1 + e).

    Args:
        x: input, shape (*).

    Returns:
        out: shape (*), values in [0, 1].
        cache: out (the derivative is out * (1 - out), so the input is not needed).
    """
    check_float("sigmoid_forward", "x", x)
    # exp(-800) rounds to 0: that underflow is the correctly rounded answer, not an error.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1, e) / (1 + e)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache) -> np.ndarray:
    """dx = dout * s * (1 - s) with s = sigmoid(x).

    Args:
        dout: upstream gradient, shape (*).
        cache: the forward output s.

    Returns:
        dx: shape (*).
    """
    out = cache
    check_same_shape("sigmoid_backward", "dout", dout, "out", out)
    return dout * out * (1 - out)


def tanh_forward(x: np.ndarray):
    """Hyperbolic tangent (np.tanh is already stable for large |x|).

    Args:
        x: input, shape (*).

    Returns:
        out: shape (*), values in [-1, 1].
        cache: out (the derivative is 1 - out**2).
    """
    check_float("tanh_forward", "x", x)
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache) -> np.ndarray:
    """dx = dout * (1 - tanh(x)**2).

    Args:
        dout: upstream gradient, shape (*).
        cache: the forward output tanh(x).

    Returns:
        dx: shape (*).
    """
    out = cache
    check_same_shape("tanh_backward", "dout", dout, "out", out)
    return dout * (1 - out * out)
