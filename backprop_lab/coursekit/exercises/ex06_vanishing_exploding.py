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

from ..checking.core import Check, Exercise
from ..checking.diagnoses import register as code
from ..checking.registry import register
from ._common import compare, explain
from ._common import malformed as _malformed
from ._common import size as _size
from .ex06_batchnorm import (
    ALL_BN,
    FIXED_BN,
    RANDOM_BN,
    batchnorm_eval,
    batchnorm_train,
    pair_or_malformed,
    running_stats,
    untouched,
)

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


FANS_SWAPPED = code("06.fans-swapped", "fan_in and fan_out are swapped (a weight is stored (out, in))")
FANS_KERNEL = code("06.fans-conv-kernel", "a convolution's fans leave out (part of) the kernel size KH·KW")
VARIANCE = code("06.returns-variance", "the variance is returned instead of the standard deviation")
STD = "you returned the variance; return its square root, the std."
XAVIER_FORMULA = code("06.xavier-formula", "not Xavier's Var(W) = 2 / (fan_in + fan_out)")
XAVIER_GAIN = code("06.xavier-gain", "the gain is ignored or applied inside the square root")
HE_TWO = code("06.he-missing-2", "He's factor 2 is missing")
HE_SLOPE = code("06.he-slope", "the LeakyReLU slope is ignored or not squared in He's std")


def _fans(kind):
    def run(runner, rng):
        import torch

        from backprop_lab.nn.init import calculate_fan_in_and_fan_out
        # out != in and F != C, so that swapped fans never pass; KH >= 2, so that a missing kernel shows
        n = _size(rng, 1, 6)
        shapes = {"fixed": lambda: [(3, 5), (6, 4, 3, 2)],
                  "linear": lambda: [tuple(rng.permutation([n, n + _size(rng, 1, 5)]))],
                  "conv": lambda: [(n + _size(rng, 1, 3), n, _size(rng, 2, 5), _size(rng, 1, 5))]}[kind]()
        return [_fans_of(runner, tuple(int(k) for k in shape), calculate_fan_in_and_fan_out, torch) for shape in shapes]
    return run


def _fans_of(runner, shape, calculate, torch):
    got = runner.call("call", func="fans", args=[list(shape)])
    bad = pair_or_malformed(got, "fans(shape)", "fan_in", "fan_out")
    if bad:
        return bad
    want = np.array(calculate(np.empty(shape)), float)
    theirs = np.array(torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)), float)
    res = compare(np.asarray(got, dtype=float), f"(fan_in, fan_out) of a weight of shape {shape}", want, theirs)
    known = [(want[::-1], FANS_SWAPPED, "fan_in and fan_out are swapped: a weight is stored (out, in), like torch, "
              "so fan_in comes from shape[1] and fan_out from shape[0].")]
    if len(shape) == 4:
        kernel = shape[2] * shape[3]
        sentence = (f"the kernel is missing from {{}}: each output of a convolution sums over C·KH·KW inputs and "
                    f"each input reaches F·KH·KW outputs, so multiply both by KH·KW = {kernel} (all kernel axes).")
        known += [((shape[1], shape[0]), FANS_KERNEL, sentence.format("both fans")),
                  ((want[0], shape[0]), FANS_KERNEL, sentence.format("fan_out")),
                  ((shape[1], want[1]), FANS_KERNEL, sentence.format("fan_in")),
                  ((shape[1] * shape[2], shape[0] * shape[2]), FANS_KERNEL, sentence.format("one kernel axis"))]
    return explain(res, got, want, known)


