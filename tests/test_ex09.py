"""Notebook 09's exercises against its own source notebook.

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

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "09_autoencoder" / "09_autoencoder.ipynb"
KEYS = ["09.loss", "09.autoencoder"]


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
    assert [ex.key for ex in exercises_in("09.")] == KEYS
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
        runner.call("call", func="sigmoid_mse_loss", args=[np.zeros((1, 2)), np.zeros((1, 2))])  # start the child first
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
DLOGITS = {"dlogits on fixed (N, D) = (3, 5) logits", "loss and dlogits on random batches",
           "saturated outputs: logits up to ±800, targets 0 or 1"}
DECODER, ENCODER = ("decoder gradients dW4, db4, dW3, db3 on the fixed batch",
                    "encoder gradients dW2, db2, dW1, db1 on the fixed batch")
HIDDEN_AE = {"logits and every gradient on random sizes", "64-pixel digits, 64-32-2-32-64, against nn.Sequential"}
STABLE = ("    e = np.exp(-np.abs(logits))                  # in (0, 1]: no overflow at any logit\n"
          "    s = np.where(logits >= 0, 1.0, e) / (1 + e)  # sigmoid(logits)\n")

# (id, exercise, cell, [(old, new), ...], the checks it must fail, words its report must contain)
BUGS = [
    ("no_sigmoid_derivative", "09.loss", "loss", [("return float(loss), ds * s * (1 - s)", "return float(loss), ds")],
     DLOGITS, ["gradient with respect to the sigmoid's OUTPUT", "s * (1 - s)"]),
    ("mean_over_the_batch_only", "09.loss", "loss", [("ds = 2 * diff / diff.size", "ds = 2 * diff / len(diff)")],
     DLOGITS, ["too large by a factor of D", "divide by z.size"]),
    ("unstable_sigmoid", "09.loss", "loss", [(STABLE, "    s = np.exp(logits) / (1 + np.exp(logits))\n")],
     {"saturated outputs: logits up to ±800, targets 0 or 1"}, ["NaN/inf"]),
    ("relu_not_masked_in_backward", "09.autoencoder", "autoencoder",
     [('(dlogits @ p["W4"]) * (a3 > 0)', '(dlogits @ p["W4"])'), ('(dcode @ p["W2"]) * (a1 > 0)', '(dcode @ p["W2"])')],
     {DECODER, ENCODER} | HIDDEN_AE, ["through the ReLUs unmasked"]),
    ("dW2_transposed", "09.autoencoder", "autoencoder",
     [('g["W2"], g["b2"] = dcode.T @ h1', 'g["W2"], g["b2"] = h1.T @ dcode')],
     {ENCODER} | HIDDEN_AE, ["dW2 is transposed"]),
    ("db4_averaged", "09.autoencoder", "autoencoder", [('"b4": dlogits.sum(axis=0)', '"b4": dlogits.mean(axis=0)')],
     {DECODER} | HIDDEN_AE, ["too small by a factor of N"]),
]


def _assert_loses_exactly(report, affected, words):
    ex = report.exercise
    failed = {o.check for o in report.outcomes if o.status != "pass"}
    assert failed == affected, report.text()
    assert report.earned == pytest.approx(ex.points - sum(c.points for c in ex.checks if c.name in affected))
    text = report.text()
    for word in words:
        assert word in text, text


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the unstable sigmoid overflows, as it should
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_exactly_its_checks(bug, seed):
    _, key, gid, edits, affected, words = bug
    _assert_loses_exactly(_local(key, _edit(SOLUTION, gid, *edits), seed), affected, words)


def test_bugs_in_the_sandbox_get_the_same_verdicts():
    picked = [b for b in BUGS if b[0] in ("no_sigmoid_derivative", "relu_not_masked_in_backward")]
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
    check("09.autoencoder", namespace=_namespace(stub))
    assert "not attempted yet" in capsys.readouterr().out
    with SandboxRunner(cells=stub) as runner:
        assert all(run_exercise(get_exercise(k), runner, hidden=True, seed=1).status == "not_attempted" for k in KEYS)
