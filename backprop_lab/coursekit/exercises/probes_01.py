"""Probes for notebook 01: the learner's numerical derivative needs a function to differentiate."""
import numpy as np

from backprop_lab.coursekit.checking.probes import lookup, plain, probe

# The functions a learner's `numerical_gradient(f, x, eps)` is tried on (x: 1-D float array).
TEST_FUNCTIONS = {
    "classic": lambda v: (v[0] * v[1] - 10.0) ** 2,          # v = [w, x]
    "sum_sin": lambda v: float(np.sum(np.sin(v) * v)),
    "quadratic": lambda v: float(v @ (np.arange(1.0, v.size + 1) * v)) + float(np.sum(v)),
    "exp3": lambda v: float(np.sum(np.exp(3.0 * v))),
    "rosenbrock": lambda v: float(np.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)),
}


@probe
def numerical_gradient_of(ns, func, fname, x, eps):
    """Call the learner's ``func(f, x, eps)`` on a known f; also report x afterwards (restored?)."""
    x = np.array(x, dtype=np.float64)
    grad = lookup(ns, func)(TEST_FUNCTIONS[fname], x, eps)
    return {"grad": plain(grad, f"{func}(...)"), "x_after": x}