def _xavier(fixed):
    def run(runner, rng):
        import torch

        from backprop_lab.nn.init import xavier_normal_
        # distinct fans (else Xavier equals LeCun) and a gain != 1 (else a missing gain passes)
        fan_in, fan_out = (5, 3) if fixed else (int(f) for f in rng.choice(np.arange(2, 301), 2, replace=False))
        gain = 5.0 / 3.0 if fixed else float(rng.choice([5.0 / 3.0, 2 ** 0.5, 0.75]))
        got = runner.call("call", func="xavier_std", args=[fan_in, fan_out], kwargs={"gain": gain})
        shape = (fan_out, fan_in)
        want = _ref_std(lambda a, r: xavier_normal_(a, gain=gain, rng=r), shape)
        res = compare(got, f"xavier_std({fan_in}, {fan_out}, gain={gain:.4g})", want,
                      _torch_std(lambda t: torch.nn.init.xavier_normal_(t, gain=gain), shape))
        xavier = "Xavier averages the forward and backward conditions: std = gain * sqrt(2 / (fan_in + fan_out))."
        return explain(res, got, want, [
            (gain * np.sqrt(1 / fan_in), XAVIER_FORMULA, "that is LeCun's 1/sqrt(fan_in); " + xavier),
            (gain * np.sqrt(2 / fan_in), XAVIER_FORMULA, "that is He's sqrt(2/fan_in); " + xavier),
            (gain * np.sqrt(1 / (fan_in + fan_out)), XAVIER_FORMULA, "the 2 is missing: " + xavier),
            (gain ** 2 * 2 / (fan_in + fan_out), VARIANCE, STD),
            (gain * 2 / (fan_in + fan_out), VARIANCE, "you returned gain * 2 / (fan_in + fan_out), a variance times "
             "the gain: take the square root of 2 / (fan_in + fan_out), then multiply by the gain."),
            (np.sqrt(2 / (fan_in + fan_out)), XAVIER_GAIN, "the gain is missing: " + xavier),
            (np.sqrt(gain * 2 / (fan_in + fan_out)), XAVIER_GAIN, "the gain multiplies the std, outside the root: "
             "std = gain * sqrt(2 / (fan_in + fan_out)) (Var(W) = gain^2 * 2 / (fan_in + fan_out))."),
            (gain ** 2 * np.sqrt(2 / (fan_in + fan_out)), XAVIER_GAIN, "gain^2 multiplies the variance, so the std "
             "gets gain itself: std = gain * sqrt(2 / (fan_in + fan_out)).")])
    return run


def _he(fixed):
    def run(runner, rng):
        import torch

        from backprop_lab.nn.init import kaiming_normal_
        cases = [(5, 0.0), (5, 0.2)] if fixed else [(_size(rng, 2, 400), float(rng.choice([0.01, 0.1, 0.2, 0.3])))]
        results = []
        for fan_in, slope in cases:
            got = runner.call("call", func="he_std", args=[fan_in], kwargs={"negative_slope": slope})
            shape = (4, fan_in)
            want = _ref_std(lambda a, r, s=slope: kaiming_normal_(a, a=s, nonlinearity="leaky_relu", rng=r), shape)
            twin = _torch_std(lambda t, s=slope: torch.nn.init.kaiming_normal_(t, a=s, nonlinearity="leaky_relu"),
                              shape)
            res = compare(got, f"he_std({fan_in}, negative_slope={slope:g})", want, twin)
            results.append(explain(res, got, want, [
                (np.sqrt(1 / ((1 + slope ** 2) * fan_in)), HE_TWO, "the factor 2 is missing: a ReLU zeroes half of "
                 "its inputs, halving the second moment, so He doubles the variance: Var(W) = 2 / fan_in."),
                (np.sqrt(2 / fan_in), HE_SLOPE, "the slope is ignored: a LeakyReLU keeps a^2 of the negative half, so "
                 "Var(W) = 2 / ((1 + a^2) * fan_in)."),
                (np.sqrt(2 / ((1 + slope) * fan_in)), HE_SLOPE, "the slope must be squared: the negative half keeps "
                 "a^2 of its second moment, so Var(W) = 2 / ((1 + a^2) * fan_in)."),
                (2 / fan_in / (1 + slope ** 2), VARIANCE, STD)]))
        return results
    return run


