"""Notebook 05 (optimizers): typical bugs (Sutskever momentum, a missing bias correction, L2 instead
of decoupled decay, ...) lose exactly the points of the checks they break, with a report that names
the bug, in process and in the grading sandbox.

The reference solution, the release stub and the self-checks of every notebook: tests/test_exercises.py.
"""
import pytest
from exercise_kit import assert_exercises, edit, failed, report, solution_cells

from backprop_lab.coursekit.checking import get_exercise, run_exercise
from backprop_lab.coursekit.grading.sandbox import SandboxRunner

SOLUTION = solution_cells("05_optimizers")
KEYS = ["05.sgd_momentum", "05.adaptive", "05.adam", "05.adamw", "05.schedules"]


# ---------------------------------------------------------------------------- the notebook itself


def test_the_notebook_has_these_exercises():
    assert_exercises("05_optimizers", KEYS, total=18)


def test_known_bugs_are_diagnosed_the_same_way_in_the_sandbox():
    with SandboxRunner(cells=edit(SOLUTION, "sgd_momentum", SUTSKEVER)) as runner:
        rep = run_exercise(get_exercise("05.sgd_momentum"), runner, hidden=True, seed=3)
    assert rep.earned == rep.points - 2 and "Sutskever form" in rep.text()
    with SandboxRunner(cells=edit(SOLUTION, "adam", NO_BIAS_CORRECTION)) as runner:  # adamw runs the learner's adam
        rep = run_exercise(get_exercise("05.adamw"), runner, hidden=True, seed=3)
    assert rep.status == "fail" and "fix it first" in rep.text()


# ---------------------------------------------------------------------------- 5.1 SGD


SUTSKEVER = ('    buf = momentum * state.get("momentum_buffer", np.zeros_like(p)) + d\n'
             '    direction = d + momentum * buf if nesterov else buf\n'
             '    return p - lr * direction, {"momentum_buffer": buf}',
             '    v = momentum * state.get("momentum_buffer", np.zeros_like(p)) - lr * d\n'
             '    return p + (momentum * v - lr * d if nesterov else v), {"momentum_buffer": v}')


@pytest.mark.parametrize("seed", [0, 1])
def test_sutskever_momentum_loses_exactly_the_lr_change_and_buffer_points(seed):
    rep = report("05.sgd_momentum", edit(SOLUTION, "sgd_momentum", SUTSKEVER), seed)
    assert failed(rep) == {"25 steps on a fixed quadratic, lr cut to a tenth at step 13",
                           "lr changes mid-run: torch's form, not Sutskever's",
                           "state['momentum_buffer'] equals torch's after every step"}
    assert rep.earned == rep.points - 2
    text = rep.text()
    assert text.count("this is the Sutskever form") == 2 and "±lr times torch's momentum_buffer" in text


def test_nesterov_and_weight_decay_bugs_are_named():
    rep = report("05.sgd_momentum", edit(SOLUTION, "sgd_momentum", (
        "direction = d + momentum * buf if nesterov else buf", "direction = buf")))
    assert failed(rep) == {"Nesterov momentum"} and "this is plain momentum" in rep.text()
    rep = report("05.sgd_momentum", edit(SOLUTION, "sgd_momentum", (
        "d = g + weight_decay * p                      #", "d = g  #")))
    assert failed(rep) == {"weight decay enters the gradient before the momentum update"}
    assert "weight_decay was ignored" in rep.text()


# ---------------------------------------------------------------------------- 5.2 Adagrad, RMSprop


