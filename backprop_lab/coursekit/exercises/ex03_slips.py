"""Known slips of notebook 03's exercises, reproduced on the checker's inputs ("mutants", see
`_mutants`), with their diagnosis codes: the value each slip would give for every compared output.

`layer_mutants(op, inputs, kwargs, dout)` -> {"out" | input name: [(code, value, sentence)]};
`ce_mutants(logits, labels)` -> {"loss" | "dlogits": [...]}; `ce_stability(...)` names a loss that
is not finite (no max subtracted, the max of the whole array, the log of an underflowed probability).
"""
from __future__ import annotations

import numpy as np

from ..checking.diagnoses import register as diagnosis

RELU_ZERO = diagnosis("03.relu-grad-at-zero", "the gradient at exactly x = 0 differs from torch's (relu'(0) = 0, "
                                              "leaky_relu'(0) = negative_slope): x >= 0 written for x > 0")
MISSING_DOUT = diagnosis("03.activation-missing-dout", "an activation's backward returns f'(x) without "
                                                       "multiplying by dout")
RELU_VALUE = diagnosis("03.relu-backward-uses-value", "relu's backward multiplies dout by relu(x) instead of the "
                                                      "0/1 mask")
LEAKY_SLOPE = diagnosis("03.leaky-slope-ignored", "leaky_relu uses a fixed slope (0.01) instead of negative_slope")
LEAKY_DEFAULT = diagnosis("03.leaky-default-slope", "leaky_relu's default negative_slope is not torch's 0.01")
LEAKY_AS_RELU = diagnosis("03.leaky-backward-is-relu", "leaky_relu's backward is relu's: no gradient on the "
                                                       "negative side, where it must pass negative_slope·dout")
SIG_INPUT = diagnosis("03.sigmoid-backward-uses-input", "sigmoid's backward uses the input x instead of the output "
                                                        "s: x (1 - x) instead of s (1 - s)")
TANH_INPUT = diagnosis("03.tanh-backward-uses-input", "tanh's backward uses the input x instead of the output t: "
                                                      "1 - x**2 instead of 1 - t**2")
TANH_SQUARE = diagnosis("03.tanh-not-squared", "tanh's backward uses 1 - t instead of 1 - t**2")
SIG_OVERFLOW = diagnosis("03.sigmoid-overflow", "a naive sigmoid overflows in exp for large |x|")
MISSING_BIAS = diagnosis("03.linear-missing-bias", "linear_forward leaves out the bias")
BIAS_AXIS = diagnosis("03.bias-summed-over-wrong-axis", "dbias summed over the features (axis 1) or over "
                                                        "everything instead of over the batch (axis 0)")
LINEAR_SHAPES = diagnosis("03.linear-shape-mismatch", "a matrix product of the linear layer has its factors "
                                                      "in the wrong order or transposed (shapes do not match)")
MSE_SIZE = diagnosis("03.mse-not-averaged", "mse's gradient (or loss) is not divided by pred.size")
MSE_BATCH = diagnosis("03.mse-mean-over-batch-only", "mse averaged over the batch N only, not over all N*D "
                                                     "elements")
CE_NO_MAX = diagnosis("03.ce-no-max-subtraction", "softmax without subtracting the row maximum: exp overflows")
CE_GLOBAL_MAX = diagnosis("03.ce-global-max", "the maximum of the whole array subtracted instead of each row's")
CE_UNDERFLOW = diagnosis("03.ce-log-underflow", "the log of a probability that underflowed to 0 (log of softmax "
                                                "instead of log-softmax)")
CE_ONEHOT = diagnosis("03.ce-missing-onehot", "dlogits = p / N without subtracting the one-hot labels")
CE_INDEX = diagnosis("03.ce-onehot-indexing", "the one-hot subtracted with [:, labels] (every row, every label "
                                              "column) instead of [np.arange(N), labels]")
KEEPDIMS = diagnosis("03.keepdims", "a row sum or max without keepdims=True: an (N,) array does not divide or "
                                    "subtract row by row from an (N, C) one")
CE_AXIS = diagnosis("03.ce-softmax-wrong-axis", "softmax normalised over the wrong axis (over the batch, or the "
                                                "whole array) instead of over each row's classes")


