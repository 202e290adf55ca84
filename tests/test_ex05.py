"""Notebook 05 (optimizers): the solution cells earn every point, in process and in the grading
sandbox; typical bugs (Sutskever momentum, a missing bias correction, L2 instead of decoupled decay,
...) lose exactly the points of the checks they break, with a report that names the bug; the
release stubs count as "not attempted"; the hidden test cells carry the registry's points."""
from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from backprop_lab.checking import LocalRunner, exercises_in, get_exercise, run_exercise

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions/05_optimizers/05_optimizers.ipynb"
KEYS = ["05.sgd_momentum", "05.adaptive", "05.adam", "05.adamw", "05.schedules"]


def _solution_cells():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [(c.metadata["nbgrader"]["grade_id"], c.source) for c in nb.cells
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


def _failed(report):
    return {o.check for o in report.outcomes if o.status != "pass"}


# ---------------------------------------------------------------------------- the notebook itself


def test_registry_and_notebook_agree():
    assert [ex.key for ex in exercises_in("05.")] == KEYS
    nb = nbformat.read(NOTEBOOK, as_version=4)
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
    for ex in exercises_in("05."):
        assert any(c.visible for c in ex.checks) and any(not c.visible for c in ex.checks)


@pytest.mark.parametrize("seed", [0, 1, 2])
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
        report = run_exercise(get_exercise("05.sgd_momentum"), runner, hidden=True, seed=3)
    assert report.earned == report.points - 2 and "Sutskever form" in report.text()
    with SandboxRunner(cells=_mutate(*NO_BIAS_CORRECTION)) as runner:  # adamw runs the learner's adam
        report = run_exercise(get_exercise("05.adamw"), runner, hidden=True, seed=3)
    assert report.status == "fail" and "fix it first" in report.text()


def test_release_stubs_are_not_attempted():
    stubbed = [(gid, _stub(src)) for gid, src in _solution_cells()]
    assert all("### BEGIN SOLUTION" not in src for _, src in stubbed)
    ns = _namespace(stubbed)
    for key in KEYS:
        report = run_exercise(get_exercise(key), LocalRunner(ns), hidden=True, seed=0)
        assert report.status == "not_attempted", report.text()
        assert report.earned == 0 and "not attempted yet" in report.text()


# ---------------------------------------------------------------------------- 5.1 SGD


SUTSKEVER = ('    buf = momentum * state.get("momentum_buffer", np.zeros_like(p)) + d\n'
             '    direction = d + momentum * buf if nesterov else buf\n'
             '    return p - lr * direction, {"momentum_buffer": buf}',
             '    v = momentum * state.get("momentum_buffer", np.zeros_like(p)) - lr * d\n'
             '    return p + (momentum * v - lr * d if nesterov else v), {"momentum_buffer": v}')


@pytest.mark.parametrize("seed", [0, 1])
def test_sutskever_momentum_loses_exactly_the_lr_change_and_buffer_points(seed):
    report = _report("05.sgd_momentum", _mutate(*SUTSKEVER), seed)
    assert _failed(report) == {"25 steps on a fixed quadratic, lr cut to a tenth at step 13",
                               "lr changes mid-run: torch's form, not Sutskever's",
                               "state['momentum_buffer'] equals torch's after every step"}
    assert report.earned == report.points - 2
    text = report.text()
    assert text.count("this is the Sutskever form") == 2 and "±lr times torch's momentum_buffer" in text


def test_nesterov_and_weight_decay_bugs_are_named():
    report = _report("05.sgd_momentum", _mutate("direction = d + momentum * buf if nesterov else buf",
                                                "direction = buf"))
    assert _failed(report) == {"Nesterov momentum"} and "this is plain momentum" in report.text()
    report = _report("05.sgd_momentum", _mutate("d = g + weight_decay * p                      #", "d = g  #"))
    assert _failed(report) == {"weight decay enters the gradient before the momentum update"}
    assert "weight_decay was ignored" in report.text()


# ---------------------------------------------------------------------------- 5.2 Adagrad, RMSprop


def test_rmsprop_with_bias_correction_and_eps_inside_the_root():
    report = _report("05.adaptive", _mutate(
        'return p - lr * d / (np.sqrt(avg) + eps), {"square_avg": avg}',
        't = state.get("step", 0) + 1\n'
        '    return p - lr * d / (np.sqrt(avg / (1 - alpha ** t)) + eps), {"square_avg": avg, "step": t}'))
    assert not any(o.check.startswith("Adagrad") for o in report.outcomes if o.status != "pass")
    assert "torch's RMSprop has no bias correction" in report.text()
    report = _report("05.adaptive", _mutate("np.sqrt(total) + eps", "np.sqrt(total + eps)"))
    assert _failed(report) == {"both: eps sits outside the square root (eps = 0.1)"}
    assert "eps goes outside the square root" in report.text()


# ---------------------------------------------------------------------------- 5.3 Adam, 5.4 AdamW


NO_BIAS_CORRECTION = ("    m_hat = m / (1 - beta1 ** t)", "    m_hat = m")


def test_missing_bias_correction_is_named_and_adamw_points_back_to_it():
    cells = _mutate("    v_hat = v / (1 - beta2 ** t)\n", "    v_hat = v\n")
    cells = [(gid, src.replace(*NO_BIAS_CORRECTION)) for gid, src in cells]
    report = _report("05.adam", cells)
    assert report.earned == 0
    assert all("the bias correction is missing" in o.message for o in report.outcomes)
    adamw = run_exercise(get_exercise("05.adamw"), LocalRunner(_namespace(cells)), hidden=True, seed=0)
    assert adamw.status == "fail" and "adamw_step runs your own adam_step" in adamw.text()
    report = _report("05.adam", _mutate(*NO_BIAS_CORRECTION))
    assert "m is not bias-corrected" in report.text()


def test_adam_state_under_other_names():
    report = _report("05.adam", _mutate('{"step": t, "exp_avg": m, "exp_avg_sq": v}',
                                        '{"step": t, "exp_avg": m, "exp_avg_sq": v, "m": m}'))
    assert report.status == "pass"  # extra keys are fine
    cells = [(gid, src.replace('state.get("exp_avg", ', 'state.get("m", ')
              .replace('"exp_avg": m,', '"m": m,')) for gid, src in _solution_cells()]
    report = _report("05.adam", cells)
    assert _failed(report) == {"state: step, exp_avg and exp_avg_sq equal torch's",
                               "resuming from a given state at step 40 (t comes from state['step'])"}
    assert "use torch's names" in report.text()


L2_INSTEAD = ("return adam_step(p * (1 - lr * weight_decay), g, state, lr, betas, eps)",
              "return adam_step(p, g + weight_decay * p, state, lr, betas, eps)")


@pytest.mark.parametrize("seed", [0, 1])
def test_l2_instead_of_decoupled_loses_exactly_the_decoupled_points(seed):
    report = _report("05.adamw", _mutate(*L2_INSTEAD), seed)
    assert _failed(report) == {c.name for c in get_exercise("05.adamw").checks if "decoupled decay" in c.name
                               and "L2" not in c.name}
    assert report.earned == 1
    assert "this is Adam's L2 penalty" in report.text()


def test_decay_without_lr_is_named():
    report = _report("05.adamw", _mutate("p * (1 - lr * weight_decay)", "p * (1 - weight_decay)"))
    assert report.earned == 1 and "scales the decay by lr" in report.text()


# ---------------------------------------------------------------------------- 5.5 schedules


def test_schedule_bugs_are_named():
    report = _report("05.schedules", _mutate(
        "lr_max * (start_factor + (1 - start_factor) * step / warmup_steps)", "lr_max * step / warmup_steps"))
    assert all(o.status == "pass" for o in report.outcomes if "warmup" not in o.check and "edge" not in o.check)
    assert "starts at start_factor·lr_max, not at 0" in report.text()
    report = _report("05.schedules", _mutate("(1 + math.cos(math.pi * step / T_max)) / 2",
                                             "math.cos(math.pi * step / T_max)"))
    assert report.earned == 0 and "first wrong value at t = 1" in report.text()
