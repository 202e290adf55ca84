"""Notebook 04 (training an MLP): typical bugs lose the points of the checks they break, with a
report that names the bug; the release keeps the given code.

The reference solution, the release stub and the self-checks of every notebook: tests/test_exercises.py.
"""
from exercise_kit import assert_exercises, edit, failed, namespace, report, solution_cells, stub

from backprop_lab.coursekit.checking import get_exercise, run_exercise
from backprop_lab.coursekit.grading.sandbox import SandboxRunner

SOLUTION = solution_cells("04_training_an_mlp")
KEYS = ["04.mlp", "04.sgd", "04.train_step", "04.l2_penalty", "04.dropout"]


def _outcome(report, fragment):
    """The one outcome whose check name contains `fragment`."""
    (o,) = [o for o in report.outcomes if fragment in o.check]
    return o


# ---------------------------------------------------------------------------- the notebook itself


def test_the_notebook_has_these_exercises():
    assert_exercises("04_training_an_mlp", KEYS, total=18)


def test_given_code_survives_the_release():
    assert "softmax_cross_entropy" in namespace(stub(SOLUTION))


def test_a_known_bug_is_diagnosed_the_same_way_in_the_sandbox():
    with SandboxRunner(cells=edit(SOLUTION, "sgd", SUTSKEVER)) as runner:
        rep = run_exercise(get_exercise("04.sgd"), runner, hidden=True, seed=3)
    assert rep.earned == rep.points - 2 and "Sutskever form" in rep.text()


# ---------------------------------------------------------------------------- 4.1 MLP


def test_bias_gradient_not_summed_loses_bias_points():
    rep = report("04.mlp", edit(SOLUTION, "mlp", ('grads[f"b{i}"] = dz.sum(axis=0)', 'grads[f"b{i}"] = dz')))
    bias = _outcome(rep, "bias gradients")
    assert bias.earned == 0 and "Sum the per-example gradients over the batch axis" in bias.message
    assert _outcome(rep, "weight gradients").status == "pass"
    assert _outcome(rep, "scores on random").status == "pass"
    assert 0 < rep.earned < rep.points


def test_relu_gradient_at_zero():
    rep = report("04.mlp", edit(SOLUTION, "mlp", ("dz = da * (pre[i - 2] > 0)", "dz = da * (pre[i - 2] >= 0)")))
    assert [o.check for o in rep.outcomes if o.status != "pass"] == [
        "ReLU at exactly zero on a fixed batch passes no gradient (like torch)",
        "ReLU at exactly zero passes no gradient (like torch)"]
    assert "z > 0, not z >= 0" in rep.text()


def test_dropout_mask_forgotten_in_backward():
    rep = report("04.mlp", edit(SOLUTION, "mlp", ("                da = da * masks[i - 2]\n",
                                                  "                pass\n")))
    assert [o.check for o in rep.outcomes if o.status != "pass"] == [
        "a 4-5-4-3 MLP with dropout masks on a fixed batch: scores and all gradients",
        "dropout masks on the hidden layers, forward and backward"]
    assert "ignores the dropout mask" in rep.text()


# ---------------------------------------------------------------------------- 4.2 SGD


SUTSKEVER = ("velocity[k] = momentum * velocity[k] + g\n        params[k] -= lr * velocity[k]",
             "velocity[k] = momentum * velocity[k] - lr * g\n        params[k] += velocity[k]")


def test_sutskever_momentum_loses_the_lr_change_and_velocity_points():
    rep = report("04.sgd", edit(SOLUTION, "sgd", SUTSKEVER))
    assert failed(rep) == {"the learning rate drops mid-run (torch's convention, not Sutskever's)",
                           "velocity equals torch's momentum_buffer after every step",
                           "the learning rate drops from 0.1 to 0.01 after two of four fixed steps",
                           "velocity equals torch's momentum_buffer on fixed values"}
    assert rep.earned == rep.points - 2
    assert "Sutskever form" in _outcome(rep, "learning rate drops mid-run").message


def test_lr_inside_the_velocity_is_named():
    rep = report("04.sgd", edit(SOLUTION, "sgd", (SUTSKEVER[0], "velocity[k] = momentum * velocity[k] + lr * g\n"
                                                                "        params[k] -= velocity[k]")))
    assert "lr times torch's momentum_buffer" in _outcome(rep, "velocity equals torch's momentum_buffer after").message


def test_weight_decay_ignored_and_copies_instead_of_in_place():
    rep = report("04.sgd", edit(SOLUTION, "sgd", ("g = grads[k] + weight_decay * params[k]", "g = grads[k]")))
    assert "weight_decay was ignored" in _outcome(rep, "weight decay is added").message
    assert "weight_decay was ignored" in _outcome(rep, "weight_decay = 0.1 on fixed values").message
    rep = report("04.sgd", edit(SOLUTION, "sgd", ("params[k] -= lr * velocity[k]", "params = dict(params)\n"
                                                  "        params[k] = params[k] - lr * velocity[k]")))
    assert failed(rep) == {c.name for c in rep.exercise.checks if "grads are left unchanged" not in c.name}
    assert "update them in place" in rep.text()


