"""Probes of notebooks 01 to 04 for tests/bugs/validate_fresh.py (see fresh_probe_kit).

The inputs include the edge cases the release's prose names: logits of +-800 and +-1000, exact
zeros at a ReLU, a shared upstream gradient in the Value rules, dropout masks, lr changes.
"""
from __future__ import annotations

import copy

import numpy as np

from bugs.fresh_probe_kit import call, forward_backward


# ---- 01 ----------------------------------------------------------------------------------------
def p01_local(ns, rng):
    z = np.concatenate([3 * rng.normal(size=6), [0.0, -800.0, 800.0]])
    a, b = rng.normal(size=4), rng.normal(size=4)
    return [call(ns["d_square"], z), call(ns["d_mul"], a, b), call(ns["d_sigmoid"], z), call(ns["d_tanh"], z)]


def p01_two_layer(ns, rng):
    return [call(ns["two_layer_grads"], *rng.normal(size=6)) for _ in range(3)]


def p01_numgrad(ns, rng):
    f = lambda v: float(np.sum(np.sin(v) * v ** 2) + v[0] * v[-1])
    return [call(ns["numerical_gradient"], f, rng.normal(size=5)),
            call(ns["numerical_gradient"], f, rng.normal(size=3), eps=1e-4)]


# ---- 02 ----------------------------------------------------------------------------------------
def p02_rules(ns, rng):
    V = ns["Value"]

    def rule(make, *data, upstream=1.7, start=0.3):
        leaves = [V(d) for d in data]
        for leaf in leaves:
            leaf.grad = start  # a share from another path: the rule must add to it
        out = make(*leaves)
        out.grad = upstream
        out._backward()
        return [leaf.grad for leaf in leaves]

    cases = [(lambda a, b: a * b, 2.0, -3.0), (lambda a: a * a, 1.5), (lambda a: a ** 3, 1.3),
             (lambda a: a ** -1, 2.0), (lambda a: a ** 0.5, 2.5), (lambda a: a.exp(), 0.7),
             (lambda a: a.log(), 2.5), (lambda a: a.tanh(), 0.4), (lambda a: a.tanh(), -1.2)]
    return [call(rule, *case) for case in cases]


def _expressions(V):
    a, b, c = V(2.0), V(-3.0), V(4.0)
    yield [a, b, c], (a * b + a) * c
    a = V(3.0)
    yield [a], a * a + a
    x1, x2, w1, w2, bias = V(2.0), V(-1.0), V(-0.5), V(0.8), V(0.3)
    yield [x1, x2, w1, w2, bias], ((x1 * w1 + x2 * w2 + bias).tanh() - 1.0) ** 2
    a, b = V(0.6), V(-0.4)
    d = a * b
    yield [a, b], ((d.tanh() * (a + b) + d.exp()) ** 2 + (a * a + 2.0).log()) / (b - 3.0)


def p02_backward(ns, rng):
    def run(leaves, out):
        out.backward()
        return [len(out.topological_order()), out.grad] + [leaf.grad for leaf in leaves]

    return [call(run, leaves, out) for leaves, out in _expressions(ns["Value"])]


def p02_xor(ns, rng):
    out = []
    for N, D, H in [(5, 3, 4), (4, 2, 2)]:
        params = {"W1": rng.normal(size=(H, D)), "b1": rng.normal(size=H), "W2": rng.normal(size=(1, H)),
                  "b2": rng.normal(size=1)}
        out.append(call(ns["xor_loss_and_grads"], params, rng.normal(size=(N, D)), rng.normal(size=N)))
    return out


# ---- 03 ----------------------------------------------------------------------------------------
def p03_linear(ns, rng):
    x, w, b, dout = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(5, 4))
    return forward_backward(ns["linear_forward"], ns["linear_backward"], dout, x, w, b)


