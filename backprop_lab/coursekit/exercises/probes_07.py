"""Probes of notebook 07. Runs inside the grading sandbox: numpy, the standard library and
`backprop_lab.coursekit.checking.probes` only.

`forward_out` returns only the `out` of a learner's ``forward -> (out, cache)`` (the cache may hold
anything; it never has to cross the boundary). `conv_loop_baseline` runs a plain four-loop
convolution, the yardstick the speed check of the fast forward is measured against, and
`conv_null` does nothing but cross the boundary with the same data. The grader times every call
itself, from its own process, so no timing can be forged from inside; these probes use only
functions captured here, before any learner cell runs, and ndarray methods.
"""
import numpy as np

from backprop_lab.coursekit.checking.probes import lookup, plain, probe

_zeros = np.zeros  # captured before learner code runs: patching np.zeros later cannot slow the yardstick


@probe
def forward_out(ns, forward, args, kwargs):
    """``out, cache = forward(*args, **kwargs)``; returns out only."""
    result = lookup(ns, forward)(*args, **(kwargs or {}))
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"{forward} must return a pair (out, cache), got {type(result).__name__}")
    return plain(result[0], f"{forward}'s out")


@probe
def conv_null(ns, x, weight, bias, stride, padding):
    """No work: an array of out's shape, through the same `plain` as a learner's result. Its round
    trip is the transfer overhead that the speed check subtracts from both timed calls."""
    N, _, H, W = x.shape
    F, _, KH, KW = weight.shape
    Ho, Wo = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    return plain(_zeros((N, F, Ho, Wo)))


@probe
def conv_loop_baseline(ns, x, weight, bias, stride, padding):
    """The textbook loops over (n, f, i, j), one dot product each. Returns nothing (it is timed)."""
    N, C, H, W = x.shape
    F, _, KH, KW = weight.shape
    S, P = stride, padding
    xp = _zeros((N, C, H + 2 * P, W + 2 * P))
    xp[:, :, P:P + H, P:P + W] = x
    Ho, Wo = (H + 2 * P - KH) // S + 1, (W + 2 * P - KW) // S + 1
    out = _zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = (xp[n, :, i * S:i * S + KH, j * S:j * S + KW] * weight[f]).sum() + bias[f]
    return None
