"""Notebook 01 · the chain rule: local derivatives, a two-layer scalar network, numerical gradients."""
from __future__ import annotations

import numpy as np

from backprop_lab.gradcheck import check_close, check_gradient, numeric_gradient

from ..checking.core import Check, Exercise
from ..checking.registry import register
from ._common import compare, torch_grads
from .probes_01 import TEST_FUNCTIONS

# ----------------------------------------------------------------------------- 1.1 local derivatives


def _local(name, torch_fn, ref_fn, visible):
    def run(runner, rng):
        shape = (5,) if visible else tuple(rng.integers(1, 6, size=rng.integers(1, 3)))
        z = rng.normal(scale=2.0, size=shape)
        got = runner.call("call", func=name, args=[z])
        _, g = torch_grads(lambda z: torch_fn(z), {"z": z}, ["z"])
        return compare(got, f"{name}(z)", ref_fn(z), g["z"])
    return run


def _ref_sigmoid(z):
    from backprop_lab.functional import sigmoid_backward, sigmoid_forward
    out, cache = sigmoid_forward(z)
    return sigmoid_backward(np.ones_like(z), cache)


def _ref_tanh(z):
    from backprop_lab.functional import tanh_backward, tanh_forward
    out, cache = tanh_forward(z)
    return tanh_backward(np.ones_like(z), cache)


def _d_mul(visible):
    def run(runner, rng):
        a, b = (np.array([2.0, -1.5, 0.5]), np.array([3.0, 4.0, -2.0])) if visible else rng.normal(size=(2, 4))
        got = runner.call("call", func="d_mul", args=[a, b])
        _, g = torch_grads(lambda a, b: a * b, {"a": a, "b": b}, ["a", "b"])
        if not (isinstance(got, list) and len(got) == 2):
            return check_close(None, g["a"], name="d_mul(a, b) -> (d/da, d/db)")
        return [compare(got[0], "d(a*b)/da", b, g["a"]), compare(got[1], "d(a*b)/db", a, g["b"])]
    return run


def _torch_sigmoid(z):
    return z.sigmoid()


def _torch_tanh(z):
    return z.tanh()


LOCAL = Exercise(
    key="01.local_derivatives",
    title="Exercise 1.1 · local derivatives",
    functions=("d_square", "d_mul", "d_sigmoid", "d_tanh"),
    where="the cell under 'Exercise 1.1'",
    checks=[
        Check("d_square on fixed inputs", 0.5, _local("d_square", lambda z: z ** 2, lambda z: 2 * z, True), True),
        Check("d_square on random arrays", 0.5, _local("d_square", lambda z: z ** 2, lambda z: 2 * z, False)),
        Check("d_mul on fixed inputs", 0.5, _d_mul(True), True),
        Check("d_mul on random arrays", 0.5, _d_mul(False)),
        Check("d_sigmoid on fixed inputs", 0.5, _local("d_sigmoid", _torch_sigmoid, _ref_sigmoid, True), True),
        Check("d_sigmoid on random arrays", 0.5, _local("d_sigmoid", _torch_sigmoid, _ref_sigmoid, False)),
        Check("d_tanh on fixed inputs", 0.5, _local("d_tanh", _torch_tanh, _ref_tanh, True), True),
        Check("d_tanh on random arrays", 0.5, _local("d_tanh", _torch_tanh, _ref_tanh, False)),
    ],
)

# ----------------------------------------------------------------------------- 1.2 two-layer scalar net
PARAMS = ("w1", "b1", "w2", "b2")


def _two_layer_reference(x, y, w1, b1, w2, b2):
    """The same network with the library's scalar autograd."""
    from backprop_lab.scalar import Value
    vs = {k: Value(v) for k, v in dict(w1=w1, b1=b1, w2=w2, b2=b2).items()}
    h = (vs["w1"] * x + vs["b1"]).tanh()
    loss = 0.5 * (vs["w2"] * h + vs["b2"] - y) ** 2
    loss.backward()
    return {k: v.grad for k, v in vs.items()}


def _two_layer_torch(x, y, **p):
    _, g = torch_grads(lambda w1, b1, w2, b2: 0.5 * (w2 * (w1 * x + b1).tanh() + b2 - y) ** 2, p, PARAMS)
    return g


