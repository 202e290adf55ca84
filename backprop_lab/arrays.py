"""`to_numpy`: the one way the library turns "anything array-like" into a numpy array.

Modules, optimizers, plots and the gradient checker accept torch tensors as well as numpy arrays
(a torch state_dict, a torch gradient to compare with), yet the library must import without torch.
So a tensor is recognised by what it can do (``detach`` and ``cpu``), never by importing torch.
"""
from __future__ import annotations

import numpy as np

__all__ = ["to_numpy"]


def to_numpy(value) -> np.ndarray:
    """A numpy array from an array, a list, a number or a torch tensor.

    A tensor is detached from autograd and moved to the CPU first; like ``tensor.numpy()`` the
    result may share memory with a CPU tensor, and an array is returned as it is (no copy).
    Copy (``np.array(to_numpy(v))``) before changing it in place.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
