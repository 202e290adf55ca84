"""Notebook 04 (training an MLP): the solution cells earn every point, in process and in the grading
sandbox; typical bugs lose the points of the checks they break, with a report that names the bug;
the release stubs count as "not attempted"; the hidden test cells carry the registry's points."""
from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from backprop_lab.checking import LocalRunner, exercises_in, get_exercise, run_exercise

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions/04_training_an_mlp/04_training_an_mlp.ipynb"
KEYS = ["04.mlp", "04.sgd", "04.train_step", "04.l2_penalty", "04.dropout"]


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def _solution_cells():
    return [(c.metadata["nbgrader"]["grade_id"], c.source) for c in _notebook().cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def _namespace(cells):
    ns = {"__name__": "__main__", "np": np, "math": math}
    for grade_id, source in cells:
        exec(compile(source, f"<cell {grade_id}>", "exec"), ns)
    return ns


def _mutate(old: str, new: str):
    """The solution cells with one piece of code replaced (it must occur exactly once)."""
    cells = _solution_cells()
    assert sum(src.count(old) for _, src in cells) == 1, old
    return [(gid, src.replace(old, new)) for gid, src in cells]


def _stub(source: str) -> str:
    """What the release shows: each solution region replaced by `raise NotImplementedError()`."""
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION", re.S | re.M)
    return pattern.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()", source)


def _report(key, cells, seed=0):
    return run_exercise(get_exercise(key), LocalRunner(_namespace(cells)), hidden=True, seed=seed)


def _outcome(report, fragment):
    (o,) = [o for o in report.outcomes if fragment in o.check]
    return o


# ---------------------------------------------------------------------------- the notebook itself


def test_registry_and_notebook_agree():
    assert [ex.key for ex in exercises_in("04.")] == KEYS
    nb = _notebook()
    hidden = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if meta.get("grade") and not meta.get("solution"):
            (key,) = re.findall(r'grade\("([^"]+)"\)', cell.source)
            hidden[key] = meta["points"]
    assert hidden == {key: get_exercise(key).points for key in KEYS}
    assert sum(hidden.values()) == 18
    for ex in exercises_in("04."):
        assert any(c.visible for c in ex.checks) and any(not c.visible for c in ex.checks)


@pytest.mark.parametrize("seed", [0, 1])
def test_solution_earns_every_point_locally(seed):
    cells = _solution_cells()
    for key in KEYS:
        report = _report(key, cells, seed)
        assert report.status == "pass", report.text()
        assert report.earned == get_exercise(key).points


def test_solution_earns_every_point_in_the_sandbox():
    from backprop_lab.grading.sandbox import SandboxRunner

    with SandboxRunner(cells=_solution_cells()) as runner:
        for key in KEYS:
            report = run_exercise(get_exercise(key), runner, hidden=True, seed=3)
            assert report.status == "pass", report.text()
        assert runner.notes == []
    with SandboxRunner(cells=_mutate(*SUTSKEVER)) as runner:  # a known bug, diagnosed the same way there
        report = run_exercise(get_exercise("04.sgd"), runner, hidden=True, seed=3)
    assert report.earned == report.points - 2 and "Sutskever form" in report.text()


def test_release_stubs_are_not_attempted():
    stubbed = [(gid, _stub(src)) for gid, src in _solution_cells()]
    assert all("### BEGIN SOLUTION" not in src for _, src in stubbed)
    ns = _namespace(stubbed)
    assert "softmax_cross_entropy" in ns  # given code survives the release
    for key in KEYS:
        report = run_exercise(get_exercise(key), LocalRunner(ns), hidden=True, seed=0)
        assert report.status == "not_attempted", report.text()
        assert report.earned == 0 and "not attempted yet" in report.text()


# ---------------------------------------------------------------------------- 4.1 MLP


def test_bias_gradient_not_summed_loses_bias_points():
    report = _report("04.mlp", _mutate('grads[f"b{i}"] = dz.sum(axis=0)', 'grads[f"b{i}"] = dz'))
    bias = _outcome(report, "bias gradients")
    assert bias.earned == 0 and "Sum the per-example gradients over the batch axis" in bias.message
    assert _outcome(report, "weight gradients").status == "pass"
    assert _outcome(report, "scores on random").status == "pass"
    assert 0 < report.earned < report.points


def test_relu_gradient_at_zero():
    report = _report("04.mlp", _mutate("dz = da * (pre[i - 2] > 0)", "dz = da * (pre[i - 2] >= 0)"))
    assert [o.check for o in report.outcomes if o.status != "pass"] == [
        "ReLU at exactly zero passes no gradient (like torch)"]
    assert "z > 0, not z >= 0" in report.text()


def test_dropout_mask_forgotten_in_backward():
    report = _report("04.mlp", _mutate("                da = da * masks[i - 2]\n", "                pass\n"))
    assert [o.check for o in report.outcomes if o.status != "pass"] == [
        "dropout masks on the hidden layers, forward and backward"]


# ---------------------------------------------------------------------------- 4.2 SGD


SUTSKEVER = ("velocity[k] = momentum * velocity[k] + g\n        params[k] -= lr * velocity[k]",
             "velocity[k] = momentum * velocity[k] - lr * g\n        params[k] += velocity[k]")


def test_sutskever_momentum_loses_the_lr_change_and_velocity_points():
    report = _report("04.sgd", _mutate(*SUTSKEVER))
    failed = {o.check for o in report.outcomes if o.status != "pass"}
    assert failed == {"the learning rate drops mid-run (torch's convention, not Sutskever's)",
                      "velocity equals torch's momentum_buffer after every step"}
    assert report.earned == report.points - 2
    assert "Sutskever form" in _outcome(report, "learning rate drops").message


def test_lr_inside_the_velocity_is_named():
    report = _report("04.sgd", _mutate(SUTSKEVER[0], "velocity[k] = momentum * velocity[k] + lr * g\n"
                                                     "        params[k] -= velocity[k]"))
    assert "lr times torch's momentum_buffer" in _outcome(report, "velocity equals").message


def test_weight_decay_ignored_and_copies_instead_of_in_place():
    report = _report("04.sgd", _mutate("g = grads[k] + weight_decay * params[k]", "g = grads[k]"))
    assert "weight_decay was ignored" in _outcome(report, "weight decay").message
    report = _report("04.sgd", _mutate("params[k] -= lr * velocity[k]", "params = dict(params)\n"
                                       "        params[k] = params[k] - lr * velocity[k]"))
    assert report.earned == 0 and "update them in place" in report.text()


# ---------------------------------------------------------------------------- 4.3 train_step


def test_train_step_runs_the_learners_own_pieces_and_says_so():
    # No working code sits in the sandbox (it could be stolen), so a broken 4.1 shows in 4.3 too,
    # and the report points back at 4.1.
    cells = _mutate('grads[f"b{i}"] = dz.sum(axis=0)', 'grads[f"b{i}"] = dz')
    report = run_exercise(get_exercise("04.train_step"), LocalRunner(_namespace(cells)), hidden=True, seed=0)
    assert report.status == "fail" and "fix that first" in report.text()


def test_train_step_bugs_are_named():
    report = _report("04.train_step", _mutate(
        "    sgd_step(params, grads, velocity, lr, momentum, weight_decay)\n    return loss",
        "    sgd_step(params, grads, velocity, lr, momentum, weight_decay)\n"
        "    return softmax_cross_entropy(mlp_forward(params, x, masks)[0], y)[0]"))
    assert report.earned == 0 and "loss AFTER the update" in report.text()
    report = _report("04.train_step", _mutate("sgd_step(params, grads, velocity, lr, momentum, weight_decay)",
                                              "sgd_step(params, grads, velocity, lr, momentum)"))
    assert "weight_decay did not reach sgd_step" in _outcome(report, "weight_decay").message
    assert report.earned == report.points - 1
    report = _report("04.train_step", _mutate("scores, cache = mlp_forward(params, x, masks)",
                                              "scores, cache = mlp_forward(params, x)"))
    assert "masks did not reach mlp_forward" in _outcome(report, "dropout masks").message


# ---------------------------------------------------------------------------- 4.4 / 4.5


def test_l2_penalty_without_one_half():
    report = _report("04.l2_penalty", _mutate("penalty = 0.5 * weight_decay", "penalty = weight_decay"))
    assert _outcome(report, "gradients on random").status == "pass"
    assert "(weight_decay / 2)" in _outcome(report, "penalty on random").message


def test_dropout_not_inverted_or_keep_probability():
    report = _report("04.dropout", _mutate("return (u >= p) / (1.0 - p)", "return (u >= p) * 1.0"))
    assert _outcome(report, "keeps every unit").status == "pass"
    assert "divides them by (1 - p)" in _outcome(report, "random p").message
    report = _report("04.dropout", _mutate("return (u >= p) / (1.0 - p)", "return (u < p) / (1.0 - p)"))
    assert "probability of DROPPING" in _outcome(report, "random p").message
