"""Probes of notebook 06. Runs inside the grading sandbox: numpy, the standard library and
`backprop_lab.coursekit.checking.probes` only.

`call_watching_args` calls a learner's function like `call` does and also says which of its array
arguments (or arrays inside a list argument) the call changed in place.
"""
import numpy as np

from backprop_lab.coursekit.checking.probes import lookup, plain, probe


def _arrays(args):
    """[(label, array)] of the arrays among `args`: "args[i]" or "args[i][j]" for a list argument."""
    found = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            found.append((f"args[{i}]", a))
        elif isinstance(a, list):
            found += [(f"args[{i}][{j}]", v) for j, v in enumerate(a) if isinstance(v, np.ndarray)]
    return found


@probe
def call_watching_args(ns, func, args=(), kwargs=None):
    """``func(*args, **kwargs)`` -> {"result", "changed": labels of the argument arrays changed in place}."""
    args = [[np.array(v, copy=True) for v in a] if isinstance(a, list) else a for a in args]
    before = [(label, a, a.copy()) for label, a in _arrays(args)]
    result = lookup(ns, func)(*args, **(kwargs or {}))
    changed = [label for label, a, old in before if a.shape != old.shape or not np.array_equal(a, old, equal_nan=True)]
    return {"result": plain(result, f"{func}(...)"), "changed": changed}
