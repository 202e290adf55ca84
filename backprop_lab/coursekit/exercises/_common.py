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


def explain(result, candidate, expected, known, tol: float = 1e-8):
    """Name a failed `result` after the first of the `known` wrong answers that `candidate` equals.

    Args:
        result: the failed (or passed: then nothing changes) CheckResult of `candidate`.
        candidate: what the learner returned (anything: a value that is not an array never matches).
        expected: the right answer, so that a wrong answer that happens to equal it is never named.
        known: [(wrong value, diagnosis code, sentence)], most specific first.
        tol: how close (normwise relative error) `candidate` must be to a wrong value.

    Returns:
        `result`, with `code` and `diagnosis` of the matching wrong answer when one matches.
    """
    if result.passed:
        return result
    try:
        c = np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return result
    for wrong, code, sentence in known:
        w = np.asarray(wrong, dtype=np.float64)
        if c.shape != w.shape or not np.all(np.isfinite(c)):
            continue
        apart = rel_error(w, expected) if np.shape(expected) == w.shape else np.inf
        if rel_error(c, w) <= min(tol, apart / 10):
            result.code, result.diagnosis = code, sentence
            break
    return result


def shape_of_another(name: str, candidate, shapes: dict) -> str | None:
    """The name of the other parameter whose shape `candidate` has (when it does not have `name`'s own
    shape): the gradient of a different layer ended up under `name`. None otherwise."""
    mine = np.shape(candidate)
    if mine == tuple(shapes[name]):
        return None
    return next((other for other, shape in shapes.items() if other != name and tuple(shape) == mine), None)


def blank_last(x, params: dict):
    """Make some first-layer pre-activations exactly 0, where relu'(0) = 0 shows: the last example of
    `x` all zeros (one is appended to a batch of one) and ``params["b1"][0] = 0`` (changed in place).
    Returns the new `x`."""
    params["b1"][0] = 0.0
    if len(x) == 1:
        x = np.concatenate([x, np.zeros_like(x)])
    x[-1] = 0.0
    return x
