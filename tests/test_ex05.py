"""Notebook 05 (optimizers): typical bugs lose exactly the points of the checks they break, in process
and in the grading sandbox; a note about 5.3 appears in 5.4's report only when 5.3 is the cause.

Every catalogue bug (tests/bugs/bugs_05.py) is caught and named by the visible checks:
tests/test_bug_catalogue_0509.py. The reference solution, the release stub and the self-checks of every
notebook: tests/test_exercises.py.
"""
import pytest
from bugs.bugs_05 import BUGS
from exercise_kit import assert_exercises, edit, failed, report, solution_cells

from backprop_lab.coursekit.checking import get_exercise, run_exercise
from backprop_lab.coursekit.grading.sandbox import SandboxRunner

SOLUTION = solution_cells("05_optimizers")
KEYS = ["05.sgd_momentum", "05.adaptive", "05.adam", "05.adamw", "05.schedules"]
BUG = {b.id: b for b in BUGS}


def cells_with(*ids):
    cells = SOLUTION
    for bug in (BUG[i] for i in ids):
        cells = edit(cells, bug.cell, *bug.edits)
    return cells


def test_the_notebook_has_these_exercises():
    assert_exercises("05_optimizers", KEYS, total=18)


def test_every_hidden_check_has_a_visible_counterpart_worth_a_share_of_the_points():
    for key in KEYS:
        checks = get_exercise(key).checks
        assert sum(c.points for c in checks if c.visible) >= 0.3 * sum(c.points for c in checks), key


# ---------------------------------------------------------------------------- 5.1 SGD


@pytest.mark.parametrize("seed", [0, 1])
def test_sutskever_momentum_loses_exactly_the_lr_change_and_buffer_points(seed):
    rep = report("05.sgd_momentum", cells_with("sutskever_form"), seed)
    assert failed(rep) == {
        "25 steps on a fixed quadratic, lr cut to a tenth at step 13: p, the buffer, nothing changed in place",
        "Nesterov with weight decay 0.1, 10 fixed steps with an lr cut",
        "lr changes mid-run: torch's form, not Sutskever's",
        "state['momentum_buffer'] equals torch's after every step"}
    assert rep.earned == rep.points - 2
    assert "this is the Sutskever form" in rep.text() and "±lr times torch's momentum_buffer" in rep.text()


@pytest.mark.parametrize("seed", [0, 1])
def test_nesterov_and_weight_decay_bugs_lose_their_checks_and_nothing_else(seed):
    rep = report("05.sgd_momentum", cells_with("nesterov_ignored"), seed)
    assert failed(rep) == {"Nesterov with weight decay 0.1, 10 fixed steps with an lr cut",
                           "Nesterov momentum with weight decay, random values"}
    assert "this is plain momentum" in rep.text()
    rep = report("05.sgd_momentum", cells_with("weight_decay_ignored"), seed)
    assert failed(rep) == {"Nesterov with weight decay 0.1, 10 fixed steps with an lr cut",
                           "Nesterov momentum with weight decay, random values",
                           "weight decay enters the gradient before the momentum update"}
    assert {o.code for o in rep.outcomes if o.status != "pass"} == {"05.weight-decay-ignored"}


def test_changing_the_arguments_in_place_costs_only_the_check_that_looks():
    rep = report("05.sgd_momentum", cells_with("parameters_updated_in_place"), seed=0)
    assert failed(rep) == {
        "25 steps on a fixed quadratic, lr cut to a tenth at step 13: p, the buffer, nothing changed in place"}
    assert "changed p in place" in rep.text()
    rep = report("05.sgd_momentum", cells_with("buffer_updated_in_place"), seed=0)
    assert "changed state['momentum_buffer'] in place" in rep.text() and rep.earned == rep.points - 0.5


# ---------------------------------------------------------------------------- 5.2 Adagrad, RMSprop


