"""Probes of notebook 04 (training an MLP). Runs inside the grading sandbox: numpy, the standard
library and `backprop_lab.checking.probes` only.

`sgd_steps` and `train_steps` call a learner's function several times on the SAME dicts (the
functions update `params` and `velocity` in place, like `optimizer.step()`) and return a snapshot
after every call. With ``isolate=True``, `train_steps` swaps known-good `mlp_forward`,
`mlp_backward`, `sgd_step` and `softmax_cross_entropy` into the namespace while it runs, so that
`train_step` is graded on its own logic, not on the exercises it builds on.
"""
from __future__ import annotations

import numpy as np

from backprop_lab.checking.probes import lookup, plain, probe


def _snapshot(d):
    return {str(k): plain(v, "params/velocity entry") for k, v in d.items()}


@probe
def sgd_steps(ns, func, params, velocity, steps, momentum, weight_decay):
    """``func(params, step["grads"], velocity, step["lr"], momentum=, weight_decay=)`` per step.

    Returns one {"params": ..., "velocity": ...} snapshot per step.
    """
    sgd_step = lookup(ns, func)
    out = []
    for step in steps:
        sgd_step(params, step["grads"], velocity, step["lr"], momentum=momentum, weight_decay=weight_decay)
        out.append({"params": _snapshot(params), "velocity": _snapshot(velocity)})
    return out


# ---- known-good pieces for `train_steps(isolate=True)` (same contracts as the exercises) ----

def _mlp_forward(params, x, masks=None):
    n_layers = len(params) // 2
    inputs, pre, a = [], [], x
    for i in range(1, n_layers + 1):
        inputs.append(a)
        z = a @ params[f"W{i}"].T + params[f"b{i}"]
        if i < n_layers:
            pre.append(z)
            a = np.maximum(z, 0) * (1.0 if masks is None else masks[i - 1])
    return z, (params, inputs, pre, masks)


def _mlp_backward(dscores, cache):
    params, inputs, pre, masks = cache
    grads, dz = {}, dscores
    for i in range(len(inputs), 0, -1):
        grads[f"W{i}"] = dz.T @ inputs[i - 1]
        grads[f"b{i}"] = dz.sum(axis=0)
        if i > 1:
            da = (dz @ params[f"W{i}"]) * (1.0 if masks is None else masks[i - 2])
            dz = da * (pre[i - 2] > 0)
    return grads


def _sgd_step(params, grads, velocity, lr, momentum=0.0, weight_decay=0.0):
    for k in params:
        velocity[k] = momentum * velocity[k] + grads[k] + weight_decay * params[k]
        params[k] -= lr * velocity[k]


def _softmax_cross_entropy(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    return float(-log_probs[rows, y].mean()), dscores / len(y)


PIECES = {"mlp_forward": _mlp_forward, "mlp_backward": _mlp_backward, "sgd_step": _sgd_step,
          "softmax_cross_entropy": _softmax_cross_entropy}
_MISSING = object()


@probe
def train_steps(ns, func, params, velocity, batches, lr, momentum, weight_decay, isolate=True):
    """``loss = func(params, velocity, b["x"], b["y"], lr, momentum=, weight_decay=, masks=b["masks"])``
    per batch; returns one {"loss": ..., "params": ...} snapshot per batch."""
    train_step = lookup(ns, func)
    saved = {name: ns.get(name, _MISSING) for name in PIECES} if isolate else {}
    try:
        if isolate:
            ns.update(PIECES)
        out = []
        for b in batches:
            loss = train_step(params, velocity, b["x"], b["y"], lr, momentum=momentum,
                              weight_decay=weight_decay, masks=b.get("masks"))
            out.append({"loss": plain(loss, f"{func}'s returned loss"), "params": _snapshot(params)})
        return out
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                ns.pop(name, None)
            else:
                ns[name] = value