INIT = Exercise(
    key="06.init",
    title="Exercise 6.1 · Xavier and He scales",
    functions=("fans", "xavier_std", "he_std"),
    where="the cell under 'Exercise 6.1'",
    checks=[
        Check("fans of a Linear weight (3, 5) and of a conv weight (6, 4, 3, 2)", 0.5, _fans("fixed"), True),
        Check("xavier_std(5, 3, gain=5/3)", 0.5, _xavier(True), True),
        Check("he_std(5) and he_std(5, negative_slope=0.2)", 0.5, _he(True), True),
        Check("fans of random Linear weights", 0.5, _fans("linear")),
        Check("fans of random conv weights (F, C, KH, KW)", 0.5, _fans("conv")),
        Check("xavier_std with random fans and gains", 0.5, _xavier(False)),
        Check("he_std with random fan_in and LeakyReLU slopes", 1, _he(False)),
    ],
)

# ----------------------------------------------------------------------------- 6.2 batchnorm (train)


BN_TRAIN = Exercise(
    key="06.batchnorm",
    title="Exercise 6.2 · batch normalization, training mode",
    functions=("batchnorm_forward", "batchnorm_backward"),
    where="the cell under 'Exercise 6.2'",
    checks=[Check("out on a fixed (N, D) = (4, 3) batch", 0.5, batchnorm_train(("out",), FIXED_BN), True),
            Check("dx on a fixed (N, D) = (4, 3) batch", 1, batchnorm_train(("x",), FIXED_BN), True),
            Check("dgamma and dbeta on a fixed (N, D) = (4, 3) batch", 0.5,
                  batchnorm_train(("gamma", "beta"), FIXED_BN), True),
            Check("out on a random batch", 0.5, batchnorm_train(("out",), RANDOM_BN)),
            Check("dx on a random batch", 1, batchnorm_train(("x",), RANDOM_BN)),
            Check("dgamma and dbeta on a random batch", 0.5, batchnorm_train(("gamma", "beta"), RANDOM_BN)),
            Check("everything for a batch of two (N = 2)", 1,
                  batchnorm_train(ALL_BN, lambda rng: (2, _size(rng, 1, 6)), scale=1.0)),
            Check("everything with eps = 0.1 and a wide batch (N = 64)", 1,
                  batchnorm_train(ALL_BN, lambda rng: (64, _size(rng, 2, 6)), eps=0.1))],
)

