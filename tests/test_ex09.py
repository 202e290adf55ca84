"""Notebook 09's exercises against its own source notebook: the reference solution earns every
point in the grading sandbox within the time a check may take; each known bug loses exactly the
points of the checks it should fail, with a report that names it, in process and in the sandbox.

The reference solution, the release stub and the self-checks of every notebook: tests/test_exercises.py.
"""
import numpy as np
import pytest
from exercise_kit import (
    assert_bug_loses_exactly,
    assert_bugs_lose_exactly_in_the_sandbox,
    assert_exercises,
    assert_full_points_quickly_in_the_sandbox,
    solution_cells,
)

SOLUTION = solution_cells("09_autoencoder")
KEYS = ["09.loss", "09.autoencoder"]


def test_the_notebook_has_these_exercises():
    assert_exercises("09_autoencoder", KEYS, min_checks=4)


def test_reference_earns_full_points_in_the_sandbox_quickly():
    warm_up = ("sigmoid_mse_loss", [np.zeros((1, 2)), np.zeros((1, 2))])
    assert_full_points_quickly_in_the_sandbox(SOLUTION, KEYS, warm_up)


# ------------------------------------------------------------------------------------- bugs
SATURATED = {"saturated outputs: fixed (N, D) = (2, 6) logits up to ±800",
             "saturated outputs: logits up to ±800, targets 0 or 1"}
DLOGITS = {"dlogits on fixed (N, D) = (3, 5) logits", "loss and dlogits on random batches"} | SATURATED
DECODER, ENCODER = ("decoder gradients dW4, db4, dW3, db3 on the fixed batch",
                    "encoder gradients dW2, db2, dW1, db1 on the fixed batch (some pre-activations exactly 0)")
RANDOM_AE = "logits and every gradient on random sizes (a blank image, b1[0] = 0)"
HIDDEN_AE = {RANDOM_AE, "64-pixel digits, 64-32-2-32-64, against nn.Sequential"}
LOSS = {"loss on fixed (N, D) = (3, 5) logits"} | DLOGITS
STABLE = ("    e = np.exp(-np.abs(logits))                  # in (0, 1]: no overflow at any logit\n"
          "    s = np.where(logits >= 0, 1.0, e) / (1 + e)  # sigmoid(logits)\n")

# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [
    ("no_sigmoid_derivative", "09.loss", "loss", [("return float(loss), ds * s * (1 - s)", "return float(loss), ds")],
     DLOGITS, ["gradient with respect to the sigmoid's OUTPUT", "s * (1 - s)"]),
    ("mean_over_the_batch_only", "09.loss", "loss", [("ds = 2 * diff / diff.size", "ds = 2 * diff / len(diff)")],
     DLOGITS, ["too large by a factor of D", "divide by z.size"]),
    ("unstable_sigmoid", "09.loss", "loss", [(STABLE, "    s = np.exp(logits) / (1 + np.exp(logits))\n")],
     SATURATED, ["np.exp(z) overflows", "np.exp(-np.abs(z))"]),
    ("naive_sigmoid", "09.loss", "loss", [(STABLE, "    s = 1 / (1 + np.exp(-logits))\n")],
     SATURATED, ["not numerically stable", "np.exp(-np.abs(z))"]),
    ("stable_sigmoid_branches_swapped", "09.loss", "loss",
     [("np.where(logits >= 0, 1.0, e)", "np.where(logits >= 0, e, 1.0)")], LOSS, ["sigmoid(-z) = 1 - s"]),
    ("encoder_mask_at_zero", "09.autoencoder", "autoencoder",
     [('(dcode @ p["W2"]) * (a1 > 0)', '(dcode @ p["W2"]) * (a1 >= 0)')], {ENCODER, RANDOM_AE}, ["relu'(0) is 0"]),
    ("db4_summed_over_the_pixels", "09.autoencoder", "autoencoder",
     [('"b4": dlogits.sum(axis=0)', '"b4": dlogits.sum(axis=1)')], {DECODER} | HIDDEN_AE, ["summed over axis=1"]),
    ("relu_not_masked_in_backward", "09.autoencoder", "autoencoder",
     [('(dlogits @ p["W4"]) * (a3 > 0)', '(dlogits @ p["W4"])'), ('(dcode @ p["W2"]) * (a1 > 0)', '(dcode @ p["W2"])')],
     {DECODER, ENCODER} | HIDDEN_AE, ["through the decoder's ReLU unmasked", "both ReLUs unmasked"]),
    ("dW2_transposed", "09.autoencoder", "autoencoder",
     [('g["W2"], g["b2"] = dcode.T @ h1', 'g["W2"], g["b2"] = h1.T @ dcode')],
     {ENCODER} | HIDDEN_AE, ["dW2 is transposed"]),
    ("db4_averaged", "09.autoencoder", "autoencoder", [('"b4": dlogits.sum(axis=0)', '"b4": dlogits.mean(axis=0)')],
     {DECODER} | HIDDEN_AE, ["too small by a factor of N"]),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the unstable sigmoid overflows, as it should
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    assert_bug_loses_exactly(SOLUTION, bug, seed)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    assert_bugs_lose_exactly_in_the_sandbox(
        SOLUTION, [b for b in BUGS if b[0] in ("no_sigmoid_derivative", "relu_not_masked_in_backward")])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_strict_probe_names_a_naive_sigmoid_in_the_sandbox():
    """probes_09.call_strict turns the overflow into an error in the grading child too."""
    assert_bugs_lose_exactly_in_the_sandbox(
        SOLUTION, [b for b in BUGS if b[0] in ("naive_sigmoid", "encoder_mask_at_zero")])
