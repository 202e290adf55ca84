"""Probes of notebook 04 (training an MLP). Runs inside the grading sandbox: numpy, the standard
library and `backprop_lab.coursekit.checking.probes` only.

`sgd_steps` and `train_steps` call a learner's function several times on the SAME dicts (the
functions update `params` and `velocity` in place, like `optimizer.step()`) and return a snapshot
after every call. Nothing here computes an answer: a working implementation in the sandbox could
be found by the learner's code (through `sys.modules`, frames or the probe sources) and copied.
"""
from __future__ import annotations

from backprop_lab.coursekit.checking.probes import lookup, plain, probe


def _snapshot(d):
    return {str(k): plain(v, "params/velocity entry") for k, v in d.items()}


@probe
def forward_scores(ns, forward, args, kwargs):
    """The first element of ``forward(*args, **kwargs)`` (the scores), without the cache."""
    result = lookup(ns, forward)(*args, **(kwargs or {}))
    return plain(result[0] if isinstance(result, tuple) else result, f"{forward}'s scores")


@probe
def sgd_steps(ns, func, params, velocity, steps, momentum, weight_decay):
    """``func(params, step["grads"], velocity, step["lr"], momentum=, weight_decay=)`` per step.

    Returns one {"params": ..., "velocity": ..., "grads": ...} snapshot per step (grads as they are
    after the call: sgd_step must not change them).
    """
    sgd_step = lookup(ns, func)
    out = []
    for step in steps:
        sgd_step(params, step["grads"], velocity, step["lr"], momentum=momentum, weight_decay=weight_decay)
        out.append({"params": _snapshot(params), "velocity": _snapshot(velocity), "grads": _snapshot(step["grads"])})
    return out


@probe
def train_steps(ns, func, params, velocity, batches, lr, momentum, weight_decay):
    """``loss = func(params, velocity, b["x"], b["y"], lr, momentum=, weight_decay=, masks=b["masks"])``
    per batch; returns one {"loss": ..., "params": ...} snapshot per batch. The learner's
    `train_step` runs with the learner's own pieces: no working code ever sits in the sandbox."""
    train_step = lookup(ns, func)
    out = []
    for b in batches:
        loss = train_step(params, velocity, b["x"], b["y"], lr, momentum=momentum,
                          weight_decay=weight_decay, masks=b.get("masks"))
        out.append({"loss": plain(loss, f"{func}'s returned loss"), "params": _snapshot(params)})
    return out
