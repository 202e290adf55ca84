"""Known slips of notebook 04's exercises, reproduced on the checker's inputs ("mutants", see
`_mutants`), with their diagnosis codes.

Params are dicts {"W1": (H1, D), "b1": (H1,), ..., "WL": (C, H), "bL": (C,)}; everything is plain numpy.
"""
from __future__ import annotations

import numpy as np

from ..checking.diagnoses import register as diagnosis

RELU_ZERO = diagnosis("04.relu-grad-at-zero", "the MLP's ReLU passes the gradient at a pre-activation of exactly "
                                              "0 (z >= 0 instead of z > 0)")
RELU_SCORES = diagnosis("04.relu-on-scores", "a ReLU after the last layer: the scores must be the raw logits")
MASK_BACKWARD = diagnosis("04.dropout-mask-missing-backward", "the dropout mask is applied in the forward pass "
                                                              "but not to the gradient in the backward pass")
MASK_FORWARD = diagnosis("04.dropout-mask-missing-forward", "the dropout mask is not applied in the forward pass")
FIXED_DEPTH = diagnosis("04.mlp-fixed-depth", "the MLP is written for two layers only, not len(params) // 2")
NOT_IN_PLACE = diagnosis("04.sgd-not-in-place", "sgd_step makes new arrays or a new dict instead of updating the "
                                                "caller's params in place")
SUTSKEVER = diagnosis("04.sgd-sutskever", "momentum in Sutskever's form (v = mu v - lr g; p += v), not torch's")
LR_IN_V = diagnosis("04.sgd-lr-in-velocity", "the velocity holds lr * g (v = mu v + lr g): torch keeps lr out of it")
WD_IGNORED = diagnosis("04.sgd-weight-decay-ignored", "sgd_step ignores weight_decay")
WD_AFTER = diagnosis("04.sgd-weight-decay-after-momentum", "weight decay applied to the step after the momentum "
                                                           "update instead of to the gradient before it")
V_NOT_STORED = diagnosis("04.sgd-velocity-not-stored", "the new velocity is computed but not written back into "
                                                       "velocity[k]")
EMA = diagnosis("04.sgd-ema-velocity", "the velocity is an average, mu v + (1 - mu) g, instead of torch's sum mu v + g")
MOMENTUM_UNUSED = diagnosis("04.sgd-momentum-unused", "the velocity is updated but the step uses the gradient")
CHANGES_GRADS = diagnosis("04.sgd-changes-grads", "sgd_step changes the caller's grads in place (g += ...)")
LOSS_AFTER = diagnosis("04.train-loss-after-update", "train_step returns the loss after the update")
NO_UPDATE = diagnosis("04.train-no-update", "train_step never calls sgd_step: the params do not change")
WD_NOT_PASSED = diagnosis("04.train-weight-decay-not-passed", "train_step does not pass weight_decay to sgd_step")
MU_NOT_PASSED = diagnosis("04.train-momentum-not-passed", "train_step does not pass momentum to sgd_step")
ARGS_SWAPPED = diagnosis("04.train-args-swapped", "train_step passes momentum and weight_decay in the wrong order")
MASKS_NOT_PASSED = diagnosis("04.train-masks-not-passed", "train_step does not pass the dropout masks to mlp_forward")
L2_HALF = diagnosis("04.l2-missing-half", "the L2 penalty lacks the 1/2: it is (weight_decay / 2) * sum(w**2)")
L2_TWICE = diagnosis("04.l2-grad-factor-2", "the L2 gradient is 2 * weight_decay * w instead of weight_decay * w")
L2_LAMBDA = diagnosis("04.l2-grad-missing-lambda", "the L2 gradient lacks the factor weight_decay (λ)")
L2_BIAS = diagnosis("04.l2-biases-skipped", "the L2 penalty skips the biases (it applies to every array passed)")
L2_LAST = diagnosis("04.l2-only-last-array", "the L2 penalty is overwritten in the loop (= instead of +=): only "
                                             "the last array counts")
DROP_SCALE = diagnosis("04.dropout-not-scaled", "the dropout mask keeps units at 1 instead of 1 / (1 - p)")
DROP_KEEP_P = diagnosis("04.dropout-keeps-with-p", "p used as the probability of KEEPING a unit")
DROP_BY_P = diagnosis("04.dropout-scaled-by-p", "kept units divided by p instead of 1 - p")
DROP_OWN_RANDOM = diagnosis("04.dropout-ignores-u", "the mask is drawn from new random numbers instead of the u given")
MLP_SHAPES = diagnosis("04.mlp-shape-mismatch", "a matrix product of the MLP's backward pass has its factors in the "
                                                "wrong order or transposed (shapes do not match)")
FIRST_LAYER = diagnosis("04.mlp-first-layer-skipped", "the backward loop stops one layer early: every layer's "
                                                     "gradient is right but the first layer's (W1, b1) is missing")