def layer_mutants(op, inputs, kwargs, dout):
    """{"out" | "x" | "weight" | "bias": [(code, value, sentence)]} for the layer `op` on these inputs."""
    x = inputs["x"]
    if op == "linear":
        w = inputs["weight"]
        square = w.shape[0] == w.shape[1]  # weight used untransposed (or transposed) fits: only values show it
        return {"out": [(MISSING_BIAS, x @ w.T, "out = x @ weight.T + bias: the bias is missing (it is added to "
                                                "every row).")]
                + ([(LINEAR_SHAPES, x @ w + inputs["bias"], "out = x @ weight.T + bias: weight is (M, D), torch's "
                     "layout, so it is transposed in the product (with D = M the shapes cannot tell you).")]
                   if square else []),
                "x": [(LINEAR_SHAPES, dout @ w.T, "dx = dout @ weight, not dout @ weight.T: (N, M) @ (M, D) gives "
                                                  "(N, D) (with D = M the shapes cannot tell you).")] if square else [],
                "bias": [(BIAS_AXIS, dout.sum(axis=1), "dbias was summed over the features (axis 1): b is added "
                                                        "to every ROW, so sum dout over the batch, axis 0."),
                         (BIAS_AXIS, dout.sum(), "dbias was summed over everything: sum dout over the batch only "
                                                 "(axis=0), one number per output feature, shape (M,).")]}
    no_dout = "multiply by dout: the chain rule gives dx = dout * f'(x), not f'(x) alone."
    if op == "relu":
        return {"x": [(RELU_ZERO, dout * (x >= 0), "at x exactly 0 your gradient passes dout; torch and the "
                                                   "reference use relu'(0) = 0: use x > 0, not x >= 0."),
                      (MISSING_DOUT, (x > 0) * 1.0, no_dout),
                      (RELU_VALUE, dout * np.maximum(x, 0), "relu'(x) is 1 where x > 0 and 0 elsewhere: multiply "
                                                            "dout by the mask (x > 0), not by relu(x).")]}
    if op == "leaky_relu":
        a = kwargs.get("negative_slope", 0.01)
        fixed = "negative_slope must come from the argument (and the cache), not a fixed 0.01."
        out = [(LEAKY_SLOPE, np.where(x > 0, x, 0.01 * x), fixed)] if a != 0.01 else []
        if "negative_slope" not in kwargs:  # the default was used: a wrong default shows in every negative entry
            default = ("called without negative_slope, your leaky_relu uses slope {c:g} on the negative side: the "
                       "default is 0.01, as in torch (def leaky_relu_forward(x, negative_slope=0.01)).")
            out += [(LEAKY_DEFAULT, np.where(x > 0, x, c * x), default.format(c=c))
                    for c in (0.1, 0.2, 0.3, 0.0, 0.001)]
        dx = [(LEAKY_AS_RELU, dout * (x > 0), "no gradient flows on the negative side: leaky_relu's slope there is "
                                              "negative_slope, so dx = dout where x > 0 and negative_slope·dout "
                                              "elsewhere (the backward was copied from relu's)."),
              (RELU_ZERO, np.where(x >= 0, dout, a * dout), "at x exactly 0 torch uses the slope: "
                                                            "leaky_relu'(0) = negative_slope; use x > 0, not x >= 0."),
              (MISSING_DOUT, np.where(x > 0, dout, a), no_dout), (MISSING_DOUT, np.where(x > 0, 1.0, a), no_dout)]
        dx += [(LEAKY_SLOPE, np.where(x > 0, dout, 0.01 * dout), fixed)] if a != 0.01 else []
        if "negative_slope" not in kwargs:
            dx += [(LEAKY_DEFAULT, np.where(x > 0, dout, c * dout), default.format(c=c))
                   for c in (0.1, 0.2, 0.3, 0.001)]
        return {"out": out, "x": dx}
    if op == "sigmoid":
        with np.errstate(over="ignore"):
            s = np.exp(-np.logaddexp(0.0, -x))
        return {"x": [(SIG_INPUT, dout * x * (1 - x), "sigmoid'(x) = s (1 - s) with s the OUTPUT: keep s in the "
                                                      "cache and use it, not the input x."),
                      (MISSING_DOUT, s * (1 - s), no_dout)]}
    if op == "tanh":
        t = np.tanh(x)
        return {"x": [(TANH_INPUT, dout * (1 - x * x), "tanh'(x) = 1 - t**2 with t the OUTPUT: keep t in the "
                                                       "cache and use it, not the input x."),
                      (TANH_SQUARE, dout * (1 - t), "square the output: tanh'(x) = 1 - t**2."),
                      (MISSING_DOUT, 1 - t * t, no_dout)]}
    return {}


