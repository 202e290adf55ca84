"""Probes of notebook 03. Runs inside the grading sandbox: numpy, the standard library and
`backprop_lab.coursekit.checking.probes` only.

`forward_backward_strict` is `forward_backward` with numpy's floating-point warnings turned into
errors. A naive sigmoid ``1 / (1 + np.exp(-x))`` returns the right numbers at x = -800, but only
after ``exp(800)`` overflowed to inf with a RuntimeWarning; a stable one never overflows. Underflow
stays silent: ``exp(-800) == 0.0`` is the correctly rounded answer, not a bug.
"""
import numpy as np

from backprop_lab.coursekit.checking.probes import forward_backward, probe


@probe
def forward_backward_strict(ns, forward, backward, args, kwargs, dout):
    """`forward_backward`, where an overflow, an invalid operation (inf - inf, 0 * inf) or a
    division by zero raises FloatingPointError."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        return forward_backward(ns, forward, backward, args, kwargs, dout)
