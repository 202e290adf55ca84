"""`Parameter`: an array that a module learns, with the gradient that backward accumulates."""
from __future__ import annotations

import numpy as np


class Parameter:
    """A learnable array and its gradient.

    `data` holds the values; `grad` has the same shape and dtype and starts at zero. Layers
    *accumulate* into `grad` (``p.grad += ...``), so a parameter used twice gets the sum of both
    contributions; call `Module.zero_grad()` (or an optimizer's) between steps.

    Args:
        data: the initial values (copied, as float64 unless `dtype` says otherwise).
        dtype: numpy dtype of `data` and `grad`; defaults to `data`'s float dtype or float64.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data, dtype=None):
        arr = np.asarray(data)
        if dtype is None:
            dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
        self.data = np.array(arr, dtype=dtype, copy=True)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def zero_grad(self) -> None:
        self.grad = np.zeros_like(self.data)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def data_or_none(p: Parameter | None):
    """The array of an optional parameter (a layer built with ``bias=False`` has ``bias = None``)."""
    return None if p is None else p.data
