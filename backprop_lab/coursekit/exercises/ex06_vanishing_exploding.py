"""Notebook 06 · vanishing and exploding gradients: initialization scales, batch normalization
(training and eval mode), gradient clipping by global norm.

Every check compares the learner's results with the `backprop_lab` reference AND torch
(`torch.nn.init`, `torch.nn.functional.batch_norm`, `torch.nn.utils.clip_grad_norm_`), all in
float64. When a result is wrong in a way we know (a missing term of the batchnorm backward, a
biased running variance, clipping each array on its own), the diagnosis names it. Shape letters:
N batch, D features, F filters, C channels, KH/KW kernel.
"""
from __future__ import annotations

import numpy as np

from backprop_lab import functional as F
from backprop_lab.gradcheck import rel_error

from ..checking.core import Check, Exercise
from ..checking.registry import register
from ._common import compare, torch_grads
from ._common import malformed as _malformed
from ._common import size as _size


def _explain(result, candidate, known):
    """Replace a failed result's diagnosis when the candidate equals one of the `known` wrong
    answers: a list of (array, sentence)."""
    if result.passed:
        return result
    c = np.asarray(candidate, dtype=np.float64) if candidate is not None else None
    for wrong, sentence in known:
        w = np.asarray(wrong, dtype=np.float64)
        # 1e-5: far below any real slip, above the 1e-6 of torch's "+ 1e-6" guard (clipping)
        if c is not None and c.shape == w.shape and np.all(np.isfinite(c)) and rel_error(c, w) < 1e-5:
            result.diagnosis = sentence
            break
    return result


def _pair(got, name, first, second):
    if isinstance(got, list) and len(got) == 2:
        return None
    return _malformed(name, f"{name} must return a pair ({first}, {second}); got {type(got).__name__}.")


# ----------------------------------------------------------------------------- 6.1 init scales


def _torch_std(fill, shape, seed=0):
    """The std torch's init draws with: fill a float64 tensor, then divide by the standard normal
    draws of the same seed (torch's normal_(0, std) is std * z, so the ratio is std exactly)."""
    import torch
    t = torch.empty(shape, dtype=torch.float64)
    torch.manual_seed(seed)
    fill(t)
    torch.manual_seed(seed)
    z = torch.empty(shape, dtype=torch.float64).normal_(0.0, 1.0)
    return float((t / z).mean())


def _ref_std(fill, shape, seed=0):
    arr = np.empty(shape)
    fill(arr, np.random.default_rng(seed))
    return float((arr / np.random.default_rng(seed).standard_normal(shape)).mean())


def _fans(kind):
    def run(runner, rng):
        import torch

        from backprop_lab.nn.init import calculate_fan_in_and_fan_out
        # out != in and F != C, so that swapped fans never pass; KH >= 2, so that a missing kernel shows
        n = _size(rng, 1, 6)
        shape = {"fixed": lambda: (3, 5), "linear": lambda: tuple(rng.permutation([n, n + _size(rng, 1, 5)])),
                 "conv": lambda: (n + _size(rng, 1, 3), n, _size(rng, 2, 5), _size(rng, 1, 5))}[kind]()
        shape = tuple(int(k) for k in shape)
        got = runner.call("call", func="fans", args=[list(shape)])
        bad = _pair(got, "fans(shape)", "fan_in", "fan_out")
        if bad:
            return bad
        want = calculate_fan_in_and_fan_out(np.empty(shape))
        theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        res = compare(np.asarray(got, dtype=float), f"(fan_in, fan_out) of a weight of shape {shape}",
                      np.array(want, float), np.array(theirs, float))
        known = [((want[1], want[0]), "fan_in and fan_out are swapped: a weight is stored (out, in), like torch, "
                                      "so fan_in comes from shape[1] and fan_out from shape[0].")]
        if kind == "conv":
            known.append(((shape[1], shape[0]), "the kernel is missing: each output of a convolution sums over "
                          f"C * KH * KW inputs, so multiply both fans by KH * KW = {int(np.prod(shape[2:]))}."))
        return _explain(res, got, known)
    return run


