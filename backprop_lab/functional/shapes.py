"""Shape and dtype checks shared by every op in `backprop_lab.functional` and the `nn` layers.

Every shape error is built by `shape_error`, so they all read the same way::

    <op>: <arg> must have shape (<letters>) = (<numbers>) [to match ...]; got (<shape>). <hint>

`?` stands for "any size". The checks are cheap (ndim, a few integers, the dtype kind), so
they run on every call, hot paths included; values are never scanned. `as_pair` reads torch's
"an int or a (height, width) pair" arguments (kernel_size, stride, padding) for ops and layers alike.
"""
from __future__ import annotations

import numpy as np

__all__ = ["fmt_shape", "describe", "shape_error", "check_shape", "check_float", "check_same_shape",
           "as_pair", "output_size"]


def fmt_shape(dims) -> str:
    """Format a shape like Python does, with `?` for unknown sizes: (4, None) -> "(4, ?)"."""
    parts = ["?" if d is None else str(d) for d in dims]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def describe(name: str, letters: str, shape) -> str:
    """"x of shape (N, D) = (4, 5)": used to say what another argument must match."""
    return f"{name} of shape ({letters}) = {fmt_shape(shape)}"


def shape_error(op: str, arg: str, letters: str, expected, got, match: str = "",
                hint: str = "") -> ValueError:
    """Build the one-line ValueError described in the module docstring."""
    msg = f"{op}: {arg} must have shape ({letters}) = {fmt_shape(expected)}"
    if match:
        msg += f" to match {match}"
    msg += f"; got {fmt_shape(got)}."
    if hint:
        msg += " " + hint
    return ValueError(msg)


def check_shape(op: str, arg: str, array, letters: str, expected=None, match: tuple = (),
                hint: str = "") -> tuple:
    """Raise `shape_error` unless `array.shape` fits `expected`; return the shape.

    Args:
        op: name of the public function, e.g. "linear_forward".
        arg: name of the argument being checked, e.g. "weight".
        array: the numpy array.
        letters: the shape in letters, e.g. "out_features, in_features" or "N, C, H, W".
        expected: tuple of ints or None (any size), one per letter; None means "only the rank".
        match: optional (name, letters, shape) of the argument the numbers come from, e.g.
            ("x", "N, D", x.shape); formatted only when the check fails (it is a hot path).
        hint: optional sentence suggesting a fix.
    """
    shape = array.shape if isinstance(array, np.ndarray) else np.shape(array)
    if expected is None:  # only the rank: the number of letters
        rank = letters.rstrip(", ").count(",") + 1
        if len(shape) != rank:
            expected = (None,) * rank
            raise shape_error(op, arg, letters, expected, shape, describe(*match) if match else "", hint)
        return shape
    if len(shape) != len(expected):
        raise shape_error(op, arg, letters, expected, shape, describe(*match) if match else "", hint)
    for e, s in zip(expected, shape):  # a plain loop: this runs on every forward and backward
        if e is not None and e != s:
            raise shape_error(op, arg, letters, expected, shape, describe(*match) if match else "", hint)
    return shape


def check_float(op: str, arg: str, array) -> None:
    """Raise TypeError unless `array` is a numpy array of a floating dtype (float32/float64)."""
    if isinstance(array, np.ndarray) and array.dtype.kind == "f":
        return
    got = f"an array of dtype {array.dtype}" if isinstance(array, np.ndarray) else type(array).__name__
    raise TypeError(f"{op}: {arg} must be a floating-point numpy array (float32 or float64); got {got}. "
                    f"Convert it first, e.g. {arg} = np.asarray({arg}, dtype=np.float64).")


def check_same_shape(op: str, arg: str, array, other_name: str, other) -> None:
    """Raise unless `array` has exactly the shape of `other` (e.g. dout vs out, target vs pred)."""
    if np.shape(array) != np.shape(other):
        raise shape_error(op, arg, "same as " + other_name, np.shape(other), np.shape(array),
                          hint=f"{arg} must have exactly the shape of {other_name}.")


def as_pair(op: str, arg: str, value, minimum: int) -> tuple[int, int]:
    """Turn an int or a pair of ints (like torch's stride/padding/kernel_size) into (int, int).

    Args:
        op: the function or layer asking, named in the error ("conv2d_forward", "Conv2d").
        arg: the argument's name ("stride").
        value: an int K (meaning (K, K)) or a pair (KH, KW).
        minimum: the smallest allowed entry (1 for kernel_size and stride, 0 for padding).

    Raises:
        ValueError: naming `op` and `arg`, unless `value` is an int >= minimum or a pair of them.
    """
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= minimum for v in pair):
        raise ValueError(f"{op}: {arg} must be an int >= {minimum} or a pair of them (height, width); "
                         f"got {value!r}.")
    return int(pair[0]), int(pair[1])


def output_size(op: str, size: int, kernel: int, stride: int, padding: int, axis: str) -> int:
    """Ho or Wo = floor((size + 2*padding - kernel) / stride) + 1, like torch; must be >= 1."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"{op}: the kernel ({kernel}) is larger than the padded input along {axis} "
                         f"({size} + 2*{padding} = {size + 2 * padding}); the output would be empty. "
                         f"Use a smaller kernel or more padding.")
    return out
