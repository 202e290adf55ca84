"""Notebook 08's exercises against its own source notebook: the reference solution earns every
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

SOLUTION = solution_cells("08_full_training")
KEYS = ["08.cnn", "08.augment", "08.metrics"]


def test_the_notebook_has_these_exercises():
    assert_exercises("08_full_training", KEYS, min_checks=4)


def test_reference_earns_full_points_in_the_sandbox_quickly():
    assert_full_points_quickly_in_the_sandbox(SOLUTION, KEYS, ("accuracy", [np.eye(2), np.arange(2)]))


# ------------------------------------------------------------------------------------- bugs
FIXED = "on the fixed batch"
SCORES = ("scores on a fixed batch (N, C, H, W) = (3, 1, 8, 8), C1 = 4, C2 = 6, K = 10, its last image blank and "
          "b1[0] = 0")
LIN, CONV2, CONV1 = (f"dW3 and db3 (the linear layer) {FIXED}", f"dW2 and db2 (the second convolution) {FIXED}",
                     f"dW1 and db1 (the first convolution) {FIXED} (some pre-activations exactly 0)")
RANDOM_CNN = "scores and every gradient on random batches and channel counts (a blank image, b1[0] = 0)"
HIDDEN_CNN = {RANDOM_CNN,
              "real digits with exact ties in the max-pools, against nn.models.CNN",
              "odd and non-square images (pooling drops the last row or column)",
              "scores and every gradient on a fixed odd, non-square batch (N, C, H, W) = (2, 1, 9, 12)"}
SHIFT_FIXED, SHIFT_RANDOM = ("shift_images on three fixed 4x4 images",
                             "shift_images on random batches and shifts, including one off the image")
RECIPE = {"augment(x, default_rng(0)) on 12 digits reproduces the recipe and leaves x unchanged",
          "augment reproduces the recipe for random seeds, p and max_shift"}
VALID = "augment is a valid random shift (offsets, rate, input untouched)"
ACCURACY = {"accuracy of fixed scores (N, K) = (8, 4)", "accuracy of random scores"}
MISSING = {"confusion_matrix of 12 fixed labels of classes 0..2, num_classes = 5",
           "confusion_matrix when the last classes never occur"}
CONFUSION = {"confusion_matrix of 20 fixed labels, 4 classes", "confusion_matrix of random labels"} | MISSING

# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [
    ("relu_not_masked_in_backward", "08.cnn", "cnn",
     [("maxpool_backward(dp2, pool2) * (c2 > 0)", "maxpool_backward(dp2, pool2)"),
      ("maxpool_backward(dp1, pool1) * (c1 > 0)", "maxpool_backward(dp1, pool1)")],
     {CONV2, CONV1} | HIDDEN_CNN, ["through both ReLUs unmasked", "(c > 0)"]),
    ("flatten_channels_last", "08.cnn", "cnn",
     [("flat = p2.reshape(len(p2), -1)", "flat = p2.transpose(0, 2, 3, 1).reshape(len(p2), -1)")],
     {SCORES, LIN} | HIDDEN_CNN, ["(N, H', W', C2) order", "torch.flatten(x, 1)"]),
    ("dW3_transposed", "08.cnn", "cnn", [('"W3": dscores.T @ flat', '"W3": flat.T @ dscores')],
     {LIN} | HIDDEN_CNN, ["dW3 is transposed"]),
    ("db3_not_summed", "08.cnn", "cnn", [('"b3": dscores.sum(axis=0)', '"b3": dscores')],
     {LIN} | HIDDEN_CNN, ["db3 has an extra batch axis"]),
    ("first_relu_mask_at_zero", "08.cnn", "cnn",
     [("maxpool_backward(dp1, pool1) * (c1 > 0)", "maxpool_backward(dp1, pool1) * (c1 >= 0)")],
     {CONV1, RANDOM_CNN}, ["relu'(0) is 0", "(c > 0), not (c >= 0)"]),
    ("shift_wrong_direction", "08.augment", "augment",
     [("m - dy:m - dy + H, m - dx:m - dx + W", "m + dy:m + dy + H, m + dx:m + dx + W")],
     {SHIFT_FIXED, SHIFT_RANDOM} | RECIPE, ["moved the wrong way"]),
    ("shift_wraps_around", "08.augment", "augment",
     [("out[n] = xp[n, :, m - dy:m - dy + H, m - dx:m - dx + W]", "out[n] = np.roll(x[n], (dy, dx), axis=(1, 2))")],
     {SHIFT_FIXED, SHIFT_RANDOM, VALID} | RECIPE, ["np.roll", "not a zero-filled shift"]),
    ("shift_frame_one_pixel", "08.augment", "augment",
     [("m = int(np.max(np.abs(shifts), initial=0))", "m = 1")],  # seeds 0 and 1 draw max_shift = 1 for the recipe
     {SHIFT_FIXED, SHIFT_RANDOM, VALID}, ["as wide as the largest |offset|"]),
    ("integers_upper_bound_excluded", "08.augment", "augment",
     [("rng.integers(-max_shift, max_shift + 1, size=(int(", "rng.integers(-max_shift, max_shift, size=(int(")],
     {VALID} | RECIPE, ["excludes high", "EXCLUDES high"]),
    ("draws_in_another_order", "08.augment", "augment",
     [("    chosen = rng.random(len(x)) < p\n    shifts = np.zeros((len(x), 2), dtype=int)\n"
       "    shifts[chosen] = rng.integers(-max_shift, max_shift + 1, size=(int(chosen.sum()), 2))\n",
       "    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))\n"
       "    shifts[rng.random(len(x)) >= p] = 0\n")],
     RECIPE, ["you drew the offsets first"]),
    ("augment_changes_x_in_place", "08.augment", "augment",
     [("    return shift_images(x, shifts)\n", "    x[...] = shift_images(x, shifts)\n    return x\n")],
     {VALID} | RECIPE, ["changed its input x in place"]),
    ("accuracy_argmax_over_the_batch", "08.metrics", "metrics",
     [("scores.argmax(axis=1)", "scores.argmax(axis=0)")], ACCURACY, ["argmax(axis=0) runs over the batch axis"]),
    ("confusion_transposed", "08.metrics", "metrics",
     [("np.add.at(cm, (y_true, y_pred), 1)", "np.add.at(cm, (y_pred, y_true), 1)")],
     CONFUSION, ["rows and columns are swapped"]),
    ("accuracy_is_a_count", "08.metrics", "metrics",
     [("float(np.mean(scores.argmax(axis=1) == labels))", "float(np.sum(scores.argmax(axis=1) == labels))")],
     ACCURACY, ["NUMBER of correct predictions"]),
    ("classes_from_the_data", "08.metrics", "metrics",
     [("cm = np.zeros((num_classes, num_classes)", "K = int(max(y_true.max(), y_pred.max())) + 1\n"
       "    cm = np.zeros((K, K)")],
     MISSING, ["(num_classes, num_classes)"]),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    assert_bug_loses_exactly(SOLUTION, bug, seed)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    assert_bugs_lose_exactly_in_the_sandbox(SOLUTION, [b for b in BUGS if b[0] in (
        "relu_not_masked_in_backward", "draws_in_another_order", "confusion_transposed")])


def test_bugs_named_from_a_second_call_in_the_sandbox():
    """The shift's narrow frame is named by calling shift_images again; accuracy's axis by numpy's message."""
    assert_bugs_lose_exactly_in_the_sandbox(SOLUTION, [b for b in BUGS if b[0] in (
        "shift_frame_one_pixel", "accuracy_argmax_over_the_batch", "first_relu_mask_at_zero")], seed=0)