def _xavier(fixed):
    def run(runner, rng):
        import torch

        from backprop_lab.nn.init import xavier_normal_
        # distinct fans (else Xavier equals LeCun) and a gain != 1 (else a missing gain passes)
        fan_in, fan_out = (5, 3) if fixed else (int(f) for f in rng.choice(np.arange(2, 301), 2, replace=False))
        gain = 1.0 if fixed else float(rng.choice([5.0 / 3.0, 2 ** 0.5, 0.75]))
        got = runner.call("call", func="xavier_std", args=[fan_in, fan_out], kwargs={"gain": gain})
        shape = (fan_out, fan_in)
        res = compare(got, f"xavier_std({fan_in}, {fan_out}, gain={gain:.4g})",
                      _ref_std(lambda a, r: xavier_normal_(a, gain=gain, rng=r), shape),
                      _torch_std(lambda t: torch.nn.init.xavier_normal_(t, gain=gain), shape))
        return _explain(res, got, [
            (gain * np.sqrt(1 / fan_in), "that is LeCun's 1/sqrt(fan_in); Xavier averages the forward and "
                                         "backward conditions: Var(W) = gain^2 * 2 / (fan_in + fan_out)."),
            (gain ** 2 * 2 / (fan_in + fan_out), "you returned the variance; return its square root, the std."),
            (np.sqrt(2 / (fan_in + fan_out)), "the gain is missing: std = gain * sqrt(2 / (fan_in + fan_out)).")])
    return run


def _he(fixed):
    def run(runner, rng):
        import torch

        from backprop_lab.nn.init import kaiming_normal_
        fan_in, slope = (5, 0.0) if fixed else (_size(rng, 2, 400), float(rng.choice([0.01, 0.1, 0.2, 0.3])))
        got = runner.call("call", func="he_std", args=[fan_in], kwargs={"negative_slope": slope})
        shape = (4, fan_in)
        res = compare(got, f"he_std({fan_in}, negative_slope={slope:g})",
                      _ref_std(lambda a, r: kaiming_normal_(a, a=slope, nonlinearity="leaky_relu", rng=r), shape),
                      _torch_std(lambda t: torch.nn.init.kaiming_normal_(t, a=slope, nonlinearity="leaky_relu"), shape))
        return _explain(res, got, [
            (np.sqrt(1 / ((1 + slope ** 2) * fan_in)),
             "the factor 2 is missing: a ReLU zeroes half of its inputs, halving the "
                                  "second moment, so He doubles the variance: Var(W) = 2 / fan_in."),
            (np.sqrt(2 / fan_in), "the slope is ignored: a LeakyReLU keeps a^2 of the negative half, so "
                                  "Var(W) = 2 / ((1 + a^2) * fan_in)."),
            (2 / fan_in / (1 + slope ** 2), "you returned the variance; return its square root, the std.")])
    return run


INIT = Exercise(
    key="06.init",
    title="Exercise 6.1 · Xavier and He scales",
    functions=("fans", "xavier_std", "he_std"),
    where="the cell under 'Exercise 6.1'",
    checks=[
        Check("fans of a Linear weight (out, in) = (3, 5)", 0.5, _fans("fixed"), True),
        Check("xavier_std(5, 3)", 0.5, _xavier(True), True),
        Check("he_std(5)", 0.5, _he(True), True),
        Check("fans of random Linear weights", 0.5, _fans("linear")),
        Check("fans of random conv weights (F, C, KH, KW)", 0.5, _fans("conv")),
        Check("xavier_std with random fans and gains", 0.5, _xavier(False)),
        Check("he_std with random fan_in and LeakyReLU slopes", 1, _he(False)),
    ],
)

# ----------------------------------------------------------------------------- 6.2 batchnorm (train)


def _bn_batch(rng, N, D, scale=2.0, shift=1.0):
    x = scale * rng.standard_normal((N, D)) + shift * rng.standard_normal(D)
    return x, rng.standard_normal(D) + 1.0, rng.standard_normal(D)