def _ce(logits, labels, axis=1, shift="row", onehot="rows"):
    """(loss, dlogits) of a softmax cross-entropy with the given slip; nan/inf stay as they come."""
    N = logits.shape[0]
    with np.errstate(all="ignore"):
        m = {"row": logits.max(axis=1, keepdims=True), "all": logits.max(), "col": logits.max(axis=0, keepdims=True),
             "none": 0.0}[shift]
        shifted = logits - m
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=axis is not None))
        rows = np.arange(N)
        loss = -log_probs[rows, labels].mean()
        d = np.exp(log_probs)
        if onehot == "rows":
            d[rows, labels] -= 1
        elif onehot == "columns":
            d[:, labels] -= 1
    return float(loss), d / N


def ce_mutants(logits, labels):
    """{"loss" | "dlogits": [(code, value, sentence)]} for softmax cross-entropy on these inputs."""
    axis = ("softmax normalises each ROW: p[n] = exp(z[n]) / sum over classes of exp(z[n]); sum with axis=1 "
            "(keepdims=True), also for the max you subtract.")
    slips = [(CE_AXIS, lambda: _ce(logits, labels, axis=0, shift="col"), axis),
             (CE_AXIS, lambda: _ce(logits, labels, axis=None), axis),
             (CE_ONEHOT, lambda: _ce(logits, labels, onehot=None), "dlogits = (p - onehot(labels)) / N: subtract 1 "
                                                                   "at each row's label before dividing by N."),
             (CE_INDEX, lambda: _ce(logits, labels, onehot="columns"),
              "dlogits[:, labels] -= 1 subtracts in every row at every label's column: pick one entry per row "
              "with dlogits[np.arange(N), labels] -= 1.")]
    return {"loss": [(c, (lambda f=f: f()[0]), t) for c, f, t in slips],
            "dlogits": [(c, (lambda f=f: f()[1]), t) for c, f, t in slips]}


def ce_stability(logits, labels, loss, dlogits, expected_dlogits):
    """(code, sentence) when the learner's loss or dlogits is not finite and a known cause explains
    it, from which rows go wrong: rows with a logit above 709 (exp overflows unless the row max is
    subtracted), rows far below the array's maximum (the whole array's max was subtracted), or no
    row at all (dlogits right: the log of an underflowed probability)."""
    d = np.asarray(dlogits, dtype=float)
    if np.all(np.isfinite(np.asarray(loss, dtype=float))) and np.all(np.isfinite(d)):
        return None
    if d.shape != np.shape(expected_dlogits):
        return None
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~np.all(np.isfinite(d) & (np.abs(d - expected_dlogits) <= 1e-8), axis=1))
    row_max = logits.max(axis=1)
    if len(bad) == 0:
        return CE_UNDERFLOW, ("the loss is not finite although dlogits is right: some probability underflowed to 0 "
                              "(e.g. exp(-2000)) and log(0) = -inf. Compute log-probabilities directly, "
                              "log_probs = shifted - log(sum(exp(shifted))), not np.log(softmax).")
    if np.any(row_max[bad] > 709):
        return CE_NO_MAX, (f"rows {bad.tolist()} go wrong, rows with logits near 1000: exp(1000) overflows to inf "
                           "(and inf / inf = nan). Subtract each row's maximum before exp (the log-sum-exp trick).")
    if np.all(row_max[bad] < logits.max() - 700):
        return CE_GLOBAL_MAX, (f"rows {bad.tolist()} go wrong, rows whose logits are all far below the largest "
                               "logit of the array: you subtracted the maximum of the whole array, so their "
                               "exp() are all 0 and log(0) = -inf. Subtract each row's own maximum: "
                               "logits.max(axis=1, keepdims=True).")
    return None
