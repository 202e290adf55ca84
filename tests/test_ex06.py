"""Notebook 06: its exercises against its own source notebook, and its measurements against
bounds derived from the variance argument.

Exercises: each known bug loses exactly the points of the checks it should fail, with a report that
names it, in process and in the grading sandbox. (The reference solution, the release stub and the
self-checks of every notebook: tests/test_exercises.py.)

Measurements (`backprop_lab.coursekit.experiments.gradient_flow`, the function the notebook calls): every
bound below is derived in a comment, from the mean-field argument of the notebook (weights
independent of the signals they multiply at initialization), with a margin for the finite width.
"""
import functools
import math

import numpy as np
import pytest
from exercise_kit import (
    assert_bug_loses_exactly,
    assert_bugs_lose_exactly_in_the_sandbox,
    assert_exercises,
    solution_cells,
)

from backprop_lab.coursekit.experiments import gradient_flow

SOLUTION = solution_cells("06_vanishing_exploding")
KEYS = ["06.init", "06.batchnorm", "06.batchnorm_eval", "06.clip"]


# ------------------------------------------------------------------------------------- exercises


def test_the_notebook_has_these_exercises():
    assert_exercises("06_vanishing_exploding", KEYS, min_checks=4)


BN_FIXED = {"out on a fixed (N, D) = (4, 3) batch", "dx on a fixed (N, D) = (4, 3) batch",
            "dgamma and dbeta on a fixed (N, D) = (4, 3) batch"}
BN_RANDOM = {"out on a random batch", "dx on a random batch", "dgamma and dbeta on a random batch"}
BN_EXTRA = {"everything for a batch of two (N = 2)", "everything with eps = 0.1 and a wide batch (N = 64)"}
BN_DX = {"dx on a fixed (N, D) = (4, 3) batch", "dx on a random batch"} | BN_EXTRA
BN_DG = {"dgamma and dbeta on a fixed (N, D) = (4, 3) batch", "dgamma and dbeta on a random batch"} | BN_EXTRA
UPDATE = {"update_running_stats on a fixed (N, D) = (4, 3) batch", "update_running_stats on random batches and momenta"}
EVAL = {"eval mode: out and gradients on a fixed (N, D) = (4, 3) batch",
        "eval mode: out and gradients on a random batch", "eval mode on a single example (N = 1)"}
CLIP_ABOVE = {"fixed gradients of global norm 25, max_norm = 5", "random gradients above max_norm",
              "exploding gradients (norm 1e7 to 1e9)"}
CLIP_BELOW = {"fixed gradients of global norm 25, max_norm = 30 (unchanged)", "random gradients below max_norm"}
BN_FWD = "var = x.var(axis=0)  # biased: divides by N"
BN_DX_LINE = "dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))"
HE = "math.sqrt(2.0 / ((1.0 + negative_slope ** 2) * fan_in))"
FANS = "fans of a Linear weight (3, 5) and of a conv weight (6, 4, 3, 2)"
XAVIER = {"xavier_std(5, 3, gain=5/3)", "xavier_std with random fans and gains"}
HE_CHECKS = {"he_std(5) and he_std(5, negative_slope=0.2)", "he_std with random fan_in and LeakyReLU slopes"}

# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [
    ("fans_swapped", "06.init", "init_scales",
     [("return shape[1] * receptive_field, shape[0] * receptive_field",
       "return shape[0] * receptive_field, shape[1] * receptive_field")],
     {FANS, "fans of random Linear weights", "fans of random conv weights (F, C, KH, KW)"}, ["swapped"]),
    ("fans_without_kernel", "06.init", "init_scales", [("receptive_field *= k", "pass")],
     {FANS, "fans of random conv weights (F, C, KH, KW)"}, ["kernel is missing"]),
    ("xavier_is_lecun", "06.init", "init_scales",
     [("gain * math.sqrt(2.0 / (fan_in + fan_out))", "gain * math.sqrt(1.0 / fan_in)")],
     XAVIER, ["LeCun"]),
    ("xavier_without_gain", "06.init", "init_scales", [("return gain * math.sqrt", "return math.sqrt")],
     XAVIER, ["gain is missing"]),
    ("he_without_2", "06.init", "init_scales", [(HE, HE.replace("2.0", "1.0"))],
     HE_CHECKS, ["factor 2 is missing"]),
    ("he_ignores_slope", "06.init", "init_scales", [(HE, "math.sqrt(2.0 / fan_in)")],
     HE_CHECKS, ["slope is ignored"]),
    ("bn_unbiased_var", "06.batchnorm", "batchnorm_train", [(BN_FWD, "var = x.var(axis=0, ddof=1)")],
     BN_FIXED | BN_RANDOM | BN_EXTRA, ["unbiased variance (ddof=1)"]),
    ("bn_eps_outside_sqrt", "06.batchnorm", "batchnorm_train",
     [("1.0 / np.sqrt(var + eps)", "1.0 / (np.sqrt(var) + eps)")],
     BN_FIXED | BN_RANDOM | BN_EXTRA, ["inside the square root"]),
    ("bn_no_mean_or_var_terms", "06.batchnorm", "batchnorm_train", [(BN_DX_LINE, "dx = dxhat * inv_std")],
     BN_DX, ["treated the batch mean and variance as constants"]),
    ("bn_no_var_term", "06.batchnorm", "batchnorm_train",
     [(BN_DX_LINE, "dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0))")],
     BN_DX, ["term through the variance is missing"]),
    ("bn_no_mean_term", "06.batchnorm", "batchnorm_train",
     [(BN_DX_LINE, "dx = inv_std / N * (N * dxhat - xhat * (dxhat * xhat).sum(axis=0))")],
     BN_DX, ["term through the mean is missing"]),
    ("bn_dgamma_not_summed", "06.batchnorm", "batchnorm_train",
     [("dgamma = (dout * xhat).sum(axis=0)", "dgamma = dout * xhat")],
     BN_DG, ["Sum the per-example gradients over the batch axis"]),
    ("bn_dbeta_averaged", "06.batchnorm", "batchnorm_train",
     [("dbeta = dout.sum(axis=0)", "dbeta = dout.mean(axis=0)")], BN_DG, ["too small by a factor of N"]),
    ("bn_stats_per_example", "06.batchnorm", "batchnorm_train",
     [("mean = x.mean(axis=0)", "mean = x.mean(axis=1, keepdims=True)"),
      (BN_FWD, "var = x.var(axis=1, keepdims=True)")],
     BN_FIXED | BN_RANDOM | BN_EXTRA, ["per feature, over the batch", "axis=1"]),
    ("running_var_biased", "06.batchnorm_eval", "batchnorm_eval", [("x.var(axis=0, ddof=1)", "x.var(axis=0)")],
     UPDATE, ["UNBIASED"]),
    ("momentum_swapped", "06.batchnorm_eval", "batchnorm_eval",
     [("(1 - momentum) * running_mean + momentum * x.mean(axis=0)",
       "momentum * running_mean + (1 - momentum) * x.mean(axis=0)")], UPDATE, ["swapped"]),
    ("eval_uses_batch_stats", "06.batchnorm_eval", "batchnorm_eval",
     [("inv_std = 1.0 / np.sqrt(running_var + eps)\n    xhat = (x - running_mean) * inv_std",
       "inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)\n    xhat = (x - x.mean(axis=0)) * inv_std")],
     EVAL, ["batch's own mean and variance"]),
    ("clip_always_rescales", "06.clip", "clip",
     [("scale = min(1.0, max_norm / (total_norm + 1e-6))", "scale = max_norm / (total_norm + 1e-6)")],
     CLIP_BELOW, ["already below max_norm"]),
    ("clip_each_array", "06.clip", "clip",
     [("return [g * scale for g in grads], total_norm",
       "return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total_norm")],
     CLIP_ABOVE, ["ONE factor for all arrays"]),
    ("clip_norm_after", "06.clip", "clip",
     [("return [g * scale for g in grads], total_norm", "return [g * scale for g in grads], total_norm * scale")],
     CLIP_ABOVE | {"a single gradient array"}, ["BEFORE clipping"]),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    assert_bug_loses_exactly(SOLUTION, bug, seed)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    assert_bugs_lose_exactly_in_the_sandbox(SOLUTION, [b for b in BUGS if b[0] in (
        "fans_swapped", "bn_no_mean_or_var_terms", "running_var_biased", "clip_each_array")])