def _bn_train(which, shape, eps=1e-5, scale=2.0):
    def run(runner, rng):
        from torch.nn import functional as tF
        N, D = shape(rng)
        x, gamma, beta = _bn_batch(rng, N, D, scale)
        dout = rng.standard_normal((N, D))
        out, cache = F.batchnorm_forward(x, gamma, beta, None, None, training=True, eps=eps)
        dx, dgamma, dbeta = F.batchnorm_backward(dout, cache)
        t_out, tg = torch_grads(lambda x, gamma, beta: tF.batch_norm(x, None, None, gamma, beta, True, 0.1, eps),
                                {"x": x, "gamma": gamma, "beta": beta}, ["x", "gamma", "beta"], dout)
        got = runner.call("forward_backward", forward="batchnorm_forward", backward="batchnorm_backward",
                          args=[x, gamma, beta], kwargs={"eps": eps}, dout=dout)
        grads = got["grads"]
        if not (isinstance(grads, list) and len(grads) == 3):
            return _malformed("batchnorm_backward's result", "batchnorm_backward must return (dx, dgamma, dbeta).")
        # Known wrong answers, each a sentence: what a learner who made that slip returns.
        mu, var = x.mean(axis=0), x.var(axis=0)
        inv, xhat = 1 / np.sqrt(var + eps), (x - mu) / np.sqrt(var + eps)
        g = dout * gamma
        known = {
            "out": [(gamma * (x - mu) / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta,
                     "you normalized with the unbiased variance (ddof=1); batchnorm divides by N, the biased one."),
                    (gamma * (x - mu) / (np.sqrt(var) + eps) + beta,
                     "eps belongs inside the square root: xhat = (x - mean) / sqrt(var + eps).")],
            "x": [(g * inv, "you treated the batch mean and variance as constants. In training mode both depend on "
                            "every x of the batch: dx = inv_std / N * (N*dxhat - sum(dxhat) - xhat*sum(dxhat*xhat))."),
                   (inv * (g - g.mean(axis=0)), "the term through the variance is missing: subtract "
                                                "xhat * mean(dxhat * xhat) too."),
                   (inv * (g - xhat * (g * xhat).mean(axis=0)), "the term through the mean is missing: subtract "
                                                                "mean(dxhat) too."),
                   (dout * inv, "gamma is missing from dx: dxhat = dout * gamma.")],
            "gamma": [(dout.sum(axis=0), "dgamma = sum over N of dout * xhat (you summed dout alone).")],
            "beta": [],
        }
        pairs = {"out": (got["out"], out, t_out), "x": (grads[0], dx, tg["x"]),
                 "gamma": (grads[1], dgamma, tg["gamma"]), "beta": (grads[2], dbeta, tg["beta"])}
        results = []
        for key in which:
            cand, ref, tor = pairs[key]
            name = "out" if key == "out" else f"d{key}"
            results.append(_explain(compare(cand, name, ref, tor, batch_size=N), cand, known[key]))
        return results
    return run


FIXED_BN = lambda rng: (4, 3)
RANDOM_BN = lambda rng: (_size(rng, 3, 12), _size(rng, 1, 7))
ALL_BN = ("out", "x", "gamma", "beta")

BN_TRAIN = Exercise(
    key="06.batchnorm",
    title="Exercise 6.2 · batch normalization, training mode",
    functions=("batchnorm_forward", "batchnorm_backward"),
    where="the cell under 'Exercise 6.2'",
    checks=[Check("out on a fixed (N, D) = (4, 3) batch", 0.5, _bn_train(("out",), FIXED_BN), True),
            Check("dx on a fixed (N, D) = (4, 3) batch", 1, _bn_train(("x",), FIXED_BN), True),
            Check("dgamma and dbeta on a fixed (N, D) = (4, 3) batch", 0.5,
                  _bn_train(("gamma", "beta"), FIXED_BN), True),
            Check("out on a random batch", 0.5, _bn_train(("out",), RANDOM_BN)),
            Check("dx on a random batch", 1, _bn_train(("x",), RANDOM_BN)),
            Check("dgamma and dbeta on a random batch", 0.5, _bn_train(("gamma", "beta"), RANDOM_BN)),
            Check("everything for a batch of two (N = 2)", 1,
                  _bn_train(ALL_BN, lambda rng: (2, _size(rng, 1, 6)), scale=1.0)),
            Check("everything with eps = 0.1 and a wide batch (N = 64)", 1,
                  _bn_train(ALL_BN, lambda rng: (64, _size(rng, 2, 6)), eps=0.1))],
)