def _two_layer(param, visible):
    def run(runner, rng):
        if visible:
            x, y, p = 1.5, -0.5, dict(w1=0.8, b1=-0.3, w2=1.2, b2=0.1)
        else:
            x, y = float(rng.normal()), float(rng.normal())
            p = {k: float(rng.normal()) for k in PARAMS}
        got = runner.call("call", func="two_layer_grads", args=[x, y], kwargs=p)
        if not isinstance(got, dict) or param not in got:
            keys = list(got) if isinstance(got, dict) else type(got).__name__
            return check_close(None, np.zeros(()), name=f"two_layer_grads(...)['{param}'] (got {keys})")
        return compare(got[param], f"dloss/d{param}", _two_layer_reference(x, y, **p)[param],
                       _two_layer_torch(x, y, **p)[param])
    return run


TWO_LAYER = Exercise(
    key="01.two_layer",
    title="Exercise 1.2 · a two-layer scalar network by hand",
    functions=("two_layer_grads",),
    where="the cell under 'Exercise 1.2'",
    checks=[Check(f"dloss/d{p} at the worked example", 0.5, _two_layer(p, True), True) for p in PARAMS]
    + [Check(f"dloss/d{p} at random points", 0.5, _two_layer(p, False)) for p in PARAMS],
)

# ----------------------------------------------------------------------------- 1.3 numerical gradient


def _exact(fname, x):
    import torch
    fns = {"classic": lambda v: (v[0] * v[1] - 10.0) ** 2,
           "sum_sin": lambda v: (torch.sin(v) * v).sum(),
           "quadratic": lambda v: (v * torch.arange(1.0, v.numel() + 1, dtype=v.dtype) * v).sum() + v.sum(),
           "exp3": lambda v: torch.exp(3.0 * v).sum(),
           "rosenbrock": lambda v: (100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2).sum()}
    _, g = torch_grads(lambda v: fns[fname](v), {"v": x}, ["v"])
    return g["v"]


def _numeric(fname, visible, eps=1e-6):
    def run(runner, rng):
        x = np.array([2.0, 3.0]) if visible else rng.uniform(-1.0, 1.0, size=int(rng.integers(2, 7)))
        got = runner.call("numerical_gradient_of", func="numerical_gradient", fname=fname, x=x, eps=eps)
        reference = numeric_gradient(TEST_FUNCTIONS[fname], x.copy(), eps=eps)
        return check_gradient(got["grad"], name=f"numerical_gradient on {fname}", reference=reference,
                              torch=_exact(fname, x), tol=1e-6)
    return run


def _restores(runner, rng):
    x = rng.uniform(-1, 1, size=5)
    got = runner.call("numerical_gradient_of", func="numerical_gradient", fname="sum_sin", x=x, eps=1e-6)
    r = check_close(got["x_after"], x, name="x after numerical_gradient returns", tol=0.0)
    if not r.passed:
        r.diagnosis = "your function changed x: restore each entry after perturbing it (x[i] = old)."
    return r


def _centered(runner, rng):
    # With a large step, a one-sided difference is off by ~eps*f''/2 (1e-3 relative here),
    # a centered one by ~eps^2*f'''/6 (1e-6): only the centered formula passes 1e-4.
    x = rng.uniform(-0.5, 0.5, size=4)
    got = runner.call("numerical_gradient_of", func="numerical_gradient", fname="exp3", x=x, eps=1e-3)
    r = check_gradient(got["grad"], name="numerical_gradient with eps=1e-3", torch=_exact("exp3", x), tol=1e-4)
    if not r.passed and np.shape(got["grad"]) == x.shape:
        forward = numeric_gradient(TEST_FUNCTIONS["exp3"], x.copy(), eps=1e-3) + 0.5e-3 * 9 * np.exp(3 * x)
        if check_close(got["grad"], forward, tol=1e-3).passed:
            r.diagnosis = ("this looks like a one-sided difference (f(x+eps) - f(x)) / eps; use the centered "
                           "(f(x+eps) - f(x-eps)) / (2 eps), whose error shrinks like eps^2 instead of eps.")
    return r


NUMERIC = Exercise(
    key="01.numerical_gradient",
    title="Exercise 1.3 · a numerical gradient",
    functions=("numerical_gradient",),
    where="the cell under 'Exercise 1.3'",
    checks=[
        Check("the worked example (w, x) = (2, 3) gives (-24, -16)", 1, _numeric("classic", True), True),
        Check("random points of three functions", 1,
              lambda r, rng: [_numeric(f, False)(r, rng) for f in ("sum_sin", "quadratic", "rosenbrock")]),
        Check("x is unchanged afterwards", 1, _restores),
        Check("centered, not one-sided, differences", 1, _centered),
    ],
)

register(LOCAL, TWO_LAYER, NUMERIC)