DROP_TIMES = diagnosis("04.dropout-multiplied", "kept units multiplied by (1 - p) instead of divided")
DROP_BOUNDARY = diagnosis("04.dropout-drops-u-equal-p", "a unit whose u is exactly p is dropped (u > p instead of "
                                                        "u >= p)")


def mlp_variant(params, x, dout, masks=None, mask_forward=True, mask_backward=True, zero_passes=False, depth=None):
    """(scores, grads) of the ReLU MLP with a slip: masks left out of one pass, relu'(0) = 1, or only
    the first `depth` layers (then grads is None when the scores' width differs from dout's)."""
    n_layers = len(params) // 2 if depth is None else depth
    inputs, pre, a = [], [], x
    for i in range(1, n_layers + 1):
        inputs.append(a)
        z = a @ params[f"W{i}"].T + params[f"b{i}"]
        if i < n_layers:
            pre.append(z)
            a = np.maximum(z, 0) * (masks[i - 1] if masks is not None and mask_forward else 1.0)
    if np.shape(dout) != np.shape(z):  # only the first layers (depth): the scores have another width
        return z, None
    grads, dz = {}, dout
    for i in range(n_layers, 0, -1):
        grads[f"W{i}"], grads[f"b{i}"] = dz.T @ inputs[i - 1], dz.sum(axis=0)
        if i > 1:
            da = dz @ params[f"W{i}"] * (masks[i - 2] if masks is not None and mask_backward else 1.0)
            dz = da * ((pre[i - 2] >= 0) if zero_passes else (pre[i - 2] > 0))
    return z, grads


def mlp_mutants(params, x, dout, masks):
    """[(code, (scores, grads) or a callable, sentence)] for the MLP exercise on these inputs."""
    out = [(RELU_ZERO, lambda: mlp_variant(params, x, dout, masks, zero_passes=True),
            "your ReLU passes the gradient where the pre-activation is exactly 0; torch (and the reference) use "
            "relu'(0) = 0: mask with z > 0, not z >= 0."),
           (RELU_SCORES, lambda: (np.maximum(mlp_variant(params, x, dout, masks)[0], 0), None),
            "the scores went through a ReLU: the last layer has no activation (its outputs are the logits, "
            "negative ones included).")]
    if masks is not None:
        out += [(MASK_BACKWARD, lambda: mlp_variant(params, x, dout, masks, mask_backward=False),
                 "the forward pass is right but the gradient ignores the dropout mask: in the backward pass, "
                 "multiply da by the same masks[l - 1] before the ReLU's mask."),
                (MASK_FORWARD, lambda: mlp_variant(params, x, dout, masks, mask_forward=False),
                 "the scores ignore the dropout masks: multiply hidden activation l by masks[l - 1] right after "
                 "its ReLU (and the gradient by the same mask on the way back).")]
    if len(params) // 2 > 2:
        out.append((FIXED_DEPTH, lambda: mlp_variant(params, x, dout, masks, depth=2),
                    f"only the first two layers were used, but params has {len(params) // 2}: loop over "
                    "range(1, len(params) // 2 + 1) layers, with a ReLU after every layer but the last."))
    return out


def first_layer_skipped(got, ref, keys):
    """(code, sentence) when the dict `got` has every gradient in `keys` right except layer 1's, which is
    missing or zero (a backward loop that stops one layer early); None otherwise."""
    first = [k for k in keys if k in ("W1", "b1")]
    rest = [k for k in keys if k not in first]
    if not (isinstance(got, dict) and first and rest) or not all(np.any(ref[k]) for k in first):
        return None
    try:
        if not all(k not in got or not np.any(np.asarray(got[k], dtype=float)) for k in first):
            return None
        if not all(k in got and np.shape(got[k]) == np.shape(ref[k]) and np.allclose(got[k], ref[k], rtol=1e-7,
                                                                                   atol=1e-10) for k in rest):
            return None
    except (TypeError, ValueError):
        return None
    return FIRST_LAYER, ("every gradient is right except the first layer's (W1, b1), which is missing: the backward "
                         "loop stops one layer early. Run it down to layer 1, range(n_layers, 0, -1), and skip only "
                         "the da of the input (i > 1).")


def sgd_run(params, steps, mu, wd, kind="torch"):
    """Snapshots {"params", "velocity"} after every step of an SGD written with the slip `kind`."""
    p = {k: np.array(v, dtype=float) for k, v in params.items()}
    v = {k: np.zeros_like(a) for k, a in p.items()}
    out = []
    for step in steps:
        lr = step["lr"]
        for k in p:
            g = step["grads"][k]
            if kind == "sutskever":
                v[k] = mu * v[k] - lr * (g + wd * p[k])
                p[k] = p[k] + v[k]
            elif kind == "lr_in_velocity":
                v[k] = mu * v[k] + lr * (g + wd * p[k])
                p[k] = p[k] - v[k]
            elif kind == "wd_after":
                v[k] = mu * v[k] + g
                p[k] = p[k] - lr * (v[k] + wd * p[k])
            elif kind == "velocity_not_stored":
                p[k] = p[k] - lr * (mu * v[k] + g + wd * p[k])
            elif kind == "ema":
                v[k] = mu * v[k] + (1 - mu) * (g + wd * p[k])
                p[k] = p[k] - lr * v[k]
            elif kind == "momentum_unused":
                v[k] = mu * v[k] + g + wd * p[k]
                p[k] = p[k] - lr * (g + wd * p[k])
            else:
                v[k] = mu * v[k] + g + (0.0 if kind == "wd_ignored" else wd) * p[k]
                p[k] = p[k] - lr * v[k]
        out.append({"params": {k: a.copy() for k, a in p.items()}, "velocity": {k: a.copy() for k, a in v.items()}})
    return out


