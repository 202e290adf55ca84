"""Probes of notebook 08. Runs inside the grading sandbox: numpy, the standard library and
`backprop_lab.coursekit.checking.probes` only.

A learner's `augment(x, rng, p, max_shift)` takes a numpy Generator, which cannot cross the
sandbox boundary; the probe builds it here from a seed, so the grader can rebuild the same stream.
"""
import numpy as np

from backprop_lab.coursekit.checking.probes import lookup, plain, probe


@probe
def augment_with_seed(ns, func, x, seed, kwargs):
    """``func(x, np.random.default_rng(seed), **kwargs)``; also returns x afterwards (unchanged?)."""
    x = np.array(x, copy=True)
    out = lookup(ns, func)(x, np.random.default_rng(seed), **(kwargs or {}))
    return {"out": plain(out, f"{func}(...)"), "x_after": x}
