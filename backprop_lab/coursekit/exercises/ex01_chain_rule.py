"""Notebook 01 · the chain rule: local derivatives, a two-layer scalar network, numerical gradients."""
from __future__ import annotations

import math

import numpy as np

from backprop_lab.gradcheck import check_close, check_gradient, numeric_gradient

from ..checking.core import Check, Exercise
from ..checking.diagnoses import register as diagnosis
from ..checking.registry import register
from ._common import compare, malformed, torch_grads
from ._mutants import name_bug
from .probes_01 import TEST_FUNCTIONS

RETURNS_F = diagnosis("01.returns-function-not-derivative",
                      "the function itself (u**2, sigmoid, tanh) was returned instead of its derivative")
MUL_SWAPPED = diagnosis("01.mul-swapped", "d_mul returned (a, b): each factor's derivative is the OTHER factor")
SIG_INPUT = diagnosis("01.sigmoid-uses-input", "sigmoid' written with the input z instead of s = sigmoid(z)")
SIG_TANH = diagnosis("01.sigmoid-with-tanh-rule", "sigmoid' computed with tanh's rule 1 - s**2")
SIG_FORMULA = diagnosis("01.sigmoid-wrong-formula", "sigmoid' is not s * (1 - s) (a wrong sign or factor)")
TANH_INPUT = diagnosis("01.tanh-uses-input", "tanh' written with the input instead of the output: 1 - x**2")
TANH_SQUARE = diagnosis("01.tanh-not-squared", "tanh' written as 1 - tanh(x) (or sech x): the square is missing")
TANH_SQUARE_INSIDE = diagnosis("01.tanh-square-inside", "tanh' written as 1 - tanh(z**2): the square is applied "
                                                        "to z inside the tanh instead of to tanh(z)")

# ----------------------------------------------------------------------------- 1.1 local derivatives


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def _local_mutants(name, z):
    """The values of known slips in `name`(z), with their codes and what to say."""
    s, t = _sigmoid(z), np.tanh(z)
    returns = f"{name} returned the function itself; return its derivative"
    return {
        "d_square": [(RETURNS_F, z ** 2, f"{returns}: d(u**2)/du = 2u.")],
        "d_sigmoid": [
            (SIG_INPUT, z * (1 - z), "you wrote sigmoid' with the input z: sigmoid'(z) = s (1 - s) where "
                                     "s = sigmoid(z) is the OUTPUT; compute s first."),
            (RETURNS_F, s, f"{returns}: sigmoid'(z) = s (1 - s) with s = sigmoid(z)."),
            (SIG_TANH, 1 - s ** 2, "1 - s**2 is tanh's rule; sigmoid's is s (1 - s)."),
            *[(SIG_FORMULA, v, "sigmoid'(z) = s (1 - s) with s = sigmoid(z): check the sign and the factors.")
              for v in (s * (1 + s), s ** 2, 1 - s, -s * (1 - s) + 1)]],
        "d_tanh": [
            (TANH_INPUT, 1 - z ** 2, "you wrote tanh' with the input z: tanh'(z) = 1 - t**2 where t = tanh(z) "
                                     "is the OUTPUT; compute t first."),
            (TANH_SQUARE, 1 - t, "square the tanh: tanh'(z) = 1 - tanh(z)**2."),
            (TANH_SQUARE, (1 - t) ** 2, "square the tanh, not the difference: tanh'(z) = 1 - tanh(z)**2."),
            (TANH_SQUARE_INSIDE, 1 - np.tanh(z ** 2), "you computed 1 - tanh(z**2): the square goes on the "
                                                      "tanh, not on z inside it: tanh'(z) = 1 - np.tanh(z) ** 2."),
            (TANH_SQUARE, 1 / np.cosh(z), "1/cosh(z) is sech(z); the derivative of tanh is sech(z)**2 = "
                                          "1 - tanh(z)**2."),
            (RETURNS_F, t, f"{returns}: tanh'(z) = 1 - tanh(z)**2.")],
    }.get(name, [])


