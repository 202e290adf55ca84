"""Notebook 06's batch normalization checks (exercises 6.2 and 6.3), with the known wrong answers that
name a bug: what a learner who made that slip returns, computed on the same batch.

Every check compares with `backprop_lab.functional.batchnorm_*` AND `torch.nn.functional.batch_norm`
in float64. Shape letters: N batch, D features.
"""
from __future__ import annotations

import numpy as np

from backprop_lab import functional as F
from backprop_lab.gradcheck import CheckResult

from ..checking.diagnoses import register as code
from ._common import compare, explain, malformed, torch_grads
from ._common import size as _size


def pair_or_malformed(got, name, first, second):
    """None when `got` is a pair, else a failure saying what `name` must return."""
    if isinstance(got, list) and len(got) == 2:
        return None
    return malformed(name, f"{name} must return a pair ({first}, {second}); got {type(got).__name__}.")


FIXED_BN = lambda rng: (4, 3)
RANDOM_BN = lambda rng: (_size(rng, 3, 12), _size(rng, 1, 7))
ALL_BN = ("out", "x", "gamma", "beta")


def _batch(rng, N, D, scale=2.0, shift=1.0):
    x = scale * rng.standard_normal((N, D)) + shift * rng.standard_normal(D)
    return x, rng.standard_normal(D) + 1.0, rng.standard_normal(D)


def batchnorm_train(which, shape, eps=1e-5, scale=2.0):
    def run(runner, rng):
        from torch.nn import functional as tF
        N, D = shape(rng)
        x, gamma, beta = _batch(rng, N, D, scale)
        dout = rng.standard_normal((N, D))
        out, cache = F.batchnorm_forward(x, gamma, beta, None, None, training=True, eps=eps)
        dx, dgamma, dbeta = F.batchnorm_backward(dout, cache)
        t_out, tg = torch_grads(lambda x, gamma, beta: tF.batch_norm(x, None, None, gamma, beta, True, 0.1, eps),
                                {"x": x, "gamma": gamma, "beta": beta}, ["x", "gamma", "beta"], dout)
        got = runner.call("forward_backward", forward="batchnorm_forward", backward="batchnorm_backward",
                          args=[x, gamma, beta], kwargs={"eps": eps}, dout=dout)
        grads = got["grads"]
        if not (isinstance(grads, list) and len(grads) == 3):
            return malformed("batchnorm_backward's result", "batchnorm_backward must return (dx, dgamma, dbeta).")
        known = _bn_known(x, gamma, beta, dout, eps)
        pairs = {"out": (got["out"], out, t_out), "x": (grads[0], dx, tg["x"]),
                 "gamma": (grads[1], dgamma, tg["gamma"]), "beta": (grads[2], dbeta, tg["beta"])}
        results = []
        for key in which:
            cand, ref, tor = pairs[key]
            name = "out" if key == "out" else f"d{key}"
            results.append(explain(compare(cand, name, ref, tor, batch_size=N), cand, ref, known[key]))
        return results
    return run


BN_CODES = {k: code(f"06.bn-{k}", meaning) for k, meaning in {
    "unbiased-variance": "batchnorm normalized with the unbiased variance (ddof=1)",
    "eps-outside-sqrt": "eps is added outside the square root of the variance",
    "backward-without-eps": "the backward pass uses 1/sqrt(var) without the eps of the forward pass",
    "dx-stats-as-constants": "dx treats the batch mean and variance as constants",
    "dx-missing-variance-term": "dx lacks the term that flows through the batch variance",
    "dx-missing-mean-term": "dx lacks the term that flows through the batch mean",
    "dx-missing-gamma": "dx lacks the factor gamma",
    "dgamma-missing-xhat": "dgamma sums dout without multiplying by xhat",
    "stats-wrong-axis": "the batch mean and variance are taken over the wrong axis (per example, or over the "
                        "whole array) instead of per feature over the batch (axis 0)"}.items()}
TRAINING_DX = "dx = inv_std / N * (N*dxhat - sum(dxhat) - xhat*sum(dxhat*xhat)), with dxhat = dout*gamma."


def _bn_dx(dout, gamma, xhat, inv):
    """Training-mode dx from xhat and inv_std (the compact formula)."""
    g, N = dout * gamma, len(dout)
    return inv / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))


