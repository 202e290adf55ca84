"""Probes of notebook 03. Runs inside the grading sandbox: numpy, the standard library and
`backprop_lab.coursekit.checking.probes` only.

`forward_backward_strict` is `forward_backward` with numpy's floating-point warnings turned into
errors. A naive sigmoid ``1 / (1 + np.exp(-x))`` returns the right numbers at x = -800, but only
after ``exp(800)`` overflowed to inf with a RuntimeWarning; a stable one never overflows. Underflow
stays silent: ``exp(-800) == 0.0`` is the correctly rounded answer, not a bug.
"""
import numpy as np

from backprop_lab.coursekit.checking.probes import lookup, plain, probe


@probe
def forward_backward_strict(ns, forward, backward, args, kwargs, dout):
    """``out, cache = forward(*args, **kwargs)``; ``grads = backward(dout, cache)``, where an
    overflow, an invalid operation (inf - inf, 0 * inf) or a division by zero raises
    FloatingPointError."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        result = lookup(ns, forward)(*args, **(kwargs or {}))
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"{forward} must return a pair (out, cache), got {type(result).__name__}")
        out, cache = result
        grads = lookup(ns, backward)(dout, cache)
    return {"out": plain(out, f"{forward}'s out"), "grads": plain(grads, f"{backward}'s result")}