# ----------------------------------------------------------------------------- 6.3 eval mode, running stats


def _bn_eval(which, shape):
    def run(runner, rng):
        from torch.nn import functional as tF
        N, D = shape(rng)
        x, gamma, beta = _bn_batch(rng, N, D, scale=3.0, shift=2.0)
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
            return _malformed("batchnorm_eval_backward's result", "it must return (dx, dgamma, dbeta).")
        known_out = []
        if N > 1:
            batch_out, _ = F.batchnorm_forward(x, gamma, beta, None, None, training=True)
            known_out = [(batch_out, "you normalized with the batch's own mean and variance; in eval mode "
                                     "use running_mean and running_var (the layer is then a fixed affine map).")]
        pairs = {"out": (got["out"], out, t_out, known_out), "x": (grads[0], dx, tg["x"], []),
                 "gamma": (grads[1], dgamma, tg["gamma"], []), "beta": (grads[2], dbeta, tg["beta"], [])}
        return [_explain(compare(cand, "out" if k == "out" else f"d{k}", ref, tor, batch_size=N), cand, known)
                for k in which for cand, ref, tor, known in [pairs[k]]]
    return run


def _running(fixed):
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
        got = runner.call("call", func="update_running_stats", args=[rm, rv, x], kwargs={"momentum": momentum})
        bad = _pair(got, "update_running_stats(...)", "running_mean", "running_var")
        if bad:
            return bad
        mu, var = x.mean(axis=0), x.var(axis=0)
        swapped = "the weights are swapped: new = (1 - momentum) * old + momentum * batch statistic."
        known_m = [(momentum * rm + (1 - momentum) * mu, swapped)]
        unbiased = ("torch keeps the UNBIASED batch variance in running_var (divide by N - 1), though it "
                    "normalizes with the biased one.")
        known_v = [((1 - momentum) * rv + momentum * var, unbiased),
                   (momentum * rv + (1 - momentum) * var * N / (N - 1), swapped)]
        return [_explain(compare(got[0], "running_mean", ref_m, tm.numpy()), got[0], known_m),
                _explain(compare(got[1], "running_var", ref_v, tv.numpy()), got[1], known_v)]
    return run


BN_EVAL = Exercise(
    key="06.batchnorm_eval",
    title="Exercise 6.3 · batch normalization, eval mode and running statistics",
    functions=("update_running_stats", "batchnorm_eval_forward", "batchnorm_eval_backward"),
    where="the cell under 'Exercise 6.3'",
    checks=[Check("update_running_stats on a fixed (N, D) = (4, 3) batch", 1, _running(True), True),
            Check("eval mode: out and gradients on a fixed (N, D) = (4, 3) batch", 1,
                  _bn_eval(ALL_BN, FIXED_BN), True),
            Check("update_running_stats on random batches and momenta", 1, _running(False)),
            Check("eval mode: out and gradients on a random batch", 0.5, _bn_eval(ALL_BN, RANDOM_BN)),
            Check("eval mode on a single example (N = 1)", 0.5, _bn_eval(ALL_BN, lambda rng: (1, _size(rng, 1, 6))))],
)

# ----------------------------------------------------------------------------- 6.4 clipping