def _local(name, torch_fn, ref_fn, visible):
    def run(runner, rng):
        shape = (5,) if visible else tuple(rng.integers(1, 6, size=rng.integers(1, 3)))
        z = rng.normal(scale=2.0, size=shape)
        got = runner.call("call", func=name, args=[z])
        _, g = torch_grads(lambda z: torch_fn(z), {"z": z}, ["z"])
        return name_bug(compare(got, f"{name}(z)", ref_fn(z), g["z"]), got, _local_mutants(name, z))
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
            return malformed("d_mul(a, b)", "d_mul must return a pair (d(a*b)/da, d(a*b)/db), e.g. "
                                            f"`return b, a`; got {type(got).__name__}.")
        results = [compare(got[0], "d(a*b)/da", b, g["a"]), compare(got[1], "d(a*b)/db", a, g["b"])]
        return name_bug(results, got, [(MUL_SWAPPED, [a, b], "you returned (a, b): the derivative of a*b "
                                        "with respect to a is b (the OTHER factor), so return (b, a).")])
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


NO_TANH = diagnosis("01.two-layer-missing-tanh-derivative",
                    "dloss/da lacks the tanh derivative (1 - h**2): the chain skipped the tanh node")
PRE = diagnosis("01.two-layer-uses-preactivation",
                "dloss/dw2 multiplied by the pre-activation a = w1 x + b1 instead of h = tanh(a)")
NO_X = diagnosis("01.two-layer-missing-input", "dloss/dw1 lacks the factor x (d(w1 x)/dw1 = x)")
W_FOR_X = diagnosis("01.two-layer-weight-for-input", "dloss/dw1 multiplied by w1 instead of x")
NO_W2 = diagnosis("01.two-layer-missing-w2", "dloss/dh lacks the factor w2 (d(w2 h)/dh = w2)")


def _two_layer_mutants(x, y, w1, b1, w2, b2):
    """{param: [(code, value, sentence)]}: what known slips give for each gradient."""
    a = w1 * x + b1
    h = math.tanh(a)
    d_yhat = w2 * h + b2 - y
    no_tanh, of_a = d_yhat * w2, d_yhat * w2 * (1 - a * a)
    tanh_text = ("the tanh node is missing from the chain: dloss/da = dloss/dh * (1 - h**2), with h = tanh(a).")
    input_text = ("tanh' must use the OUTPUT h = tanh(a): (1 - h**2), not (1 - a**2) with the pre-activation a.")
    square_text = "tanh'(a) = 1 - h**2: square h = tanh(a)."
    no_w2 = d_yhat * (1 - h * h)
    w2_text = "dloss/dh = (y_hat - y) * w2: the factor w2 (d(w2 h)/dh) is missing before the tanh step."
    return {
        "w1": [(NO_TANH, no_tanh * x, tanh_text), (TANH_INPUT, of_a * x, input_text),
               (TANH_SQUARE, d_yhat * w2 * (1 - h) * x, square_text), (NO_W2, no_w2 * x, w2_text),
               (NO_X, d_yhat * w2 * (1 - h * h), "dloss/dw1 = dloss/da * x: the factor x (d(w1 x)/dw1) is missing."),
               (W_FOR_X, d_yhat * w2 * (1 - h * h) * w1, "d(w1 x)/dw1 is x, not w1: multiply dloss/da by x.")],
        "b1": [(NO_TANH, no_tanh, tanh_text), (TANH_INPUT, of_a, input_text),
               (TANH_SQUARE, d_yhat * w2 * (1 - h), square_text), (NO_W2, no_w2, w2_text)],
        "w2": [(PRE, d_yhat * a, "dloss/dw2 = (y_hat - y) * h, with h = tanh(w1 x + b1) (the value w2 multiplies), "
                                 "not the pre-activation w1 x + b1.")],
        "b2": [],
    }