BN_EVAL = Exercise(
    key="06.batchnorm_eval",
    title="Exercise 6.3 · batch normalization, eval mode and running statistics",
    functions=("update_running_stats", "batchnorm_eval_forward", "batchnorm_eval_backward"),
    where="the cell under 'Exercise 6.3'",
    checks=[Check("update_running_stats on a fixed (N, D) = (4, 3) batch", 1, running_stats(True), True),
            Check("eval mode: out and gradients on a fixed (N, D) = (4, 3) batch", 1,
                  batchnorm_eval(ALL_BN, FIXED_BN), True),
            Check("update_running_stats on random batches and momenta", 1, running_stats(False)),
            Check("eval mode: out and gradients on a random batch", 0.5, batchnorm_eval(ALL_BN, RANDOM_BN)),
            Check("eval mode on a single example (N = 1)", 0.5,
                  batchnorm_eval(ALL_BN, lambda rng: (1, _size(rng, 1, 6))))],
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
        watched = runner.call("call_watching_args", func="clip_grad_norm", args=[[g.copy() for g in grads], m])
        got = watched["result"]
        bad = pair_or_malformed(got, "clip_grad_norm(...)", "clipped", "total_norm")
        if bad:
            return bad
        clipped, total = got
        if not (isinstance(clipped, list) and len(clipped) == len(grads)):
            return _malformed("clipped", f"return a list of {len(grads)} arrays, one per gradient, in order.")
        norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
        # torch divides by (total_norm + 1e-6); both that and max_norm / total_norm agree to 1e-6
        # relative here (every clipped case has a norm >= 1), so 1e-5 accepts either and no bug.
        c = CLIP_CODES
        rescaled = ("you rescaled gradients whose norm was already below max_norm; clip only when "
                    "total_norm > max_norm (the factor is min(1, max_norm / (total_norm + 1e-6))).")
        results = [explain(compare(total, "total_norm", ref_total, t_total), total, ref_total, [
            (min(norm, m), c["norm-after"], "return the norm BEFORE clipping (what torch returns), not after."),
            (norm ** 2, c["norm-squared"], "this is the sum of squares; the norm is its square root."),
            (sum(float(np.linalg.norm(g)) for g in grads), c["norm-sum-of-norms"], "this is the sum of the "
             "arrays' norms; the global norm is sqrt(sum of ALL squares), as if the arrays were one long vector.")],
            tol=1e-5)]
        for i, (mine, g, p, tp) in enumerate(zip(clipped, grads, params, tparams)):
            own = g * min(1.0, m / (float(np.linalg.norm(g)) + 1e-6))
            results.append(explain(compare(mine, f"clipped[{i}]", p.grad, tp.grad, tol=1e-5), mine, p.grad, [
                (np.clip(g, -m, m), c["by-value"], "you clipped each entry to [-max_norm, max_norm] (clipping by "
                 "VALUE). Clipping by norm multiplies every array by the same factor min(1, max_norm / (total_norm "
                 "+ 1e-6)), which keeps the direction of the whole gradient."),
                (g, c["not-applied"], f"the gradients came back unchanged although their global norm {norm:.4g} "
                 f"exceeds max_norm = {m:g}: the factor is min(1, max_norm / (total_norm + 1e-6)) (min, not max)."),
                (g * m / norm, c["always-rescales"], rescaled),
                (g * m / (norm + 1e-6), c["always-rescales"], rescaled)]
                + ([(own, c["per-array"], "you clipped each array by its own norm; clipping by norm uses ONE "
                     "factor for all arrays, from the global norm sqrt(sum of all squares).")] * (len(grads) > 1)),
                tol=1e-5))
        names = {f"args[0][{i}]": f"grads[{i}]" for i in range(len(grads))}
        return results + [untouched("clip_grad_norm", watched["changed"], names, CLIP_CODES["in-place"],
                                    "return new arrays, [g * scale for g in grads], and leave grads as they are "
                                    "(torch's clip_grad_norm_ scales param.grad in place; this function returns).")]
    return run


CLIP_CODES = {k: code(f"06.clip-{k}", meaning) for k, meaning in {
    "norm-after": "clip_grad_norm returns the norm after clipping instead of before",
    "norm-squared": "the global norm is computed without the square root",
    "norm-sum-of-norms": "the global norm is the sum of the arrays' norms",
    "by-value": "the gradients are clipped by value (entrywise) instead of by norm",
    "not-applied": "gradients above max_norm are not scaled down (min and max swapped?)",
    "always-rescales": "gradients below max_norm are rescaled too",
    "per-array": "each array is clipped by its own norm instead of the global norm",
    "in-place": "clip_grad_norm scales the caller's gradient arrays in place instead of returning new ones"}.items()}


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


# norms 7 and 24, global norm 25: clipping by value, per array or not at all all give different answers
FIXED_GRADS = lambda rng: [np.array([[2.0, -6.0], [0.0, 3.0]]), np.array([14.4, -19.2])]
CLIP = Exercise(
    key="06.clip",
    title="Exercise 6.4 · clipping gradients by global norm",
    functions=("clip_grad_norm",),
    where="the cell under 'Exercise 6.4'",
    checks=[Check("fixed gradients of global norm 25, max_norm = 5", 1, _clip(FIXED_GRADS, lambda rng: 5.0), True),
            Check("fixed gradients of global norm 25, max_norm = 30 (unchanged)", 0.5,
                  _clip(FIXED_GRADS, lambda rng: 30.0), True),
            Check("random gradients above max_norm", 1, _clip(_arrays(3, 30), lambda rng: float(rng.uniform(0.5, 2)))),
            Check("random gradients below max_norm", 0.5, _clip(_arrays(0.5, 5), lambda rng: 10.0)),
            Check("exploding gradients (norm 1e7 to 1e9)", 0.5, _clip(_arrays(1e7, 1e9), lambda rng: 1.0)),
            Check("a single gradient array", 0.5, _clip(_arrays(2, 10, lambda rng: 1), lambda rng: 1.0))],
)

register(INIT, BN_TRAIN, BN_EVAL, CLIP)
