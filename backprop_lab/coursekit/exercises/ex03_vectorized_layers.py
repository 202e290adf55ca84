"""Notebook 03 · vectorized layers: the linear layer, four activations, MSE and softmax cross-entropy.

Every check runs the learner's functions on float64 inputs and compares the output and each
gradient with the `backprop_lab.functional` reference AND torch autograd (the twins of
`backprop_lab.testing.OPS`). Checks of batched ops pass ``batch_size=N`` so a failure can name a
factor of N. Shape letters: N batch, D input features, M output features, C classes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from backprop_lab import functional as F
from backprop_lab.testing import OPS, away_from_zero, run_numpy, run_torch, tF

from ..checking.core import Check, Exercise, StudentCodeError
from ..checking.registry import register
from ._common import compare
from ._common import malformed as _malformed
from ._common import size as _size
from ._mutants import name_bug
from .ex03_slips import (
    KEEPDIMS,
    LINEAR_SHAPES,
    MSE_BATCH,
    MSE_SIZE,
    SIG_OVERFLOW,
    ce_mutants,
    ce_stability,
    layer_mutants,
)

# The registry's leaky_relu fixes the slope at 0.1; here it is a keyword (torch's default 0.01).
LEAKY = replace(OPS["leaky_relu"], forward=F.leaky_relu_forward,
                torch_forward=lambda x, negative_slope=0.01: tF.leaky_relu(x, negative_slope))
LAYERS = {"linear": OPS["linear"], "relu": OPS["relu"], "leaky_relu": LEAKY,
          "sigmoid": OPS["sigmoid"], "tanh": OPS["tanh"]}
LOSSES = {"mse_loss": OPS["mse_loss"], "softmax_cross_entropy": OPS["softmax_cross_entropy"]}


# ----------------------------------------------------------------------------- forward/backward pairs


def _layer(runner, rng, op, inputs, which, kwargs=None, strict=False):
    """Run the learner's `{op}_forward` / `{op}_backward` and compare the arrays named in `which`
    ("out" and input names such as "x", "weight") with the reference and torch."""
    spec, kwargs = LAYERS[op], dict(kwargs or {})
    dout = rng.standard_normal(np.shape(spec.forward(**inputs, **kwargs)[0]))
    ref_out, ref = run_numpy(spec, inputs, kwargs, dout)
    t_out, tor = run_torch(spec, inputs, kwargs, dout)
    args = [inputs[k] for k in spec.grad_names]
    try:
        got = runner.call("forward_backward_strict" if strict else "forward_backward", forward=f"{op}_forward",
                          backward=f"{op}_backward", args=args, kwargs=kwargs, dout=dout)
    except StudentCodeError as exc:
        if op == "linear" and any(w in exc.message for w in ("matmul", "shapes", "broadcast")):
            raise StudentCodeError(
                f"{exc.message} (x is (N, D) = {inputs['x'].shape}, weight (M, D) = {inputs['weight'].shape}, "
                f"dout (N, M) = {dout.shape}: out = x @ weight.T + bias is (N, M); dx = dout @ weight is (N, D); "
                "dweight = dout.T @ x is (M, D). Match the shapes.)", exc.student_traceback, LINEAR_SHAPES) from None
        if "FloatingPointError" not in exc.message:
            raise
        raise StudentCodeError(
            f"{op} is not numerically stable: {exc.message.removeprefix('your code raised ')} at "
            f"|x| up to {np.max(np.abs(inputs['x'])):g} (the checker turns numpy's floating-point warnings into "
            "errors). np.exp(-x) overflows for x < -709; compute exp only of -|x|, which lies in (0, 1], "
            "and remember that np.where evaluates BOTH branches.", exc.student_traceback,
            SIG_OVERFLOW if op == "sigmoid" else "") from None
    grads = got["grads"]
    if len(spec.grad_names) == 1 and not (isinstance(grads, list) and len(grads) == 1):
        grads = [grads]  # a single gradient may come back bare (the usual) or as a 1-tuple
    if not (isinstance(grads, list) and len(grads) == len(spec.grad_names)):
        names = ", ".join(f"d{k}" for k in spec.grad_names)
        return _malformed(f"{op}_backward's result", f"{op}_backward must return ({names}); "
                          f"got {type(grads).__name__} of length {len(grads) if isinstance(grads, list) else 1}.")
    batch = inputs["x"].shape[0] if op == "linear" else None
    results, slips = [], layer_mutants(op, inputs, kwargs, dout)
    for name in which:
        if name == "out":
            r = compare(got["out"], f"{op}_forward's out", ref_out, t_out)
            results.append(name_bug(r, got["out"], slips.get("out", [])))
        else:
            i = spec.grad_names.index(name)
            label = f"d{name}" if op == "linear" else f"{op}_backward's d{name}"
            r = compare(grads[i], label, ref[name], tor[name], batch_size=batch)
            results.append(name_bug(r, grads[i], slips.get(name, [])))
    return results


def _linear(which, shape):
    def run(runner, rng):
        N, D, M = shape(rng)
        inputs = {"x": rng.standard_normal((N, D)), "weight": 0.5 * rng.standard_normal((M, D)),
                  "bias": rng.standard_normal(M)}
        return _layer(runner, rng, "linear", inputs, which)
    return run


FIXED = lambda rng: (4, 3, 2)
RANDOM = lambda rng: (_size(rng, 2, 7), _size(rng, 2, 8), _size(rng, 1, 6))
ALL = ("out", "x", "weight", "bias")

LINEAR = Exercise(
    key="03.linear",
    title="Exercise 3.1 · the linear layer",
    functions=("linear_forward", "linear_backward"),
    where="the cell under 'Exercise 3.1'",
    checks=[Check(f"{k if k == 'out' else 'd' + k} on a fixed batch (N, D, M) = (4, 3, 2)", 0.5,
                  _linear((k,), FIXED), True) for k in ALL]
    + [Check("out and all gradients for a batch of one, (N, D, M) = (1, 3, 2)", 0.25,
             _linear(ALL, lambda rng: (1, 3, 2)), True),
       Check("out and all gradients with a square weight, (N, D, M) = (3, 4, 4)", 0.25,
             _linear(ALL, lambda rng: (3, 4, 4)), True)]
    + [Check(f"{k if k == 'out' else 'd' + k} on a random batch", 0.5, _linear((k,), RANDOM)) for k in ALL]
    + [Check("out and all gradients for a batch of one (N = 1)", 0.25,
             _linear(ALL, lambda rng: (1, _size(rng, 2, 6), _size(rng, 1, 5)))),
       Check("out and all gradients with a square weight (D = M)", 0.25,
             _linear(ALL, lambda rng: (_size(rng, 2, 5),) + (_size(rng, 2, 5),) * 2))],
)

# ----------------------------------------------------------------------------- activations


def _any_shape(rng):
    """Rank 1 to 4, sizes 1 to 5: activations work elementwise on any shape."""
    return tuple(_size(rng, 1, 5) for _ in range(_size(rng, 1, 4)))


def _values(op):
    if op in ("relu", "leaky_relu"):  # |x| >= 0.05: no input on the kink at 0
        return lambda rng, shape: away_from_zero(rng, shape, np.float64)
    return lambda rng, shape: 3.0 * rng.standard_normal(shape)


def _large(rng, shape):
    """Half moderate values, half huge ones of either sign (up to 800), and both -800 and +800."""
    x = np.where(rng.random(shape) < 0.5, rng.uniform(-5, 5, shape),
                 rng.choice([-1.0, 1.0], shape) * rng.uniform(50, 800, shape))
    flat = x.reshape(-1)
    flat[:2] = [-800.0, 800.0]
    return x


SIGMOID_FIXED = np.array([[-800.0, -30.0, -2.5, -0.3], [0.4, 2.0, 30.0, 800.0]])


def _activation(op, make, kwargs=None):
    def run(runner, rng):
        x = make(rng)
        return _layer(runner, rng, op, {"x": x}, ("out", "x"), kwargs, strict=op == "sigmoid")
    return run


def _act_checks(op):
    fixed = _activation(op, lambda rng: SIGMOID_FIXED.copy()) if op == "sigmoid" else \
        _activation(op, lambda rng: _values(op)(rng, (3, 4)))
    note = " (including ±800)" if op == "sigmoid" else ""
    return [Check(f"{op}: out and dx on fixed inputs{note}", 0.5, fixed, True),
            Check(f"{op}: out and dx on a random shape", 0.25,
                  _activation(op, lambda rng: _values(op)(rng, _any_shape(rng))))]


def _with_zeros(rng, shape):
    """Values away from 0, a third of them set to exactly 0 (the kink of relu and leaky_relu)."""
    x = away_from_zero(rng, shape, np.float64)
    x[rng.random(shape) < 1 / 3] = 0.0
    x.reshape(-1)[0] = 0.0
    return x


def _zeros_check(shape, slope):
    """relu and leaky_relu (with `slope`) on inputs holding exact zeros: torch's derivative at 0."""
    def run(runner, rng):
        x = _with_zeros(rng, shape(rng))
        return (_layer(runner, rng, "relu", {"x": x}, ("out", "x"))
                + _layer(runner, rng, "leaky_relu", {"x": x}, ("out", "x"), {"negative_slope": slope(rng)}))
    return run