def _wrong_axis(x, gamma, dout, eps):
    """[(out, dx, dgamma, sentence)] of a forward pass whose statistics are taken per example (axis 1) or over
    the whole array; dx and dgamma both from the solution's backward fed that forward's cache and from a
    backward that sums over the same wrong axis."""
    per_feature = "the statistics of batch norm are per feature, over the batch: mean = x.mean(axis=0), " \
                  "var = x.var(axis=0), each of shape (D,), and the backward pass sums over axis 0 too."
    out = []
    for axis, what in ((1, "you took the mean and variance of each example over its features (axis=1), which "
                           "is layer norm; "), (None, "you took one mean and variance over the whole array (no "
                                                      "axis); ")):
        mu, var = x.mean(axis=axis, keepdims=True), x.var(axis=axis, keepdims=True)
        inv = 1 / np.sqrt(var + eps)
        xhat, g = (x - mu) * inv, dout * gamma
        n = x.shape[1] if axis == 1 else x.size
        dxs = [inv / len(x) * (len(x) * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0)),
               inv / n * (n * g - g.sum(axis=axis, keepdims=True) - xhat * (g * xhat).sum(axis=axis, keepdims=True))]
        out.append((gamma * xhat, dxs, (dout * xhat).sum(axis=0), what + per_feature))
    return out


def _bn_known(x, gamma, beta, dout, eps):
    """Known wrong answers for out, dx, dgamma, dbeta: (value, code, sentence), what a learner who made
    that slip returns."""
    mu, var = x.mean(axis=0), x.var(axis=0)
    inv, xhat = 1 / np.sqrt(var + eps), (x - mu) / np.sqrt(var + eps)
    g = dout * gamma
    c = BN_CODES
    axes = _wrong_axis(x, gamma, dout, eps)
    return {
        "out": [(gamma * (x - mu) / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta, c["unbiased-variance"],
                 "you normalized with the unbiased variance (ddof=1); batchnorm divides by N, the biased one."),
                (gamma * (x - mu) / (np.sqrt(var) + eps) + beta, c["eps-outside-sqrt"],
                 "eps belongs inside the square root: xhat = (x - mean) / sqrt(var + eps).")]
               + [(o + beta, c["stats-wrong-axis"], t) for o, _, _, t in axes],
        "x": [(g * inv, c["dx-stats-as-constants"], "you treated the batch mean and variance as constants. In "
               "training mode both depend on every x of the batch: " + TRAINING_DX),
              (inv * (g - g.mean(axis=0)), c["dx-missing-variance-term"],
               "the term through the variance is missing: subtract xhat * mean(dxhat * xhat) too."),
              (inv * (g - xhat * (g * xhat).mean(axis=0)), c["dx-missing-mean-term"],
               "the term through the mean is missing: subtract mean(dxhat) too."),
              (_bn_dx(dout, np.ones_like(gamma), xhat, inv), c["dx-missing-gamma"],
               "gamma is missing from dx: dxhat = dout * gamma."),
              (_bn_dx(dout, gamma, xhat, 1 / np.sqrt(var)), c["backward-without-eps"],
               "the backward pass divides by sqrt(var) without eps; use the same inv_std = 1/sqrt(var + eps) as the "
               "forward pass (keep it in the cache).")]
             + [(dx, c["stats-wrong-axis"], t) for _, dxs, _, t in axes for dx in dxs],
        "gamma": [(dout.sum(axis=0), c["dgamma-missing-xhat"], "dgamma = sum over N of dout * xhat (you summed dout "
                   "alone).")] + [(dg, c["stats-wrong-axis"], t) for _, _, dg, t in axes],
        "beta": [],
    }



# ----------------------------------------------------------------------------- 6.3 eval mode, running stats


def batchnorm_eval(which, shape):
    def run(runner, rng):
        from torch.nn import functional as tF
        N, D = shape(rng)
        x, gamma, beta = _batch(rng, N, D, scale=3.0, shift=2.0)
        rm, rv = rng.standard_normal(D), rng.uniform(0.3, 3.0, D)  # far from the batch's own statistics
        dout = rng.standard_normal((N, D))
        out, cache = F.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training=False)
        dx, dgamma, dbeta = F.batchnorm_backward(dout, cache)
        t_out, tg = torch_grads(lambda x, gamma, beta, rm, rv: tF.batch_norm(x, rm, rv, gamma, beta, False),
                                {"x": x, "gamma": gamma, "beta": beta, "rm": rm, "rv": rv},
                                ["x", "gamma", "beta"], dout)
        got = runner.call("forward_backward", forward="batchnorm_eval_forward", backward="batchnorm_eval_backward",
                          args=[x, gamma, beta, rm, rv], kwargs={}, dout=dout)
        grads = got["grads"]
        if not (isinstance(grads, list) and len(grads) == 3):
            return malformed("batchnorm_eval_backward's result", "it must return (dx, dgamma, dbeta).")
        eps, inv = 1e-5, 1 / np.sqrt(rv + 1e-5)
        known_out = [(gamma * (x - rm) / np.sqrt(rv) + beta, EVAL_EPS, "eps belongs inside the square root in eval "
                      "mode too: xhat = (x - running_mean) / sqrt(running_var + eps).")]
        if N > 1:
            batch_out, _ = F.batchnorm_forward(x, gamma, beta, None, None, training=True, eps=eps)
            known_out.append((batch_out, EVAL_BATCH, "you normalized with the batch's own mean and variance; in eval "
                              "mode use running_mean and running_var (the layer is then a fixed affine map)."))
        known_dx = [(_bn_dx(dout, gamma, (x - rm) * inv, inv), EVAL_TERMS, "this is the training-mode dx, with the "
                     "terms through the batch mean and variance. In eval mode the statistics are constants: "
                     "dx = dout * gamma / sqrt(running_var + eps).")]
        pairs = {"out": (got["out"], out, t_out, known_out), "x": (grads[0], dx, tg["x"], known_dx),
                 "gamma": (grads[1], dgamma, tg["gamma"], []), "beta": (grads[2], dbeta, tg["beta"], [])}
        return [explain(compare(cand, "out" if k == "out" else f"d{k}", ref, tor, batch_size=N), cand, ref, known)
                for k in which for cand, ref, tor, known in [pairs[k]]]
    return run


