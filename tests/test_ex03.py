"""Notebook 03's exercises against its own source notebook: each known bug loses exactly the points
of the checks it should fail, with a report that names it, in process and in the grading sandbox.

The reference solution, the release stub and the self-checks of every notebook: tests/test_exercises.py.
"""
import pytest
from exercise_kit import (
    assert_bug_loses_exactly,
    assert_bugs_lose_exactly_in_the_sandbox,
    assert_exercises,
    solution_cells,
)

SOLUTION = solution_cells("03_vectorized_layers")
KEYS = ["03.linear", "03.activations", "03.mse", "03.cross_entropy"]


def test_the_notebook_has_these_exercises():
    assert_exercises("03_vectorized_layers", KEYS, min_checks=4)


# ------------------------------------------------------------------------------------- bugs
LIN = "(N, D, M) = (4, 3, 2)"
N1, SQUARE = "out and all gradients for a batch of one (N = 1)", "out and all gradients with a square weight (D = M)"
N1_FIXED = "out and all gradients for a batch of one, (N, D, M) = (1, 3, 2)"
SQUARE_FIXED = "out and all gradients with a square weight, (N, D, M) = (3, 4, 4)"
CE_N1_FIXED = "a fixed batch of one, (N, C) = (1, 4)"
MSE_N1_FIXED, MSE_1D_FIXED = "a fixed batch of one, (N, D) = (1, 3)", "fixed 1-D predictions of shape (5,)"
LEAKY_FIXED = "leaky_relu with negative_slope=0.3"
ZEROS_FIXED = "relu and leaky_relu at exactly x = 0 (relu'(0) = 0, leaky_relu'(0) = slope, like torch)"
ZEROS = "relu and leaky_relu at exactly x = 0, random shapes and slopes"
CE_FIXED, CE_HUGE = "loss and dlogits for fixed logits of ±1000", "random logits of up to ±1000 (stability)"
CE_DL = {"dlogits on a fixed (N, C) = (4, 3) batch", "dlogits on a random batch"}
MSE_DP = {"dpred on a fixed (N, D) = (4, 3) batch", "dpred on a random batch"}

# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [
    ("bias_not_summed", "03.linear", "linear", [("dbias = dout.sum(axis=0)", "dbias = dout")],
     {f"dbias on a fixed batch {LIN}", "dbias on a random batch", N1, SQUARE, N1_FIXED, SQUARE_FIXED},
     ["extra batch axis", "Sum the per-example gradients over the batch axis"]),
    ("bias_averaged", "03.linear", "linear", [("dbias = dout.sum(axis=0)", "dbias = dout.mean(axis=0)")],
     {f"dbias on a fixed batch {LIN}", "dbias on a random batch", SQUARE, SQUARE_FIXED},  # N = 1: mean == sum
     ["too small by a factor of N"]),
    ("dweight_transposed", "03.linear", "linear", [("dweight = dout.T @ x", "dweight = x.T @ dout")],
     {f"dweight on a fixed batch {LIN}", "dweight on a random batch", N1, SQUARE, N1_FIXED, SQUARE_FIXED},
     ["transposed"]),
    ("ce_not_divided_by_N", "03.cross_entropy", "cross_entropy", [("    dlogits /= N\n", "")],
     CE_DL | {CE_FIXED, CE_HUGE}, ["factor of N", "did you forget to divide by N"]),
    ("ce_sign_flipped", "03.cross_entropy", "cross_entropy", [("dlogits /= N", "dlogits /= -N")],
     CE_DL | {CE_FIXED, CE_HUGE, "a batch of one (N = 1)", CE_N1_FIXED}, ["wrong sign"]),
    ("ce_naive_softmax", "03.cross_entropy", "cross_entropy",
     [("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits")],
     {CE_FIXED, CE_HUGE}, ["overflows to inf", "log-sum-exp"]),
    ("ce_log_of_softmax", "03.cross_entropy", "cross_entropy",
     [("log_probs = shifted - log_sum",
       "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))")],
     {CE_FIXED, CE_HUGE}, ["underflowed to 0", "log_probs = shifted - log(sum(exp(shifted)))"]),
    ("sigmoid_naive", "03.activations", "activations",
     [("s = np.where(x >= 0, 1.0, e) / (1 + e)", "s = 1 / (1 + np.exp(-x))")],
     {"sigmoid: out and dx on fixed inputs (including ±800)", "sigmoid at large |x| (up to 800) without overflow"},
     ["not numerically stable", "overflow"]),
    ("leaky_slope_ignored", "03.activations", "activations",
     [("np.where(x > 0, x, negative_slope * x)", "np.where(x > 0, x, 0.01 * x)")],
     {"leaky_relu with negative_slope=0.2", LEAKY_FIXED, ZEROS_FIXED, ZEROS},
     ["leaky_relu_forward's out", "not a fixed 0.01"]),
    ("mse_not_divided", "03.mse", "mse", [("dpred = 2 * diff / diff.size", "dpred = 2 * diff")],
     MSE_DP | {"a batch of one (N = 1)", "1-D predictions of shape (N,)", MSE_N1_FIXED, MSE_1D_FIXED},
     ["factor of pred.size"]),
    ("mse_divided_by_N_only", "03.mse", "mse",
     [("dpred = 2 * diff / diff.size", "dpred = 2 * diff / diff.shape[0]")],
     MSE_DP | {"a batch of one (N = 1)", MSE_N1_FIXED}, ["factor of D", "averages over every element"]),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the buggy code overflows, on purpose
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    assert_bug_loses_exactly(SOLUTION, bug, seed)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    assert_bugs_lose_exactly_in_the_sandbox(
        SOLUTION, [b for b in BUGS if b[0] in ("bias_not_summed", "ce_naive_softmax", "sigmoid_naive")])
