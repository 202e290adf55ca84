"""Probes of notebook 09. Runs inside the grading sandbox: numpy, the standard library and
`backprop_lab.coursekit.checking.probes` only.

`call_strict` is `call` with numpy's floating-point warnings turned into errors, as notebook 03's
`forward_backward_strict`: a naive sigmoid ``1 / (1 + np.exp(-z))`` returns the right numbers at
z = -800, but only after ``exp(800)`` overflowed to inf with a RuntimeWarning; a stable one never
overflows. Underflow stays silent: ``exp(-800) == 0.0`` is the correctly rounded answer.
"""
import numpy as np

from backprop_lab.coursekit.checking.probes import call, probe


@probe
def call_strict(ns, func, args=(), kwargs=None):
    """`call`, where an overflow, an invalid operation (inf - inf, 0 * inf) or a division by zero
    raises FloatingPointError."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        return call(ns, func, args, kwargs)