# ------------------------------------------------------------------------------------- measurements
# `gradient_flow`'s network: 9 hidden layers of width 256 and an output layer of 10; x ~ N(0, 1),
# N = 256; zero biases. Every hidden Linear has fan_in = fan_out = 256, so Xavier gives
# fan * Var(W) = 256 * 2 / 512 = 1 and He gives fan * Var(W) = 2. Mean field (at initialization
# the weights are independent of what they multiply), for the hidden layers k = 2..9:
#   forward:  E[z_k^2] = fan_in Var(W) E[h_{k-1}^2]
#   backward: E[delta_{k-1}^2] = fan_out Var(W) E[delta_k^2] E[f'(z_k)^2],   delta_k = dloss/dh_k,
# so delta_rms[0] / delta_rms[8] (layer 1 over layer 9) is a product of 8 per-layer factors.
# Finite width: each factor averages over 256 units with random weights, so it is off by at most
# about sqrt(2/256) ~ 9% (a chi-square with 256 degrees of freedom); over 8 steps that compounds to
# ~25% for a second moment and ~13% for an rms. The margins: 1.25x around predictions computed from
# the measured per-layer outputs, 2x around a-priori ones.
SEEDS = [0, 1, 2]
run = functools.lru_cache(maxsize=None)(gradient_flow)


def _rms(a):
    return float(np.sqrt(np.mean(np.square(a))))


def _layers(r):
    return list(r.activations.values())  # h_1 .. h_9


def _within(value, center, factor):
    assert center / factor <= value <= center * factor, f"{value:.4g} not within {factor}x of {center:.4g}"


@pytest.mark.parametrize("seed", SEEDS)
def test_sigmoid_xavier_gradients_vanish(seed):
    r = run("sigmoid", "xavier", seed=seed)
    delta_ratio = r.delta_rms[0] / r.delta_rms[-1]
    # sigma' <= 1/4 and fan_out Var(W) = 1: each of the 8 steps shrinks the gradient 4x or more.
    assert delta_ratio <= 2 * 0.25 ** 8
    # Sharper: step k's factor is rms(sigma'(z_k)), and sigma' = h (1 - h) of the layer's own outputs.
    _within(delta_ratio, np.prod([_rms(h * (1 - h)) for h in _layers(r)[1:]]), 1.25)
    # Weight gradients dW_k = dz_k^T h_{k-1} with dz_k = delta_k sigma'(z_k). The dz obey the same
    # bound: dz_{k-1} = (dz_k W_k) sigma'(z_{k-1}), so rms(dz_1) / rms(dz_9) <= 4^-8. With independent
    # entries std(dW_k) ~ sqrt(N) rms(dz_k) rms(h_{k-1}): exact in expectation for layer 1, whose input x
    # has mean 0; layer 9's input (sigmoid outputs, mean ~0.5) adds a coherent term sum_n dz_n * mean(h)
    # that can only make std(dW_9) larger. Hence an upper bound on the ratio:
    assert r.hidden_ratio <= 2 * 0.25 ** 8 * r.input_rms / r.act_rms[7]
    assert r.hidden_ratio < 1e-4 and r.ratio < 1e-5  # what that bound means: orders of magnitude