def _two_layer(param, visible):
    def run(runner, rng):
        if visible:
            x, y, p = 1.5, -0.5, dict(w1=0.8, b1=-0.3, w2=1.2, b2=0.1)
        else:
            x, y = float(rng.normal()), float(rng.normal())
            p = {k: float(rng.normal()) for k in PARAMS}
        got = runner.call("call", func="two_layer_grads", args=[x, y], kwargs=p)
        if not isinstance(got, dict) or param not in got:
            keys = sorted(got) if isinstance(got, dict) else f"a {type(got).__name__}"
            return malformed(f"two_layer_grads(...)['{param}']", f"return a dict with the keys 'w1', 'b1', 'w2', "
                             f"'b2' (lower case), one number each; got {keys}.")
        r = compare(got[param], f"dloss/d{param}", _two_layer_reference(x, y, **p)[param],
                    _two_layer_torch(x, y, **p)[param])
        return name_bug(r, got[param], _two_layer_mutants(x, y, **p)[param])
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


ONE_SIDED = diagnosis("01.numgrad-one-sided", "a one-sided difference (f(x+eps) - f(x)) / eps instead of the "
                                              "centered (f(x+eps) - f(x-eps)) / (2 eps)")
NOT_RESTORED = diagnosis("01.numgrad-x-not-restored", "x is not restored after perturbing an entry (x[i] = old)")
PRECEDENCE = diagnosis("01.numgrad-operator-precedence", "/ 2 * eps divides by 2 and then MULTIPLIES by eps")
SAME_POINT = diagnosis("01.numgrad-same-point", "f evaluated twice at the same point (x_plus = x does not copy x)")
EARLY_STOP = diagnosis("01.numgrad-skips-entries", "the loop over the entries stops early (range(x.size - 1)?): "
                                                   "the last entries stay 0")
HALF_STEP = diagnosis("01.numgrad-divides-by-eps", "the centered difference (f(x+eps) - f(x-eps)) is divided "
                                                   "by eps instead of 2*eps: every entry is twice too large")
ALL_COORDS = diagnosis("01.numgrad-all-coordinates", "every coordinate perturbed at once (f(x + eps)) instead "
                                                    "of one entry at a time")


def _numgrad_mutants(fname, x, eps):
    """What known slips of a numerical gradient return for TEST_FUNCTIONS[fname] at x (1-D)."""
    f = TEST_FUNCTIONS[fname]

    def one_sided(sign):
        out = np.zeros_like(x)
        for i in range(x.size):
            step = x.copy()
            step[i] += sign * eps
            out[i] = sign * (f(step) - f(x)) / eps
        return out

    def not_restored():  # x[i] left at old - eps: later entries are taken at a shifted point
        xs, out = x.copy(), np.zeros_like(x)
        for i in range(x.size):
            old = xs[i]
            xs[i] = old + eps
            f_plus = f(xs)
            xs[i] = old - eps
            out[i] = (f_plus - f(xs)) / (2 * eps)
        return out

    sided = ("this is a one-sided difference (f(x+eps) - f(x)) / eps, whose error shrinks only like eps; use the "
             "centered (f(x+eps) - f(x-eps)) / (2 eps): its error shrinks like eps**2.")
    return [(HALF_STEP, lambda: 2 * numeric_gradient(f, x.copy(), eps=eps),
             "every entry is twice the expected value: the centered difference (f(x+eps) - f(x-eps)) spans two "
             "steps of eps, from x - eps to x + eps, so divide it by 2*eps, not by eps: "
             "(f_plus - f_minus) / (2 * eps)."),
            (ONE_SIDED, lambda: one_sided(1), sided), (ONE_SIDED, lambda: one_sided(-1), sided),
            (ONE_SIDED, lambda: one_sided(1) / 2, "f(x - eps) was evaluated at x: after x[i] = old + eps, set "
                                                  "x[i] = old - eps (not x[i] -= eps) before the second call."),
            (PRECEDENCE, lambda: numeric_gradient(f, x.copy(), eps=eps) * eps * eps,
             "`/ 2 * eps` divides by 2 and then multiplies by eps (Python reads it left to right): write "
             "`/ (2 * eps)`."),
            (NOT_RESTORED, not_restored, "x was not restored after perturbing an entry, so the later entries "
                                         "were taken at a shifted point: put the old value back (x[i] = old)."),
            (SAME_POINT, np.zeros_like(x),
             "every entry is 0: f was evaluated twice at the same point. `x_plus = x` does not copy an array "
             "(both names are one array): change x[i] and call f between the changes, or use x.copy()."),
            (ALL_COORDS, lambda: np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps)),
             "every entry is the same: x + eps moves ALL coordinates at once. Perturb only entry i "
             "(x[i] = old + eps), evaluate, then restore it.")] + [
            (EARLY_STOP, (lambda k=k: np.where(np.arange(x.size) < k, numeric_gradient(f, x.copy(), eps=eps), 0.0)),
             f"only the first {k} of the {x.size} entries were computed, the rest are 0: loop over every entry, "
             "for i in range(x.size).") for k in range(1, x.size)]


