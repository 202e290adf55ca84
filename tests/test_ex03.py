"""Notebook 03's exercises against its own source notebook.

The reference solution (the solution cells of the nbgrader source) earns every point in process
and in the grading sandbox; each known bug loses exactly the points of the checks it should fail,
with a report that names it; the release stub is "not attempted"; the hidden test cells carry the
registry's points.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from backprop_lab.checking import LocalRunner, check, exercises_in, get_exercise, run_exercise
from backprop_lab.grading.nbgrader_plugin import exercise_key
from backprop_lab.grading.sandbox import SandboxRunner

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "03_vectorized_layers" / "03_vectorized_layers.ipynb"
KEYS = ["03.linear", "03.activations", "03.mse", "03.cross_entropy"]


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def _solution_cells() -> list[tuple[str, str]]:
    return [(c.metadata["nbgrader"]["grade_id"], c.source) for c in _notebook().cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


SOLUTION = _solution_cells()


def _edit(cells, gid, old, new):
    """The cells with one exact replacement in cell `gid` (the text must be there exactly once)."""
    out = []
    for cell_id, source in cells:
        if cell_id == gid:
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
    assert [ex.key for ex in exercises_in("03.")] == KEYS
    hidden = {}
    for cell in _notebook().cells:
        meta = cell.metadata.get("nbgrader", {})
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


def test_reference_earns_full_points_in_the_sandbox():
    with SandboxRunner(cells=SOLUTION) as runner:
        for key in KEYS:
            report = run_exercise(get_exercise(key), runner, hidden=True, seed=7)
            assert report.status == "pass", report.text()
            assert report.earned == get_exercise(key).points
        assert runner.notes == []


def test_visible_self_checks_pass(capsys):
    ns = _namespace(SOLUTION)
    for key in KEYS:
        check(key, namespace=ns)
    out = capsys.readouterr().out
    assert out.count("✓") == len(KEYS) and "not yet right" not in out


# ------------------------------------------------------------------------------------- bugs
LIN = "(N, D, M) = (4, 3, 2)"
N1, SQUARE = "out and all gradients for a batch of one (N = 1)", "out and all gradients with a square weight (D = M)"
CE_FIXED, CE_HUGE = "loss and dlogits for fixed logits of ±1000", "random logits of up to ±1000 (stability)"
CE_DL = {"dlogits on a fixed (N, C) = (4, 3) batch", "dlogits on a random batch"}
MSE_DP = {"dpred on a fixed (N, D) = (4, 3) batch", "dpred on a random batch"}

# (id, exercise, cell, old text, new text, the checks it must fail, words its report must contain)
BUGS = [
    ("bias_not_summed", "03.linear", "linear", "dbias = dout.sum(axis=0)", "dbias = dout",
     {f"dbias on a fixed batch {LIN}", "dbias on a random batch", N1, SQUARE},
     ["extra batch axis", "Sum the per-example gradients over the batch axis"]),
    ("bias_averaged", "03.linear", "linear", "dbias = dout.sum(axis=0)", "dbias = dout.mean(axis=0)",
     {f"dbias on a fixed batch {LIN}", "dbias on a random batch", SQUARE},  # N = 1: mean == sum
     ["too small by a factor of N"]),
    ("dweight_transposed", "03.linear", "linear", "dweight = dout.T @ x", "dweight = x.T @ dout",
     {f"dweight on a fixed batch {LIN}", "dweight on a random batch", N1, SQUARE}, ["transposed"]),
    ("ce_not_divided_by_N", "03.cross_entropy", "cross_entropy", "    dlogits /= N\n", "",
     CE_DL | {CE_FIXED, CE_HUGE}, ["factor of N", "did you forget to divide by N"]),
    ("ce_sign_flipped", "03.cross_entropy", "cross_entropy", "dlogits /= N", "dlogits /= -N",
     CE_DL | {CE_FIXED, CE_HUGE, "a batch of one (N = 1)"}, ["wrong sign"]),
    ("ce_naive_softmax", "03.cross_entropy", "cross_entropy",
     "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits",
     {CE_FIXED, CE_HUGE}, ["NaN/inf", "log-sum-exp"]),
    ("ce_log_of_softmax", "03.cross_entropy", "cross_entropy", "log_probs = shifted - log_sum",
     "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))",
     {CE_FIXED, CE_HUGE}, ["NaN/inf", "log-sum-exp"]),
    ("sigmoid_naive", "03.activations", "activations", "s = np.where(x >= 0, 1.0, e) / (1 + e)", "s = 1 / (1 + np.exp(-x))",
     {"sigmoid: out and dx on fixed inputs (including ±800)", "sigmoid at large |x| (up to 800) without overflow"},
     ["not numerically stable", "overflow"]),
    ("leaky_slope_ignored", "03.activations", "activations", "np.where(x > 0, x, negative_slope * x)",
     "np.where(x > 0, x, 0.01 * x)", {"leaky_relu with negative_slope=0.2"}, ["leaky_relu_forward's out"]),
    ("mse_not_divided", "03.mse", "mse", "dpred = 2 * diff / diff.size", "dpred = 2 * diff",
     MSE_DP | {"a batch of one (N = 1)", "1-D predictions of shape (N,)"}, ["factor of pred.size"]),
    ("mse_divided_by_N_only", "03.mse", "mse", "dpred = 2 * diff / diff.size", "dpred = 2 * diff / diff.shape[0]",
     MSE_DP | {"a batch of one (N = 1)"}, ["factor of D", "averages over every element"]),
]


def _assert_loses_exactly(report, affected, words):
    ex = report.exercise
    failed = {o.check for o in report.outcomes if o.status != "pass"}
    assert failed == affected, report.text()
    assert report.earned == pytest.approx(ex.points - sum(c.points for c in ex.checks if c.name in affected))
    text = report.text()
    for word in words:
        assert word in text, text


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the buggy code overflows, on purpose
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    _, key, gid, old, new, affected, words = bug
    _assert_loses_exactly(_local(key, _edit(SOLUTION, gid, old, new), seed), affected, words)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    picked = [b for b in BUGS if b[0] in ("bias_not_summed", "ce_naive_softmax", "sigmoid_naive")]
    cells = SOLUTION
    for _, _, gid, old, new, _, _ in picked:
        cells = _edit(cells, gid, old, new)
    with SandboxRunner(cells=cells) as runner:
        for _, key, _, _, _, affected, words in picked:
            _assert_loses_exactly(run_exercise(get_exercise(key), runner, hidden=True, seed=3), affected, words)


# ------------------------------------------------------------------------------------- stubs


def test_release_stub_is_not_attempted(capsys):
    stub = _stub(SOLUTION)
    assert all("raise NotImplementedError()" in src and "BEGIN SOLUTION" not in src for _, src in stub)
    for key in KEYS:
        report = _local(key, stub, 0)
        assert report.status == "not_attempted", report.text()
        assert report.earned == 0 and "not attempted yet" in report.text()
    check("03.linear", namespace=_namespace(stub))
    assert "not attempted yet" in capsys.readouterr().out
    with SandboxRunner(cells=stub) as runner:
        assert all(run_exercise(get_exercise(k), runner, hidden=True, seed=1).status == "not_attempted" for k in KEYS)