def test_rmsprop_bugs_leave_adagrad_alone():
    rep = report("05.adaptive", cells_with("rmsprop_bias_correction"), seed=0)
    assert not any(o.check.startswith("Adagrad") for o in rep.outcomes if o.status != "pass")
    assert "torch's RMSprop has no bias correction" in rep.text()
    rep = report("05.adaptive", cells_with("adagrad_eps_inside_sqrt"), seed=0)
    assert failed(rep) == {"both: weight decay 0.1 and eps = 0.1, 10 fixed steps",
                           "both: eps sits outside the square root (eps = 0.1)"}


# ---------------------------------------------------------------------------- 5.3 Adam, 5.4 AdamW


def test_adamw_names_a_broken_adam_step_only_when_adam_step_is_broken():
    cells = cells_with("adam_no_bias_correction")
    assert report("05.adam", cells).earned == 0
    adamw = report("05.adamw", cells, seed=0)
    assert adamw.earned == 0 and {o.code for o in adamw.outcomes} == {"05.adamw-uses-broken-adam"}
    assert "fix Exercise 5.3 first" in adamw.text()
    own_bug = report("05.adamw", cells_with("adamw_decay_without_lr"), seed=0)
    assert own_bug.status == "fail" and "5.3" not in own_bug.text() and "scales the decay by lr" in own_bug.text()


def test_resuming_adam_is_graded_visibly_and_hidden():
    rep = report("05.adam", cells_with("adam_step_count_ignores_state"), seed=0)
    assert failed(rep) == {"eps = 0.1, resuming from a fixed state at step 40 (t comes from state['step'])",
                           "resuming from a given state at step 40 (t comes from state['step'])"}


@pytest.mark.parametrize("seed", [0, 1])
def test_l2_instead_of_decoupled_loses_exactly_the_decoupled_points(seed):
    rep = report("05.adamw", cells_with("adamw_l2_instead_of_decoupled"), seed)
    assert failed(rep) == {c.name for c in get_exercise("05.adamw").checks if "decoupled decay" in c.name
                           and "L2" not in c.name}
    assert rep.earned == 1 and "this is Adam's L2 penalty" in rep.text()


# ---------------------------------------------------------------------------- 5.5 schedules


def test_schedule_bugs_say_where_the_values_go_wrong():
    rep = report("05.schedules", cells_with("warmup_from_zero"))
    assert all(o.status == "pass" for o in rep.outcomes if "warmup" not in o.check and "edge" not in o.check)
    assert "starts at start_factor·lr_max, not at 0" in rep.text()
    rep = report("05.schedules", cells_with("cosine_without_half"))
    assert rep.earned == 0 and "first wrong value at t = 1" in rep.text()


# ---------------------------------------------------------------------------- the sandbox


def test_known_bugs_are_diagnosed_the_same_way_in_the_sandbox():
    cells = cells_with("sutskever_form", "adam_no_bias_correction", "rmsprop_alpha_swapped")
    with SandboxRunner(cells=cells) as runner:
        reports = {k: run_exercise(get_exercise(k), runner, hidden=True, seed=3) for k in KEYS}
    for key, rep in reports.items():
        local = report(key, cells, seed=3)
        assert [(o.status, o.code) for o in rep.outcomes] == [(o.status, o.code) for o in local.outcomes], key
    assert reports["05.sgd_momentum"].earned == reports["05.sgd_momentum"].points - 2
    assert reports["05.schedules"].status == "pass"


def test_adagrad_sum_not_accumulated_gets_its_own_code_and_other_lost_state_keeps_state_not_carried():
    rep = report("05.adaptive", cells_with("adagrad_sum_reset"), seed=None, hidden=False)
    assert {o.code for o in rep.outcomes if o.status != "pass"} == {"05.adagrad-sum-not-accumulated"}
    assert "sum of squares is not accumulated" in rep.text()
    rep = report("05.adaptive", cells_with("rmsprop_state_key_misspelt"), seed=None, hidden=False)
    assert {o.code for o in rep.outcomes if o.status != "pass"} == {"05.state-not-carried"}
    rep = report("05.sgd_momentum", cells_with("state_key_misspelt"), seed=None, hidden=False)
    assert "05.state-not-carried" in {o.code for o in rep.outcomes if o.status != "pass"}
