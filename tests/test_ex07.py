"""Notebook 07's exercises against its own source notebook: each known bug loses exactly the points
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

SOLUTION = solution_cells("07_convolutions")
KEYS = ["07.conv_naive", "07.maxpool", "07.conv_fast"]


def test_the_notebook_has_these_exercises():
    assert_exercises("07_convolutions", KEYS, min_checks=4)


# ------------------------------------------------------------------------------------- bugs
FIXED = "on a fixed batch (N, C, H, W) = (2, 3, 5, 5), F = 4, 3x3 kernel"
S2P1 = "out and all gradients with stride 2 and padding 1 (fixed)"
STRIDE2, PAD1 = "out and all gradients with stride 2", "out and all gradients with padding 1"
N1 = "out and all gradients for a batch of one (N = 1)"
RECT = "out and all gradients with a 2x3 kernel, H != W and padding 1"
ALL_CASES = {S2P1, STRIDE2, PAD1, N1, RECT}
TIES = {"dx with exact ties (fixed integer-valued input)", "dx with exact ties on random integer-valued images",
        "dx with exact ties and overlapping windows"}
SPEED = "speed against four loops over (n, f, i, j)"

POOL_LINES = ("            a, b = np.divmod(first[:, :, i, j], K)  # row and column of the maximum inside the window\n"
              "            dx[n, c, i * S + a, j * S + b] += dout[:, :, i, j]  # += : overlapping windows add up\n")
EVERY_TIE = ("            window = x[:, :, i * S:i * S + K, j * S:j * S + K]\n"
             "            mask = window == window.max(axis=(2, 3), keepdims=True)\n"
             "            dx[:, :, i * S:i * S + K, j * S:j * S + K] += mask * dout[:, :, i, j, None, None]\n")
SPLIT_TIE = EVERY_TIE.replace("mask * dout", "mask / mask.sum(axis=(2, 3), keepdims=True) * dout")

# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [
    ("dweight_not_summed_over_N", "07.conv_naive", "conv_naive",
     [("dweight = np.zeros_like(weight)", "dweight = np.zeros((N,) + weight.shape)"),
      ("dweight[f] += dout", "dweight[n, f] += dout")],
     {f"dweight {FIXED}", "dweight on a random batch"} | ALL_CASES,
     ["extra batch axis", "Sum the per-example gradients over the batch axis"]),
    ("padding_left_in_dx", "07.conv_naive", "conv_naive", [("dx = dxp[:, :, P:P + H, P:P + W]", "dx = dxp")],
     {S2P1, PAD1, RECT}, ["dx still has the zero padding", "Crop P = 1"]),
    ("dbias_not_summed_over_pixels", "07.conv_naive", "conv_naive",
     [("dbias = dout.sum(axis=(0, 2, 3))", "dbias = dout.sum(axis=0)")],
     {f"dbias {FIXED}", "dbias on a random batch"} | ALL_CASES, ["dout.sum(axis=(0, 2, 3))"]),
    ("flipped_kernel", "07.conv_naive", "conv_naive",
     [("np.sum(window * weight[f])", "np.sum(window * weight[f, :, ::-1, ::-1])")],
     {f"out {FIXED}", "out on a random batch"} | ALL_CASES, ["FLIPPED kernel", "cross-correlation"]),
    ("stride_ignored_in_forward", "07.conv_naive", "conv_naive",
     [("window = xp[n, :, i * S:i * S + KH, j * S:j * S + KW]", "window = xp[n, :, i:i + KH, j:j + KW]")],
     {S2P1, STRIDE2}, ["instead of the stride"]),
    ("pool_gradient_to_every_tie", "07.maxpool", "maxpool", [(POOL_LINES, EVERY_TIE)], TIES,
     ["every tied maximum received the whole gradient", "FIRST maximum"]),
    ("pool_gradient_split_between_ties", "07.maxpool", "maxpool", [(POOL_LINES, SPLIT_TIE)], TIES,
     ["split evenly"]),
    ("pool_last_maximum", "07.maxpool", "maxpool",
     [("first[:, :, i, j] = window.argmax(axis=2)",
       "first[:, :, i, j] = K * K - 1 - window[:, :, ::-1].argmax(axis=2)")],
     TIES, ["LAST tied maximum"]),
    ("fast_version_is_loops", "07.conv_fast", "conv_fast",
     [("    S, P = stride, padding\n", "    return conv2d_forward_naive(x, weight, bias, stride, padding)[0]\n")],
     {SPEED}, ["as slow as Python loops", "sliding_window_view"]),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    assert_bug_loses_exactly(SOLUTION, bug, seed)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    assert_bugs_lose_exactly_in_the_sandbox(SOLUTION, [b for b in BUGS if b[0] in (
        "dweight_not_summed_over_N", "pool_gradient_to_every_tie", "fast_version_is_loops")])