EVAL_EPS = code("06.bn-eval-eps", "eval mode divides by sqrt(running_var) without eps")
EVAL_BATCH = code("06.bn-eval-uses-batch-stats", "eval mode normalizes with the batch's statistics")
EVAL_TERMS = code("06.bn-eval-backward-batch-terms", "eval mode's dx has the training-mode terms through the batch "
                  "statistics")
MOMENTUM_SWAPPED = code("06.bn-running-momentum-swapped", "the running statistics keep momentum of the old value "
                        "instead of 1 − momentum")
RUNNING_IN_PLACE = code("06.bn-running-in-place", "update_running_stats changes the running_mean / running_var "
                        "passed in, in place, instead of returning new arrays")
RUNNING_BIASED = code("06.bn-running-var-biased", "running_var stores the biased batch variance (torch stores the "
                      "unbiased one)")


def running_stats(fixed):
    def run(runner, rng):
        import torch
        from torch.nn import functional as tF
        N, D = (4, 3) if fixed else (_size(rng, 2, 10), _size(rng, 1, 6))
        momentum = 0.1 if fixed else float(rng.choice([0.05, 0.2, 0.3]))  # not 0.5: swapped weights would pass
        x = 2.0 * rng.standard_normal((N, D)) + rng.standard_normal(D)
        rm, rv = rng.standard_normal(D), rng.uniform(0.5, 2.0, D)
        ref_m, ref_v = rm.copy(), rv.copy()
        F.batchnorm_forward(x, np.ones(D), np.zeros(D), ref_m, ref_v, training=True, momentum=momentum)
        tm, tv = torch.tensor(rm), torch.tensor(rv)
        tF.batch_norm(torch.tensor(x), tm, tv, None, None, True, momentum)
        watched = runner.call("call_watching_args", func="update_running_stats", args=[rm, rv, x],
                              kwargs={"momentum": momentum})
        got = watched["result"]
        bad = pair_or_malformed(got, "update_running_stats(...)", "running_mean", "running_var")
        if bad:
            return bad
        mu, var = x.mean(axis=0), x.var(axis=0)
        swapped = ("the weights are swapped: torch's momentum is the weight of the NEW batch statistic, "
                   "new = (1 - momentum) * old + momentum * batch statistic.")
        known_m = [(momentum * rm + (1 - momentum) * mu, MOMENTUM_SWAPPED, swapped)]
        unbiased = ("torch keeps the UNBIASED batch variance in running_var (divide by N - 1), though it "
                    "normalizes with the biased one.")
        known_v = [((1 - momentum) * rv + momentum * var, RUNNING_BIASED, unbiased),
                   (momentum * rv + (1 - momentum) * var * N / (N - 1), MOMENTUM_SWAPPED, swapped),
                   (momentum * rv + (1 - momentum) * var, MOMENTUM_SWAPPED, swapped)]
        return [explain(compare(got[0], "running_mean", ref_m, tm.numpy()), got[0], ref_m, known_m),
                explain(compare(got[1], "running_var", ref_v, tv.numpy()), got[1], ref_v, known_v),
                untouched("update_running_stats", watched["changed"], {"args[0]": "running_mean",
                                                                         "args[1]": "running_var", "args[2]": "x"},
                          RUNNING_IN_PLACE, "compute new arrays, new_mean = (1 - momentum) * running_mean + ..., "
                          "and return them; the caller keeps the old ones.")]
    return run


def untouched(func, changed, names, bug_code, fix):
    """One result: `func` changed none of its arguments in place (`changed`: the probe's labels)."""
    what = f"{func} leaves its arguments unchanged"
    if not changed:
        return CheckResult(what, True, 0.0, against="the arguments before the call")
    shown = ", ".join(names.get(c, c) for c in changed)
    return CheckResult(what, False, np.inf, against="the arguments before the call", code=bug_code,
                       diagnosis=f"{func} changed {shown} in place (an `*=`, `+=` or `[...] =` on an argument): {fix}")
