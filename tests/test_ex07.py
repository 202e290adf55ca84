"""Notebook 07's exercises against its own source notebook: each known bug loses exactly the points
of the checks it should fail, with a report that names it, in process and in the grading sandbox.

The reference solution, the release stub and the self-checks of every notebook: tests/test_exercises.py.
"""
import pytest
from bugs.bugs_07 import BUGS as CATALOGUE_BUGS
from exercise_kit import (
    assert_bug_loses_exactly,
    assert_bugs_lose_exactly_in_the_sandbox,
    assert_exercises,
    edit,
    report,
    solution_cells,
)

SOLUTION = solution_cells("07_convolutions")
KEYS = ["07.conv_naive", "07.maxpool", "07.conv_fast"]


def test_the_notebook_has_these_exercises():
    assert_exercises("07_convolutions", KEYS, min_checks=4)


# ------------------------------------------------------------------------------------- bugs
# Each catalogue bug (tests/bugs/bugs_07.py) by id, with the checks it must fail and words its report must contain.
FIXED = "on a fixed batch (N, C, H, W) = (2, 3, 5, 5), F = 4, 3x3 kernel"
S2P1 = "out and all gradients with stride 2, padding 1 and a 3x2 kernel (fixed)"
STRIDE2, PAD1 = "out and all gradients with stride 2", "out and all gradients with padding 1"
N1 = "out and all gradients for a batch of one (N = 1)"
RECT = "out and all gradients with a 2x3 kernel, H != W and padding 1"
ALL_CASES = {S2P1, STRIDE2, PAD1, N1, RECT}
TIES = {"dx with exact ties (fixed integer-valued input)", "dx with exact ties on random integer-valued images",
        "dx with exact ties and overlapping windows"}
SPEED = "speed against four loops over (n, f, i, j)"
CATALOGUE = {b.id: b for b in CATALOGUE_BUGS}

EXPECTED = {
    "dweight_per_example": ({f"dweight {FIXED}", "dweight on a random batch"} | ALL_CASES,
                            ["extra batch axis", "Sum the per-example gradients over the batch axis"]),
    "padding_not_cropped": ({S2P1, PAD1, RECT}, ["dx still has the zero padding", "Crop P = 1"]),
    "crop_breaks_at_padding_0": ({f"dx {FIXED}", "dx on a random batch", STRIDE2, N1}, ["EMPTY", "P:P + H"]),
    "dbias_only_over_batch": ({f"dbias {FIXED}", "dbias on a random batch"} | ALL_CASES, ["dout.sum(axis=(0, 2, 3))"]),
    "flipped_kernel": ({f"out {FIXED}", "out on a random batch"} | ALL_CASES, ["FLIPPED kernel", "cross-correlation"]),
    "forward_ignores_stride": ({S2P1, STRIDE2}, ["instead of the stride"]),
    "backward_ignores_stride": ({S2P1, STRIDE2}, ["with stride S = 2 it starts at row i*S"]),
    "tie_to_every_maximum": (TIES, ["every tied maximum received the whole gradient", "FIRST maximum"]),
    "tie_split": (TIES, ["split evenly"]),
    "tie_to_last_maximum": (TIES, ["LAST tied maximum"]),
    "fast_ignores_stride": ({"out with stride 2, a 2x3 kernel and padding 1 (fixed)",
                             "out with stride 2, a 2x3 kernel and padding 1"}, ["instead of the stride"]),
    "fast_is_loops": ({SPEED}, ["as slow as Python loops", "sliding_window_view"]),
}
# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [(i, CATALOGUE[i].exercise, CATALOGUE[i].cell, list(CATALOGUE[i].edits), *EXPECTED[i]) for i in EXPECTED]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    assert_bug_loses_exactly(SOLUTION, bug, seed)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    assert_bugs_lose_exactly_in_the_sandbox(SOLUTION, [b for b in BUGS if b[0] in (
        "dweight_per_example", "tie_to_every_maximum", "fast_is_loops")])


def test_a_slow_pass_is_named_and_wrong_values_are_not_timed():
    rep = report("07.conv_fast", SOLUTION, seed=0)
    speed = next(o for o in rep.outcomes if o.check == SPEED)
    assert speed.status == "pass" and "faster per output pixel than loops" in speed.results[0].name
    wrong = report("07.conv_fast", edit(SOLUTION, "conv_fast", *CATALOGUE["fast_reshape_not_transpose"].edits), seed=0)
    speed = next(o for o in wrong.outcomes if o.check == SPEED)
    assert speed.code == "07.fast-not-timed" and "faster" not in speed.message
