"""Gradient clipping, as `torch.nn.utils`: by global norm and by value, in place on `param.grad`."""
from __future__ import annotations

import math

import numpy as np

from .parameter import Parameter

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list[np.ndarray]:
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Rescale all gradients together so that their global norm is at most `max_norm`.

    The global norm treats every gradient as one long vector: the `norm_type`-norm of the
    per-parameter norms ('inf' or float('inf'): the largest |g|). Like torch, every gradient
    is multiplied by ``min(1, max_norm / (total_norm + 1e-6))``: the direction of the step is
    kept, only its length is capped (Pascanu et al. 2013).

    Args:
        parameters: an iterable of Parameters (or a single one).
        max_norm: the largest allowed global norm.
        norm_type: p of the p-norm; float('inf') or 'inf' for the max norm.
        error_if_nonfinite: raise if the total norm is nan or inf.

    Returns:
        The total norm *before* clipping, as a float.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total_norm = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        per_param = np.array([np.linalg.norm(g.ravel(), ord=norm_type) for g in grads])
        total_norm = float(np.linalg.norm(per_param, ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients is non-finite, "
                           "so it cannot be clipped")
    clip_coef = min(float(max_norm) / (total_norm + 1e-6), 1.0)
    for g in grads:
        g *= clip_coef  # in place, as torch (a coefficient of 1 leaves the values unchanged)
    return total_norm


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
