"""Probes of notebook 05 (optimizers). Runs inside the grading sandbox: numpy, the standard library
and `backprop_lab.coursekit.checking.probes` only.

`optimizer_steps` runs a learner's update rule ``step(p, g, state, lr, **hyper) -> (p, state)`` for
several steps on a quadratic ``f(p) = 0.5 p·A p - b·p`` whose gradient ``A p - b`` is computed here,
from the parameters the learner's previous step returned: the trajectory is the learner's own, so
a wrong rule cannot be hidden behind gradients fixed in advance. The grader runs torch.optim and
the reference on the same quadratic with the same formula for the gradient.
"""
from __future__ import annotations

import numpy as np

from backprop_lab.coursekit.checking.probes import lookup, plain, probe


def quadratic_grad(A, b, p):
    """Gradient of 0.5 p·A p - b·p for p of any shape (A acts on the flattened p)."""
    return (A @ np.ravel(p) - b).reshape(np.shape(p))


def _arrays_of(p, state) -> dict:
    """name -> (the array object, a copy of its values) for p and every array in state."""
    found = {"p": p} | {f"state['{k}']": v for k, v in state.items() if isinstance(v, np.ndarray)}
    return {name: (v, np.array(v, copy=True)) for name, v in found.items()}


@probe
def optimizer_steps(ns, func, p, A, b, lrs, hyper, state=None):
    """``p, state = func(p, g, state, lrs[t], **hyper)`` for each t, g the quadratic's gradient.

    `state` starts as an empty dict unless one is given. Returns one {"p", "state", "changed"}
    snapshot per step; "changed" names the arguments (p, the arrays in state) whose values the call
    changed in place. The learner's rule runs with the learner's own helpers (`adamw_step` with their
    `adam_step`): no working code ever sits in the sandbox.
    """
    step = lookup(ns, func)
    p = np.array(p, dtype=np.float64)
    shape = p.shape
    state = {} if state is None else state
    out = []
    for lr in lrs:
        before = _arrays_of(p, state)
        result = step(p, quadratic_grad(A, b, p), state, lr, **hyper)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError(f"{func} must return a pair (p_new, state_new), got {type(result).__name__}")
        changed = [name for name, (obj, copy) in before.items()
                   if obj.shape != copy.shape or not np.array_equal(obj, copy, equal_nan=True)]
        p, state = result
        if not isinstance(state, dict):
            raise TypeError(f"{func} must return the state as a dict, got {type(state).__name__}")
        out.append({"p": plain(p, f"{func}'s p_new"), "state": plain(state, f"{func}'s state"), "changed": changed})
        if np.shape(p) != shape:
            break  # a wrong shape: the comparison says so; no gradient can be computed from it
        p = np.asarray(p, dtype=np.float64)
    return out


@probe
def schedule_values(ns, func, steps, kwargs):
    """``[func(t, **kwargs) for t in steps]`` as floats."""
    fn = lookup(ns, func)
    return [plain(fn(int(t), **kwargs), f"{func}({int(t)}, ...)") for t in steps]
