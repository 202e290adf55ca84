"""Notebook 08's exercises against its own source notebook.

The reference solution (the solution cells of the nbgrader source) earns every point in process and
in the grading sandbox, within the time a check may take; each known bug loses exactly the points of
the checks it should fail, with a report that names it; the release stub is "not attempted"; the
hidden test cells carry the registry's points.
"""
from __future__ import annotations

import math
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from backprop_lab.checking import LocalRunner, check, exercises_in, get_exercise, run_exercise
from backprop_lab.grading.nbgrader_plugin import exercise_key
from backprop_lab.grading.sandbox import SandboxRunner

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "08_full_training" / "08_full_training.ipynb"
KEYS = ["08.cnn", "08.augment", "08.metrics"]


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def _solution_cells() -> list[tuple[str, str]]:
    return [(c.metadata["nbgrader"]["grade_id"], c.source) for c in _notebook().cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


SOLUTION = _solution_cells()


def _edit(cells, gid, *replacements):
    """The cells with exact replacements (old, new) in cell `gid`; each old text must occur once."""
    out = []
    for cell_id, source in cells:
        if cell_id == gid:
            for old, new in replacements:
                assert source.count(old) == 1, f"{old!r} not found once in cell {gid}"
                source = source.replace(old, new)
        out.append((cell_id, source))
    return out


def _stub(cells):
    """What nbgrader's release makes of the solution cells."""
    block = re.compile(r"^( *)### BEGIN SOLUTION\n.*?### END SOLUTION", re.S | re.M)
    return [(gid, block.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()", src)) for gid, src in cells]


def _namespace(cells) -> dict:
    ns = {"np": np, "math": math, "__name__": "__main__"}
    for gid, source in cells:
        exec(compile(source, f"<cell {gid}>", "exec"), ns)
    return ns


def _local(key, cells, seed):
    return run_exercise(get_exercise(key), LocalRunner(_namespace(cells)), hidden=True, seed=seed)


# ------------------------------------------------------------------------------------- structure


def test_registry_and_hidden_cells_agree():
    assert [ex.key for ex in exercises_in("08.")] == KEYS
    hidden = {}
    for cell in _notebook().cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if meta.get("grade") and cell.cell_type == "code":
            hidden[exercise_key(cell.source)] = meta["points"]
    assert hidden == {key: get_exercise(key).points for key in KEYS}
    for key in KEYS:
        ex = get_exercise(key)
        assert any(c.visible for c in ex.checks) and any(not c.visible for c in ex.checks), key
        assert len(ex.checks) >= 4, key


def test_solution_cells_are_self_contained():
    # The grader runs only these cells, with np and math: no backprop_lab, torch or matplotlib.
    for gid, source in SOLUTION:
        assert not re.search(r"^\s*(import|from)\s", source, re.M), gid
        assert "### BEGIN SOLUTION" in source, gid


# ------------------------------------------------------------------------------------- reference


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("key", KEYS)
def test_reference_earns_full_points_in_process(key, seed):
    report = _local(key, SOLUTION, seed)
    assert report.status == "pass", report.text()
    assert report.earned == report.points == get_exercise(key).points


def test_reference_earns_full_points_in_the_sandbox_quickly():
    with SandboxRunner(cells=SOLUTION) as runner:
        runner.call("call", func="accuracy", args=[np.eye(2), np.arange(2)])  # start the child first
        for key in KEYS:
            ex = get_exercise(key)
            start = time.perf_counter()
            report = run_exercise(ex, runner, hidden=True, seed=7)
            seconds = time.perf_counter() - start
            assert report.status == "pass", report.text()
            assert report.earned == ex.points
            assert seconds < 2.0 * len(ex.checks), f"{key}: {seconds:.1f} s for {len(ex.checks)} checks"
        assert runner.notes == []


def test_visible_self_checks_pass(capsys):
    ns = _namespace(SOLUTION)
    for key in KEYS:
        check(key, namespace=ns)
    out = capsys.readouterr().out
    assert out.count("✓") == len(KEYS) and "not yet right" not in out


# ------------------------------------------------------------------------------------- bugs
FIXED = "on the fixed batch"
SCORES = "scores on a fixed batch (N, C, H, W) = (3, 1, 8, 8), C1 = 4, C2 = 6, K = 10"
LIN, CONV2, CONV1 = (f"dW3 and db3 (the linear layer) {FIXED}", f"dW2 and db2 (the second convolution) {FIXED}",
                     f"dW1 and db1 (the first convolution) {FIXED}")
HIDDEN_CNN = {"scores and every gradient on random batches and channel counts",
              "real digits with exact ties in the max-pools, against nn.models.CNN",
              "odd and non-square images (pooling drops the last row or column)"}
SHIFT_FIXED, SHIFT_RANDOM = ("shift_images on three fixed 4x4 images",
                             "shift_images on random batches and shifts, including one off the image")
RECIPE = {"augment(x, default_rng(0)) on 12 digits reproduces the recipe",
          "augment reproduces the recipe for random seeds, p and max_shift"}
VALID = "augment is a valid random shift (offsets, rate, input untouched)"
ACCURACY = {"accuracy of fixed scores (N, K) = (8, 4)", "accuracy of random scores"}
CONFUSION = {"confusion_matrix of 20 fixed labels, 4 classes", "confusion_matrix of random labels",
             "confusion_matrix when the last classes never occur"}

# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [
    ("relu_not_masked_in_backward", "08.cnn", "cnn",
     [("maxpool_backward(dp2, pool2) * (c2 > 0)", "maxpool_backward(dp2, pool2)"),
      ("maxpool_backward(dp1, pool1) * (c1 > 0)", "maxpool_backward(dp1, pool1)")],
     {CONV2, CONV1} | HIDDEN_CNN, ["through the ReLUs unmasked", "(c > 0)"]),
    ("flatten_channels_last", "08.cnn", "cnn",
     [("flat = p2.reshape(len(p2), -1)", "flat = p2.transpose(0, 2, 3, 1).reshape(len(p2), -1)")],
     {SCORES, LIN} | HIDDEN_CNN, ["(N, H', W', C2) order", "torch.flatten(x, 1)"]),
    ("dW3_transposed", "08.cnn", "cnn", [('"W3": dscores.T @ flat', '"W3": flat.T @ dscores')],
     {LIN} | HIDDEN_CNN, ["dW3 is transposed"]),
    ("db3_not_summed", "08.cnn", "cnn", [('"b3": dscores.sum(axis=0)', '"b3": dscores')],
     {LIN} | HIDDEN_CNN, ["db3 has an extra batch axis"]),
    ("shift_wrong_direction", "08.augment", "augment",
     [("m - dy:m - dy + H, m - dx:m - dx + W", "m + dy:m + dy + H, m + dx:m + dx + W")],
     {SHIFT_FIXED, SHIFT_RANDOM} | RECIPE, ["moved the wrong way"]),
    ("shift_wraps_around", "08.augment", "augment",
     [("out[n] = xp[n, :, m - dy:m - dy + H, m - dx:m - dx + W]", "out[n] = np.roll(x[n], (dy, dx), axis=(1, 2))")],
     {SHIFT_FIXED, SHIFT_RANDOM, VALID} | RECIPE, ["np.roll", "not a zero-filled shift"]),
    ("integers_upper_bound_excluded", "08.augment", "augment",
     [("rng.integers(-max_shift, max_shift + 1, size=(int(", "rng.integers(-max_shift, max_shift, size=(int(")],
     {VALID} | RECIPE, ["excludes high", "valid shift, but not the ones the recipe draws"]),
    ("draws_in_another_order", "08.augment", "augment",
     [("    chosen = rng.random(len(x)) < p\n    shifts = np.zeros((len(x), 2), dtype=int)\n"
       "    shifts[chosen] = rng.integers(-max_shift, max_shift + 1, size=(int(chosen.sum()), 2))\n",
       "    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))\n"
       "    shifts[rng.random(len(x)) >= p] = 0\n")],
     RECIPE, ["valid shift, but not the ones the recipe draws"]),
    ("augment_changes_x_in_place", "08.augment", "augment",
     [("    return shift_images(x, shifts)\n", "    x[...] = shift_images(x, shifts)\n    return x\n")],
     {VALID}, ["changed its input x in place"]),
    ("confusion_transposed", "08.metrics", "metrics",
     [("np.add.at(cm, (y_true, y_pred), 1)", "np.add.at(cm, (y_pred, y_true), 1)")],
     CONFUSION, ["rows and columns are swapped"]),
    ("accuracy_is_a_count", "08.metrics", "metrics",
     [("float(np.mean(scores.argmax(axis=1) == labels))", "float(np.sum(scores.argmax(axis=1) == labels))")],
     ACCURACY, ["NUMBER of correct predictions"]),
    ("classes_from_the_data", "08.metrics", "metrics",
     [("cm = np.zeros((num_classes, num_classes)", "K = int(max(y_true.max(), y_pred.max())) + 1\n"
       "    cm = np.zeros((K, K)")],
     {"confusion_matrix when the last classes never occur"}, ["(num_classes, num_classes)"]),
]


def _assert_loses_exactly(report, affected, words):
    ex = report.exercise
    failed = {o.check for o in report.outcomes if o.status != "pass"}
    assert failed == affected, report.text()
    assert report.earned == pytest.approx(ex.points - sum(c.points for c in ex.checks if c.name in affected))
    text = report.text()
    for word in words:
        assert word in text, text


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    _, key, gid, edits, affected, words = bug
    _assert_loses_exactly(_local(key, _edit(SOLUTION, gid, *edits), seed), affected, words)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    picked = [b for b in BUGS if b[0] in ("relu_not_masked_in_backward", "draws_in_another_order",
                                          "confusion_transposed")]
    cells = SOLUTION
    for _, _, gid, edits, _, _ in picked:
        cells = _edit(cells, gid, *edits)
    with SandboxRunner(cells=cells) as runner:
        for _, key, _, _, affected, words in picked:
            _assert_loses_exactly(run_exercise(get_exercise(key), runner, hidden=True, seed=3), affected, words)


# ------------------------------------------------------------------------------------- stubs


def test_release_stub_is_not_attempted(capsys):
    stub = _stub(SOLUTION)
    assert all("raise NotImplementedError()" in src and "BEGIN SOLUTION" not in src for _, src in stub)
    for key in KEYS:
        report = _local(key, stub, 0)
        assert report.status == "not_attempted", report.text()
        assert report.earned == 0 and "not attempted yet" in report.text()
    check("08.cnn", namespace=_namespace(stub))
    assert "not attempted yet" in capsys.readouterr().out
    with SandboxRunner(cells=stub) as runner:
        assert all(run_exercise(get_exercise(k), runner, hidden=True, seed=1).status == "not_attempted" for k in KEYS)
