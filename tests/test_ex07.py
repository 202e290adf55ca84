"""Notebook 07's exercises against its own source notebook.

The reference solution (the solution cells of the nbgrader source) earns every point in process and
in the grading sandbox; each known bug loses exactly the points of the checks it should fail, with a
report that names it; the release stub is "not attempted"; the hidden test cells carry the
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

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "07_convolutions" / "07_convolutions.ipynb"
KEYS = ["07.conv_naive", "07.maxpool", "07.conv_fast"]


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
    assert [ex.key for ex in exercises_in("07.")] == KEYS
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
    picked = [b for b in BUGS if b[0] in ("dweight_not_summed_over_N", "pool_gradient_to_every_tie",
                                          "fast_version_is_loops")]
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
    check("07.conv_naive", namespace=_namespace(stub))
    assert "not attempted yet" in capsys.readouterr().out
    with SandboxRunner(cells=stub) as runner:
        assert all(run_exercise(get_exercise(k), runner, hidden=True, seed=1).status == "not_attempted" for k in KEYS)