@pytest.mark.parametrize("seed", SEEDS)
def test_tanh_xavier_keeps_hidden_gradients(seed):
    r = run("tanh", "xavier", seed=seed)
    h = _layers(r)
    ms = r.act_rms ** 2
    # tanh' = 1 - h^2 <= 1 bounds each step's factor by 1; (1 - h^2)^2 >= 1 - 2 h^2 bounds it below
    # by sqrt(1 - 2 E[h^2]), computed from each layer's measured second moment.
    delta_ratio = r.delta_rms[0] / r.delta_rms[-1]
    assert np.prod(np.sqrt(1 - 2 * ms[1:])) / 1.25 <= delta_ratio <= 1.25
    _within(delta_ratio, np.prod([_rms(1 - a ** 2) for a in h[1:]]), 1.25)
    # Weight gradients: x and tanh outputs have mean 0, so std(dW_k) ~ sqrt(N) rms(dz_k) rms(h_{k-1})
    # holds for both layers, and rms(dz_1) / rms(dz_9) is the product of rms(tanh'(z_k)), k = 1..8.
    scale = r.input_rms / r.act_rms[7]
    assert np.prod(np.sqrt(1 - 2 * ms[:8])) * scale / 1.25 <= r.hidden_ratio <= scale * 1.25
    _within(r.hidden_ratio, np.prod([_rms(1 - a ** 2) for a in h[:8]]) * scale, 1.25)


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_he_keeps_activation_std(seed):
    r = run("relu", "he", seed=seed)
    # z_1 = W_1 x ~ N(0, fan_in Var(W) E[x^2]) = N(0, 2), and std(ReLU(z)) = sqrt(1/2 - 1/(2 pi)) std(z).
    _within(r.act_std[0], math.sqrt(1 - 1 / math.pi), 1.05)
    # E[ReLU(z)^2] = E[z^2] / 2 and fan_in Var(W) = 2: the second moment is preserved, and since z stays
    # zero-mean Gaussian (a sum of 256 terms) std / rms of ReLU(z) is a constant, so the std is too.
    _within(r.act_std[-1] / r.act_std[0], 1.0, 2.0)
    # Backward: fan_out Var(W) E[ReLU'^2] = 2 * 1/2 = 1 per step.
    _within(r.delta_rms[0] / r.delta_rms[-1], 1.0, 2.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_xavier_activations_shrink(seed):
    r = run("relu", "xavier", seed=seed)
    # fan_in Var(W) = 1 and ReLU halves the second moment: E[h_k^2] = E[h_{k-1}^2] / 2, so the std
    # falls by 2^(-1/2) per layer, 2^-4 = 1/16 from layer 1 to layer 9 (at least 8x, at most 32x).
    _within(r.act_std[-1] / r.act_std[0], 2.0 ** -4, 2.0)
    _within(r.delta_rms[0] / r.delta_rms[-1], 2.0 ** -4, 2.0)  # backward: 1 * 1/2 per step as well


def _gauss(f, df):
    """(std f(Z), rms f'(Z)) for Z ~ N(0, 1), by Gauss-Hermite quadrature."""
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    mean = w @ f(z)
    return math.sqrt(w @ (f(z) - mean) ** 2), math.sqrt(w @ df(z) ** 2)


SIGMOID = (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2)
RELU = (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_batchnorm_fixes_the_scale(activation, seed):
    r = run(activation, "xavier", batchnorm=True, seed=seed)
    std_f, rms_df = _gauss(*(SIGMOID if activation == "sigmoid" else RELU))
    # Every unit's pre-activation is standardized over the batch (mean 0, variance var / (var + eps))
    # and is a sum of 256 terms, so z_hat ~ N(0, 1) in every layer: the activation std is std f(Z).
    _within(r.act_std[0], std_f, 1.05)
    _within(r.act_std[-1] / r.act_std[0], 1.0, 1.1)
    # Backward through BN divides by the std of z, sqrt(fan_in Var(W)) std(h) = std f(Z); with
    # fan_out Var(W) = fan_in Var(W) each step's factor is g = rms f'(Z) / std f(Z), whatever the
    # weights' scale: about 1.02 for sigmoid (no more vanishing), 1.21 for ReLU (a mild growth).
    _within(r.delta_rms[0] / r.delta_rms[-1], (rms_df / std_f) ** 8, 1.25)


@pytest.mark.parametrize("seed", [0, 1])
def test_residual_connections_keep_the_gradient(seed):
    r = run("sigmoid", "xavier", residual=True, seed=seed)
    # delta_{k-1} = delta_k + (branch Jacobian)^T delta_k, two uncorrelated terms at initialization:
    # E|delta_{k-1}|^2 = (1 + g_k^2) E|delta_k|^2 with g_k^2 = fan_out Var(W) E[sigma'^2] <= 1/16.
    # Over the 8 blocks (layers 2..9) the rms therefore grows by a factor in [1, (17/16)^4].
    delta_ratio = r.delta_rms[0] / r.delta_rms[-1]
    assert 1 / 1.25 <= delta_ratio <= (17 / 16) ** 4 * 1.25


@pytest.mark.parametrize("seed", [0, 1])
def test_large_weights_explode(seed):
    r = run("relu", "he", weight_scale=1.5, seed=seed)
    # Scaling every weight by 1.5 multiplies each step's factor by 1.5, forward and backward.
    _within(r.delta_rms[0] / r.delta_rms[-1], 1.5 ** 8, 2.0)
    _within(r.act_std[-1] / r.act_std[0], 1.5 ** 8, 2.0)


@pytest.mark.parametrize("kw", [{}, {"batchnorm": True}, {"residual": True}], ids=["plain", "batchnorm", "residual"])
def test_measured_gradients_equal_torch_autograd(kw):
    import torch

    from backprop_lab import torch_ref

    r = gradient_flow("tanh", "xavier", depth=5, width=24, batch=16, seed=3, **kw)
    twin = torch_ref.to_torch(r.model)  # same weights; train mode like the numpy model
    loss = torch.nn.functional.cross_entropy(twin(torch.tensor(r.x)), torch.tensor(r.y))
    loss.backward()
    weights = [m.weight.grad.numpy() for m in twin.modules() if isinstance(m, torch.nn.Linear)]
    assert len(weights) == len(r.grads) == 5
    assert loss.item() == pytest.approx(r.loss, rel=1e-12)
    for ours, theirs in zip(r.grads.values(), weights):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * np.abs(theirs).max())
    assert np.allclose(r.grad_std, [w.std() for w in weights], rtol=1e-10)