ACTIVATIONS = Exercise(
    key="03.activations",
    title="Exercise 3.2 · activations",
    functions=tuple(f"{op}_{part}" for op in ("relu", "leaky_relu", "sigmoid", "tanh")
                    for part in ("forward", "backward")),
    where="the cell under 'Exercise 3.2'",
    checks=[c for op in ("relu", "leaky_relu", "sigmoid", "tanh") for c in _act_checks(op)]
    + [Check("leaky_relu with negative_slope=0.3", 0.25,
             _activation("leaky_relu", lambda rng: _values("relu")(rng, (3, 4)), {"negative_slope": 0.3}), True),
       Check("relu and leaky_relu at exactly x = 0 (relu'(0) = 0, leaky_relu'(0) = slope, like torch)", 0.25,
             _zeros_check(lambda rng: (3, 4), lambda rng: 0.3), True),
       Check("leaky_relu with negative_slope=0.2", 0.5,
             _activation("leaky_relu", lambda rng: _values("relu")(rng, (4, 5)), {"negative_slope": 0.2})),
       Check("relu and leaky_relu at exactly x = 0, random shapes and slopes", 0.5,
             _zeros_check(_any_shape, lambda rng: float(rng.choice([0.1, 0.2, 0.5])))),
       Check("sigmoid at large |x| (up to 800) without overflow", 0.5,
             _activation("sigmoid", lambda rng: _large(rng, (_size(rng, 2, 6), _size(rng, 3, 7)))))],
)