def test_rmsprop_with_bias_correction_and_eps_inside_the_root():
    rep = report("05.adaptive", edit(SOLUTION, "adaptive", (
        'return p - lr * d / (np.sqrt(avg) + eps), {"square_avg": avg}',
        't = state.get("step", 0) + 1\n'
        '    return p - lr * d / (np.sqrt(avg / (1 - alpha ** t)) + eps), {"square_avg": avg, "step": t}')))
    assert not any(o.check.startswith("Adagrad") for o in rep.outcomes if o.status != "pass")
    assert "torch's RMSprop has no bias correction" in rep.text()
    rep = report("05.adaptive", edit(SOLUTION, "adaptive", ("np.sqrt(total) + eps", "np.sqrt(total + eps)")))
    assert failed(rep) == {"both: eps sits outside the square root (eps = 0.1)"}
    assert "eps goes outside the square root" in rep.text()


# ---------------------------------------------------------------------------- 5.3 Adam, 5.4 AdamW


NO_BIAS_CORRECTION = ("    m_hat = m / (1 - beta1 ** t)", "    m_hat = m")


def test_missing_bias_correction_is_named_and_adamw_points_back_to_it():
    cells = edit(SOLUTION, "adam", ("    v_hat = v / (1 - beta2 ** t)\n", "    v_hat = v\n"), NO_BIAS_CORRECTION)
    rep = report("05.adam", cells)
    assert rep.earned == 0
    assert all("the bias correction is missing" in o.message for o in rep.outcomes)
    adamw = report("05.adamw", cells, seed=0)
    assert adamw.status == "fail" and "adamw_step runs your own adam_step" in adamw.text()
    rep = report("05.adam", edit(SOLUTION, "adam", NO_BIAS_CORRECTION))
    assert "m is not bias-corrected" in rep.text()


def test_adam_state_under_other_names():
    rep = report("05.adam", edit(SOLUTION, "adam", ('{"step": t, "exp_avg": m, "exp_avg_sq": v}',
                                                    '{"step": t, "exp_avg": m, "exp_avg_sq": v, "m": m}')))
    assert rep.status == "pass"  # extra keys are fine
    cells = edit(SOLUTION, "adam", ('state.get("exp_avg", ', 'state.get("m", '), ('"exp_avg": m,', '"m": m,'))
    rep = report("05.adam", cells)
    assert failed(rep) == {"state: step, exp_avg and exp_avg_sq equal torch's",
                           "resuming from a given state at step 40 (t comes from state['step'])"}
    assert "use torch's names" in rep.text()


L2_INSTEAD = ("return adam_step(p * (1 - lr * weight_decay), g, state, lr, betas, eps)",
              "return adam_step(p, g + weight_decay * p, state, lr, betas, eps)")


@pytest.mark.parametrize("seed", [0, 1])
def test_l2_instead_of_decoupled_loses_exactly_the_decoupled_points(seed):
    rep = report("05.adamw", edit(SOLUTION, "adamw", L2_INSTEAD), seed)
    assert failed(rep) == {c.name for c in get_exercise("05.adamw").checks if "decoupled decay" in c.name
                           and "L2" not in c.name}
    assert rep.earned == 1
    assert "this is Adam's L2 penalty" in rep.text()


def test_decay_without_lr_is_named():
    rep = report("05.adamw", edit(SOLUTION, "adamw", ("p * (1 - lr * weight_decay)", "p * (1 - weight_decay)")))
    assert rep.earned == 1 and "scales the decay by lr" in rep.text()


# ---------------------------------------------------------------------------- 5.5 schedules


def test_schedule_bugs_are_named():
    rep = report("05.schedules", edit(SOLUTION, "schedules", (
        "lr_max * (start_factor + (1 - start_factor) * step / warmup_steps)", "lr_max * step / warmup_steps")))
    assert all(o.status == "pass" for o in rep.outcomes if "warmup" not in o.check and "edge" not in o.check)
    assert "starts at start_factor·lr_max, not at 0" in rep.text()
    rep = report("05.schedules", edit(SOLUTION, "schedules", ("(1 + math.cos(math.pi * step / T_max)) / 2",
                                                              "math.cos(math.pi * step / T_max)")))
    assert rep.earned == 0 and "first wrong value at t = 1" in rep.text()