SGD_SLIPS = [
    ("sutskever", SUTSKEVER, "this is the Sutskever form (v = mu v - lr g; p += v). torch keeps v = mu v + g and "
                             "applies p -= lr v, so a change of lr rescales the whole velocity at once."),
    ("lr_in_velocity", LR_IN_V, "your velocity is lr times torch's momentum_buffer: keep lr out of it (v = mu v + g) "
                                "and multiply by lr only in the update p -= lr v."),
    ("wd_ignored", WD_IGNORED, "weight_decay was ignored: add weight_decay * p to the gradient before the momentum "
                               "update."),
    ("wd_after", WD_AFTER, "weight decay was added to the step after the momentum update; torch adds it to the "
                           "GRADIENT first (g = grads[k] + weight_decay * p), so it also enters the velocity."),
    ("velocity_not_stored", V_NOT_STORED, "the velocity never changes: write the new value back "
                                          "(velocity[k] = momentum * velocity[k] + g), the caller keeps the dict."),
    ("ema", EMA, "your velocity is an exponential average, v = mu v + (1 - mu) g; torch's momentum SUMS, "
                 "v = mu v + g (no 1 - mu), so a steady gradient builds a step 1 / (1 - mu) times larger."),
    ("momentum_unused", MOMENTUM_UNUSED, "the velocity is right but the step uses the plain gradient: update with "
                                         "p -= lr * velocity[k]."),
]


def l2_mutants(params, wd):
    """{"penalty" | "grads": [(code, value, sentence)]}; grads values are dicts like params."""
    sq = {k: float(np.sum(np.asarray(p) ** 2)) for k, p in params.items()}
    weights = [k for k in params if k.startswith("W")]
    skip = "every array you pass in counts, biases included (like torch's weight_decay)."
    return {"penalty": [(L2_HALF, wd * sum(sq.values()), "the penalty is twice the expected value: it is "
                         "(weight_decay / 2) * sum(w**2), so that its gradient is exactly weight_decay * w."),
                        (L2_BIAS, 0.5 * wd * sum(sq[k] for k in weights), f"the biases are missing: {skip}"),
                        (L2_LAST, 0.5 * wd * sq[list(params)[-1]], "only the last array counted: the loop assigns "
                         "(penalty = ...) instead of adding (penalty += ...).")],
            "grads": [(L2_TWICE, {k: 2 * wd * p for k, p in params.items()}, "the gradient of (λ/2) w**2 is λ w, "
                       "not 2 λ w: the 1/2 cancels the 2."),
                      (L2_LAMBDA, {k: np.asarray(p, dtype=float) for k, p in params.items()},
                       "the gradient is missing the factor weight_decay (λ): it is weight_decay * w."),
                      (L2_BIAS, {k: wd * p if k in weights else 0 * p for k, p in params.items()},
                       f"the biases' gradients are 0: {skip}")]}


def dropout_mutants(u, p):
    """[(code, value, sentence)] for dropout_mask(u, p)."""
    keep = (u >= p).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [(DROP_SCALE, keep, "the kept units are not scaled: inverted dropout divides them by (1 - p), so "
                                   "the expected activation is unchanged and evaluation needs no rescaling."),
                (DROP_KEEP_P, (u < p) / (1 - p), "p is the probability of DROPPING a unit (torch's convention): keep "
                                                 "it where u >= p."),
                (DROP_KEEP_P, (u < p) / p, "p is the probability of DROPPING a unit (torch's convention): keep it "
                                           "where u >= p, and divide by (1 - p)."),
                (DROP_BY_P, keep / p, "divide the kept units by (1 - p), the probability of keeping them, not by p."),
                (DROP_TIMES, keep * (1 - p), "DIVIDE the kept units by (1 - p) (inverted dropout); multiplying makes "
                                             "the expected activation (1 - p)**2 instead of 1."),
                (DROP_BOUNDARY, (u > p) / (1 - p), "a unit whose u is exactly p must be KEPT: the rule is u >= p "
                                                   "(keep) and u < p (drop), so P(keep) = 1 - p; you wrote u > p."),
                (DROP_BOUNDARY, (u > p) * 1.0, "a unit whose u is exactly p must be KEPT (u >= p, not u > p), and "
                                               "the kept units are divided by (1 - p).")]