# ----------------------------------------------------------------------------- losses


def _mse_hint(result, got, expected, shape):
    """Name MSE's own scale bugs: torch's mse_loss averages over ALL N*D elements, not over N."""
    if result.passed or np.shape(got) != np.shape(expected) or not np.all(np.isfinite(got)):
        return result
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    size, N = int(np.prod(shape)), shape[0]
    factors = [(size, MSE_SIZE, f"too large by a factor of pred.size = {size}: the loss is the MEAN over all "
                                f"{' x '.join(map(str, shape))} elements; divide by pred.size (in the gradient too).")]
    if len(shape) > 1 and size != N:
        factors.append((size // N, MSE_BATCH, f"too large by a factor of D = {size // N}: you averaged over the "
                                              "batch only; mse_loss averages over every element (divide by "
                                              "pred.size)."))
    for factor, code, text in factors:
        if np.allclose(g, factor * e, rtol=1e-6, atol=0):
            result.code, result.diagnosis = code, f"{result.name} is {text}"
    return result


def _loss(op, make, which):
    def run(runner, rng):
        inputs, kwargs = make(rng)
        spec = LOSSES[op]
        loss, ref = run_numpy(spec, inputs, kwargs, 1.0)
        t_loss, tor = run_torch(spec, inputs, kwargs, 1.0)
        (first, x), = inputs.items()
        try:
            got = runner.call("call", func=op, args=[x, *kwargs.values()])
        except StudentCodeError as exc:
            if op == "softmax_cross_entropy" and "broadcast" in exc.message:
                raise StudentCodeError(
                    f"{exc.message} (logits are (N, C) = {x.shape}: a sum or max over each row must keep its axis, "
                    "e.g. logits.max(axis=1, keepdims=True) of shape (N, 1), so that it divides or subtracts row by "
                    "row.)", exc.student_traceback, KEEPDIMS) from None
            raise
        if not (isinstance(got, list) and len(got) == 2):
            return _malformed(f"{op}(...)", f"{op} must return a pair (loss, d{first}); got {type(got).__name__}.")
        pairs = {"loss": (got[0], loss, t_loss), f"d{first}": (got[1], ref[first], tor[first])}
        results = []
        slips = ce_mutants(x, *kwargs.values()) if op == "softmax_cross_entropy" else {}
        for name in which:
            candidate, r, t = pairs[name]
            batch = x.shape[0] if op == "softmax_cross_entropy" else None
            res = compare(candidate, name, r, t, batch_size=batch)
            res = _mse_hint(res, candidate, r, x.shape) if op == "mse_loss" else name_bug(res, candidate,
                                                                                          slips.get(name, []))
            results.append(res)
        if op == "softmax_cross_entropy":
            cause = ce_stability(x, *kwargs.values(), got[0], got[1], ref[first])
            for res in results if cause else ():
                res.code, res.diagnosis = cause if not res.passed else (res.code, res.diagnosis)
        return results
    return run


def _mse_data(shape):
    def make(rng):
        s = shape(rng)
        return {"pred": rng.standard_normal(s)}, {"target": rng.standard_normal(s)}
    return make