def _clip(make, max_norm):
    def run(runner, rng):
        import torch

        from backprop_lab.nn import Parameter
        from backprop_lab.nn.utils import clip_grad_norm_
        grads, m = make(rng), max_norm(rng)
        params = [Parameter(np.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.copy()
        ref_total = clip_grad_norm_(params, m)
        tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(tparams, grads):
            p.grad = torch.tensor(g)
        t_total = float(torch.nn.utils.clip_grad_norm_(tparams, m))
        got = runner.call("call", func="clip_grad_norm", args=[[g.copy() for g in grads], m])
        bad = _pair(got, "clip_grad_norm(...)", "clipped", "total_norm")
        if bad:
            return bad
        clipped, total = got
        if not (isinstance(clipped, list) and len(clipped) == len(grads)):
            return _malformed("clipped", f"return a list of {len(grads)} arrays, one per gradient, in order.")
        norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
        # torch divides by (total_norm + 1e-6); both that and max_norm / total_norm agree to 1e-6
        # relative here (every clipped case has a norm >= 1), so 1e-5 accepts either and no bug.
        rescaled = ("you rescaled gradients whose norm was already below max_norm; clip only when "
                    "total_norm > max_norm (the factor is min(1, max_norm / total_norm)).")
        results = [_explain(compare(total, "total_norm", ref_total, t_total), total, [
            (min(norm, m), "return the norm BEFORE clipping (what torch returns), not after.")])]
        for i, (c, g, p, tp) in enumerate(zip(clipped, grads, params, tparams)):
            own = g * min(1.0, m / (float(np.linalg.norm(g)) + 1e-6))
            results.append(_explain(compare(c, f"clipped[{i}]", p.grad, tp.grad, tol=1e-5), c, [
                (g * m / norm, rescaled), (g * m / (norm + 1e-6), rescaled)]
                + ([(own, "you clipped each array by its own norm; clipping by norm uses ONE factor for all "
                          "arrays, from the global norm sqrt(sum of all squares).")] if len(grads) > 1 else [])))
        return results
    return run


def _shapes(rng, k):
    # 1-d to 3-d: the sandbox's wire format (np.ascontiguousarray) turns 0-d arrays into shape (1,)
    return [tuple(_size(rng, 1, 6) for _ in range(_size(rng, 1, 3))) for _ in range(k)]


def _arrays(low, high, count=lambda rng: _size(rng, 2, 5)):
    """Random arrays (0-d to 2-d) rescaled to a global norm drawn log-uniformly from [low, high]."""
    def make(rng):
        grads = [np.asarray(rng.standard_normal(s)) for s in _shapes(rng, count(rng))]
        factor = np.exp(rng.uniform(np.log(low), np.log(high))) / np.sqrt(sum(np.sum(g * g) for g in grads))
        return [np.asarray(g * factor) for g in grads]  # asarray: 0-d arrays stay arrays
    return make


FIXED_GRADS = lambda rng: [np.array([[3.0, 0.0], [0.0, 4.0]]), np.array([12.0])]
CLIP = Exercise(
    key="06.clip",
    title="Exercise 6.4 · clipping gradients by global norm",
    functions=("clip_grad_norm",),
    where="the cell under 'Exercise 6.4'",
    checks=[Check("fixed gradients of global norm 13, max_norm = 5", 1, _clip(FIXED_GRADS, lambda rng: 5.0), True),
            Check("fixed gradients of global norm 13, max_norm = 20 (unchanged)", 0.5,
                  _clip(FIXED_GRADS, lambda rng: 20.0), True),
            Check("random gradients above max_norm", 1, _clip(_arrays(3, 30), lambda rng: float(rng.uniform(0.5, 2)))),
            Check("random gradients below max_norm", 0.5, _clip(_arrays(0.5, 5), lambda rng: 10.0)),
            Check("exploding gradients (norm 1e7 to 1e9)", 0.5, _clip(_arrays(1e7, 1e9), lambda rng: 1.0)),
            Check("a single gradient array", 0.5, _clip(_arrays(2, 10, lambda rng: 1), lambda rng: 1.0))],
)

register(INIT, BN_TRAIN, BN_EVAL, CLIP)