def p03_activations(ns, rng):
    x = np.concatenate([3 * rng.normal(size=8), [0.0, 0.0, -800.0, 800.0]]).reshape(3, 4)
    dout = rng.normal(size=x.shape)
    out = []
    for name, kwargs in [("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
                         ("sigmoid", {}), ("tanh", {})]:
        out.append(forward_backward(ns[f"{name}_forward"], ns[f"{name}_backward"], dout, x, **kwargs))
    return out


def p03_mse(ns, rng):
    return [call(ns["mse_loss"], rng.normal(size=shape), rng.normal(size=shape)) for shape in [(4, 3), (5,)]]


def p03_cross_entropy(ns, rng):
    logits = [2 * rng.normal(size=(5, 3)), np.array([[1000.0, 0.0, -1000.0], [-5.0, 3.0, 1.0]]),
              rng.normal(size=(1, 4))]
    labels = [rng.integers(0, 3, 5), np.array([2, 0]), np.array([3])]
    return [call(ns["softmax_cross_entropy"], z, y) for z, y in zip(logits, labels)]


# ---- 04 ----------------------------------------------------------------------------------------
def _mlp_params(rng, sizes, zero_bias=False):
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.normal(size=(fan_out, fan_in))
        params[f"b{i}"] = np.zeros(fan_out) if zero_bias else rng.normal(size=fan_out)
    return params


def _masks(rng, n, sizes, p=0.3):
    return [(rng.random((n, h)) >= p) / (1 - p) for h in sizes[1:-1]]


def p04_mlp(ns, rng):
    out = []
    for sizes, zero_bias, masked in [((4, 3), False, False), ((4, 5, 3), False, False), ((4, 5, 6, 3), True, False),
                                     ((4, 5, 6, 3), False, True)]:
        params, x = _mlp_params(rng, sizes, zero_bias), rng.normal(size=(6, 4))
        x[0] = 0.0  # with zero biases: pre-activations of exactly 0
        masks = _masks(rng, 6, sizes) if masked else None
        out.append(forward_backward(ns["mlp_forward"], ns["mlp_backward"], None, params, x, masks))
    return out


def _sgd_run(step, rng, lrs, **kwargs):
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    history = []
    for lr in lrs:
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        history.append(call(step, params, grads, velocity, lr, **kwargs))
        history.append(copy.deepcopy([params, velocity]))
    return history


def p04_sgd(ns, rng):
    lrs = [0.1, 0.1, 0.02, 0.05]
    return [_sgd_run(ns["sgd_step"], rng, lrs, momentum=0.9, weight_decay=0.01),
            _sgd_run(ns["sgd_step"], rng, lrs), _sgd_run(ns["sgd_step"], rng, lrs, momentum=0.5)]


def p04_train_step(ns, rng):
    sizes = (4, 5, 6, 3)
    params = _mlp_params(rng, sizes)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    out = []
    for lr, masks in [(0.1, None), (0.05, _masks(rng, 6, sizes))]:
        x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
        out.append(call(ns["train_step"], params, velocity, x, y, lr, 0.9, 0.01, masks))
        out.append(copy.deepcopy([params, velocity]))
    return out


def p04_l2(ns, rng):
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=3), "W2": rng.normal(size=(1, 3))}
    return [call(ns["l2_penalty"], params, 0.3), call(ns["l2_penalty"], params, 0.0)]


def p04_dropout(ns, rng):
    u = rng.random((4, 5))
    u[0, :2] = 0.25  # exactly p: kept
    return [call(ns["dropout_mask"], u, 0.25), call(ns["dropout_mask"], u, 0.0), call(ns["dropout_mask"], u, 0.6)]


PROBES = {
    "01.local_derivatives": p01_local, "01.two_layer": p01_two_layer, "01.numerical_gradient": p01_numgrad,
    "02.local_rules": p02_rules, "02.backward": p02_backward, "02.xor": p02_xor,
    "03.linear": p03_linear, "03.activations": p03_activations, "03.mse": p03_mse,
    "03.cross_entropy": p03_cross_entropy,
    "04.mlp": p04_mlp, "04.sgd": p04_sgd, "04.train_step": p04_train_step, "04.l2_penalty": p04_l2,
    "04.dropout": p04_dropout,
}
