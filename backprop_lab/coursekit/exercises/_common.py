"""Building blocks for exercise checks: reference-and-torch comparisons in one call.

The torch side comes from `backprop_lab.testing` (`torch_grads`, `run_torch`), the one torch runner
of the project; it is re-exported here because every exercise module uses it beside `compare`.
"""
from __future__ import annotations

import numpy as np

from backprop_lab.gradcheck import CheckResult, check_gradient, rel_error
from backprop_lab.testing import torch_grads

__all__ = ["torch_grads", "compare", "malformed", "size", "close", "module_grads"]


def compare(candidate, name: str, reference, torch_value, batch_size=None, tol=None):
    """One `CheckResult` for `candidate` against the reference and torch."""
    return check_gradient(candidate, name=name, reference=np.asarray(reference, dtype=np.float64),
                          torch=np.asarray(torch_value, dtype=np.float64), batch_size=batch_size, tol=tol)


def malformed(name: str, message: str) -> CheckResult:
    """A failure for a return value that is not of the form asked for (nothing to compare)."""
    return CheckResult(name, False, np.inf, against="the form asked for", diagnosis=message, code="malformed")


def size(rng, low: int, high: int) -> int:
    """A random size in [low, high], both ends included."""
    return int(rng.integers(low, high, endpoint=True))


def close(a, b, tol: float = 1e-8) -> bool:
    """Same shape, finite, and within `tol` normwise relative error."""
    return np.shape(a) == np.shape(b) and bool(np.all(np.isfinite(a))) and rel_error(a, b) <= tol


def module_grads(model, names: dict, params: dict, x, dout):
    """Load `params` (exercise names -> arrays) into a library `model` through `names` (exercise
    name -> state_dict key), run forward and backward with `dout`; return (out, {name: grad})."""
    model.load_state_dict({names[k]: v for k, v in params.items()})
    model.zero_grad()
    out = model(x)
    model.backward(dout)
    named = dict(model.named_parameters())
    return out, {k: named[names[k]].grad for k in names}