BOTH_MSE = ("loss", "dpred")
MSE = Exercise(
    key="03.mse",
    title="Exercise 3.3 · mean squared error",
    functions=("mse_loss",),
    where="the cell under 'Exercise 3.3'",
    checks=[Check("loss on a fixed (N, D) = (4, 3) batch", 0.5, _loss("mse_loss", _mse_data(lambda r: (4, 3)),
                                                                      ("loss",)), True),
            Check("dpred on a fixed (N, D) = (4, 3) batch", 0.5,
                  _loss("mse_loss", _mse_data(lambda r: (4, 3)), ("dpred",)), True),
            Check("a fixed batch of one, (N, D) = (1, 3)", 0.25, _loss("mse_loss", _mse_data(lambda r: (1, 3)),
                                                                     BOTH_MSE), True),
            Check("fixed 1-D predictions of shape (5,)", 0.25, _loss("mse_loss", _mse_data(lambda r: (5,)), BOTH_MSE),
                  True),
            Check("loss on a random batch", 0.5,
                  _loss("mse_loss", _mse_data(lambda r: (_size(r, 2, 7), _size(r, 2, 5))), ("loss",))),
            Check("dpred on a random batch", 0.5,
                  _loss("mse_loss", _mse_data(lambda r: (_size(r, 2, 7), _size(r, 2, 5))), ("dpred",))),
            Check("a batch of one (N = 1)", 0.25,
                  _loss("mse_loss", _mse_data(lambda r: (1, _size(r, 2, 5))), BOTH_MSE)),
            Check("1-D predictions of shape (N,)", 0.25, _loss("mse_loss", _mse_data(lambda r: (_size(r, 2, 9),)),
                                                               BOTH_MSE))],
)


def _ce_data(N, C, scale=3.0, huge=False):
    def make(rng):
        n, c = N(rng), C(rng)
        logits = scale * rng.standard_normal((n, c))
        labels = rng.integers(0, c, n)
        if huge:  # logits up to +-1000, each row's largest in [800, 1000]: exp(logit) overflows
            logits = rng.uniform(-1000, 1000, (n, c))
            logits[np.arange(n), rng.integers(0, c, n)] = rng.uniform(800, 1000, n)
            # one label on a logit <= -800: its probability underflows to 0, so log(softmax) is -inf
            labels[0] = (int(np.argmax(logits[0])) + 1) % c
            logits[0, labels[0]] = rng.uniform(-1000, -800)
            if n > 1:  # one row entirely near -1000: subtracting the array's max (not the row's) breaks it
                logits[-1] = rng.uniform(-1000, -900, c)
        return {"logits": logits}, {"labels": labels}
    return make


CE_FIXED_LARGE = (np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [500.0, 500.0, -1000.0],
                            [-1000.0, -990.0, -1000.0]]), np.array([1, 2, 0, 1]))
BOTH_CE = ("loss", "dlogits")
CE = Exercise(
    key="03.cross_entropy",
    title="Exercise 3.4 · softmax cross-entropy",
    functions=("softmax_cross_entropy",),
    where="the cell under 'Exercise 3.4'",
    checks=[Check("loss on a fixed (N, C) = (4, 3) batch", 0.5,
                  _loss("softmax_cross_entropy", _ce_data(lambda r: 4, lambda r: 3), ("loss",)), True),
            Check("dlogits on a fixed (N, C) = (4, 3) batch", 0.5,
                  _loss("softmax_cross_entropy", _ce_data(lambda r: 4, lambda r: 3), ("dlogits",)), True),
            Check("loss and dlogits for fixed logits of ±1000", 0.5,
                  _loss("softmax_cross_entropy", lambda r: ({"logits": CE_FIXED_LARGE[0].copy()},
                                                            {"labels": CE_FIXED_LARGE[1].copy()}), BOTH_CE), True),
            Check("a fixed batch of one, (N, C) = (1, 4)", 0.25,
                  _loss("softmax_cross_entropy", _ce_data(lambda r: 1, lambda r: 4), BOTH_CE), True),
            Check("loss on a random batch", 0.5,
                  _loss("softmax_cross_entropy", _ce_data(lambda r: _size(r, 2, 8), lambda r: _size(r, 2, 7)),
                        ("loss",))),
            Check("dlogits on a random batch", 1,
                  _loss("softmax_cross_entropy", _ce_data(lambda r: _size(r, 2, 8), lambda r: _size(r, 2, 7)),
                        ("dlogits",))),
            Check("a batch of one (N = 1)", 0.25,
                  _loss("softmax_cross_entropy", _ce_data(lambda r: 1, lambda r: _size(r, 2, 6)), BOTH_CE)),
            Check("random logits of up to ±1000 (stability)", 1.5,
                  _loss("softmax_cross_entropy", _ce_data(lambda r: _size(r, 2, 6), lambda r: _size(r, 3, 7),
                                                          huge=True), BOTH_CE))],
)

register(LINEAR, ACTIVATIONS, MSE, CE)