# ---------------------------------------------------------------------------- 4.3 train_step


def test_train_step_runs_the_learners_own_pieces_and_says_so():
    # No working code sits in the sandbox (it could be stolen), so a broken 4.1 shows in 4.3 too,
    # and the report points back at 4.1.
    cells = edit(SOLUTION, "mlp", ('grads[f"b{i}"] = dz.sum(axis=0)', 'grads[f"b{i}"] = dz'))
    rep = report("04.train_step", cells, seed=0)
    assert rep.status == "fail" and "fix exercise 4.1 / 4.2 first (Exercise 4.1" in rep.text()


def test_the_dependency_note_appears_only_when_a_dependency_fails():
    # 4.1 and 4.2 pass: a bug in train_step itself gets no "fix 4.1 / 4.2 first".
    rep = report("04.train_step", edit(SOLUTION, "train_step", ("scores, cache = mlp_forward(params, x, masks)",
                                                                "scores, cache = mlp_forward(params, x)")))
    assert rep.status == "fail" and "masks did not reach mlp_forward" in rep.text()
    assert "first" not in rep.text(), rep.text()


def test_train_step_bugs_are_named():
    rep = report("04.train_step", edit(SOLUTION, "train_step", (
        "    sgd_step(params, grads, velocity, lr, momentum, weight_decay)\n    return loss",
        "    sgd_step(params, grads, velocity, lr, momentum, weight_decay)\n"
        "    return softmax_cross_entropy(mlp_forward(params, x, masks)[0], y)[0]")))
    assert rep.earned == 0 and "loss AFTER the update" in rep.text()
    rep = report("04.train_step", edit(SOLUTION, "train_step",
                                       ("sgd_step(params, grads, velocity, lr, momentum, weight_decay)",
                                        "sgd_step(params, grads, velocity, lr, momentum)")))
    assert "weight_decay did not reach sgd_step" in _outcome(rep, "weight_decay reaches the update").message
    assert failed(rep) == {"weight_decay reaches the update", "weight_decay = 0.05 reaches the update (fixed batches)"}
    assert rep.earned == rep.points - 1
    rep = report("04.train_step", edit(SOLUTION, "train_step", ("scores, cache = mlp_forward(params, x, masks)",
                                                                "scores, cache = mlp_forward(params, x)")))
    assert "masks did not reach mlp_forward" in _outcome(rep, "dropout masks reach the forward pass;").message


# ---------------------------------------------------------------------------- 4.4 / 4.5


def test_l2_penalty_without_one_half():
    rep = report("04.l2_penalty", edit(SOLUTION, "l2_penalty", ("penalty = 0.5 * weight_decay",
                                                                "penalty = weight_decay")))
    assert _outcome(rep, "gradients on random").status == "pass"
    assert "(weight_decay / 2)" in _outcome(rep, "penalty on random").message


def test_dropout_not_inverted_or_keep_probability():
    rep = report("04.dropout", edit(SOLUTION, "dropout", ("return (u >= p) / (1.0 - p)", "return (u >= p) * 1.0")))
    assert all(o.status == "pass" for o in rep.outcomes if "keeps every unit" in o.check)
    assert "divides them by (1 - p)" in _outcome(rep, "random p").message
    rep = report("04.dropout", edit(SOLUTION, "dropout", ("return (u >= p) / (1.0 - p)", "return (u < p) / (1.0 - p)")))
    assert "probability of DROPPING" in _outcome(rep, "random p").message


def test_dropout_dropping_u_equal_to_p_is_caught_by_the_visible_check_and_named():
    rep = report("04.dropout", edit(SOLUTION, "dropout", ("return (u >= p) / (1.0 - p)", "return (u > p) / (1.0 - p)")),
                 seed=None, hidden=False)
    assert failed(rep) == {"a unit with u exactly equal to p is kept (u >= p), fixed uniforms, p = 0.25"}
    assert [o.code for o in rep.outcomes if o.status != "pass"] == ["04.dropout-drops-u-equal-p"]
    assert "you wrote u > p" in rep.text()
    rep = report("04.dropout", edit(SOLUTION, "dropout", ("return (u >= p) / (1.0 - p)", "return (u > p) / (1.0 - p)")))
    assert "units with u exactly equal to p are kept (u >= p), random shapes and p" in failed(rep)


def test_backward_loop_that_skips_the_first_layer_is_named():
    rep = report("04.mlp", edit(SOLUTION, "mlp", ("range(len(inputs), 0, -1)", "range(len(inputs), 1, -1)")))
    assert {o.code for o in rep.outcomes if o.status != "pass"} == {"04.mlp-first-layer-skipped"}
    assert _outcome(rep, "scores on random").status == "pass"
    assert "stops one layer early" in rep.text()