def _numeric(fname, visible, eps=1e-6):
    def run(runner, rng):
        x = np.array([2.0, 3.0]) if visible else rng.uniform(-1.0, 1.0, size=int(rng.integers(2, 7)))
        got = runner.call("numerical_gradient_of", func="numerical_gradient", fname=fname, x=x, eps=eps)
        reference = numeric_gradient(TEST_FUNCTIONS[fname], x.copy(), eps=eps)
        r = check_gradient(got["grad"], name=f"numerical_gradient on {fname}", reference=reference,
                           torch=_exact(fname, x), tol=1e-6)
        return name_bug(r, got["grad"], _numgrad_mutants(fname, x, eps), tol=1e-8)
    return run


def _restores(visible):
    def run(runner, rng):
        x = np.array([0.5, -1.0, 2.0]) if visible else rng.uniform(-1, 1, size=5)
        got = runner.call("numerical_gradient_of", func="numerical_gradient", fname="sum_sin", x=x, eps=1e-6)
        r = check_close(got["x_after"], x, name="x after numerical_gradient returns", tol=0.0)
        if not r.passed:
            r.code, r.diagnosis = NOT_RESTORED, (
                f"your function changed the caller's x (it came back as {np.round(got['x_after'], 8).tolist()}): "
                "after perturbing entry i, put the old value back (x[i] = old) before moving on.")
        return r
    return run


def _centered(visible):
    # With a large step, a one-sided difference is off by ~eps*f''/2 (1e-3 relative here),
    # a centered one by ~eps^2*f'''/6 (1e-6): only the centered formula passes 1e-4.
    def run(runner, rng):
        x = np.array([0.1, -0.3, 0.25]) if visible else rng.uniform(-0.5, 0.5, size=4)
        got = runner.call("numerical_gradient_of", func="numerical_gradient", fname="exp3", x=x, eps=1e-3)
        r = check_gradient(got["grad"], name="numerical_gradient on exp(3x) with eps=1e-3",
                           torch=_exact("exp3", x), tol=1e-4)
        return name_bug(r, got["grad"], _numgrad_mutants("exp3", x, 1e-3), tol=1e-8)
    return run


NUMERIC = Exercise(
    key="01.numerical_gradient",
    title="Exercise 1.3 · a numerical gradient",
    functions=("numerical_gradient",),
    where="the cell under 'Exercise 1.3'",
    checks=[
        Check("the worked example (w, x) = (2, 3) gives (-24, -16)", 0.5, _numeric("classic", True), True),
        Check("x is unchanged afterwards", 0.5, _restores(True), True),
        Check("centered, not one-sided, differences (eps = 1e-3)", 0.5, _centered(True), True),
        Check("random points of three functions", 1.5,
              lambda r, rng: [_numeric(f, False)(r, rng) for f in ("sum_sin", "quadratic", "rosenbrock")]),
        Check("x is unchanged afterwards, random x", 0.5, _restores(False)),
        Check("centered differences at random points (eps = 1e-3)", 0.5, _centered(False)),
    ],
)

register(LOCAL, TWO_LAYER, NUMERIC)
