"""Notebook 01 (the chain rule): a bug loses exactly the points of the checks it breaks, visible and
hidden alike, and a wrong number is never called "off by a constant factor".

Every catalogued bug and its code: tests/test_bug_catalogue.py (tests/bugs/bugs_01.py).
"""
from exercise_kit import assert_exercises, edit, report, solution_cells

SOLUTION = solution_cells("01_chain_rule")
KEYS = ["01.local_derivatives", "01.two_layer", "01.numerical_gradient"]
RESTORE = {"x is unchanged afterwards", "x is unchanged afterwards, random x"}
CENTERED = {"centered, not one-sided, differences (eps = 1e-3)", "centered differences at random points (eps = 1e-3)"}


def test_the_notebook_has_these_exercises():
    assert_exercises("01_chain_rule", KEYS, total=12, min_checks=6)


def test_x_not_restored_loses_the_restore_points_and_is_named_wherever_it_fails():
    cells = edit(SOLUTION, "numerical_gradient", ("        x[i] = old\n", ""))
    for seed in (0, 1, 2):
        rep = report("01.numerical_gradient", cells, seed=seed)
        failed = {o.check: o for o in rep.outcomes if o.status != "pass"}
        assert RESTORE <= set(failed), rep.text()
        # the shifted point may also spoil a gradient beyond the tolerance: then that says why, too
        assert {o.code for o in failed.values()} == {"01.numgrad-x-not-restored"}, rep.text()
        assert "constant factor" not in rep.text()


def test_a_one_sided_difference_loses_the_centered_points_only():
    # f(x - eps) evaluated at x: (f(x + eps) - f(x)) / (2 eps), half a forward difference
    one_sided = ("        x[i] = old - eps\n", "        x[i] = old\n")
    rep = report("01.numerical_gradient", edit(SOLUTION, "numerical_gradient", one_sided), seed=0)
    assert {o.check for o in rep.outcomes if o.status != "pass"} >= CENTERED
    assert "x[i] = old - eps" in rep.text() and "constant factor" not in rep.text()


def test_a_wrong_scalar_is_not_called_a_constant_factor():
    rep = report("01.two_layer", edit(SOLUTION, "two_layer", ('"b2": d_yhat}', '"b2": d_yhat + 0.3 * h}')),
                 seed=0, hidden=False)
    (failed,) = [o for o in rep.outcomes if o.status != "pass"]
    assert failed.check == "dloss/db2 at the worked example" and failed.code == "wrong-value"
    assert "constant factor" not in rep.text() and "but should be" in rep.text()


def test_sigmoid_written_with_its_input_is_named_in_both_notebooks():
    rep = report("01.local_derivatives", edit(SOLUTION, "local_derivatives", (
        "s = np.exp(-np.logaddexp(0.0, -z))  # 1 / (1 + e^-z) without overflow\n    return s * (1 - s)",
        "return z * (1 - z)")), seed=0)
    assert {o.code for o in rep.outcomes if o.status != "pass"} == {"01.sigmoid-uses-input"}
    assert "s = sigmoid(z) is the OUTPUT" in rep.text()


def test_tanh_squared_inside_is_named():
    rep = report("01.local_derivatives", edit(SOLUTION, "local_derivatives", (
        "return 1 - np.tanh(z) ** 2", "return 1 - np.tanh(z ** 2)")), seed=0)
    assert {o.code for o in rep.outcomes if o.status != "pass"} == {"01.tanh-square-inside"}, rep.text()
    assert "1 - tanh(z**2)" in rep.text()


def test_dividing_the_centered_difference_by_eps_is_named_not_a_factor_of_2_of_x_squared():
    rep = report("01.numerical_gradient", edit(SOLUTION, "numerical_gradient", (
        "grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f_minus) / eps")), seed=0)
    failed = [o for o in rep.outcomes if o.status != "pass"]
    assert failed and {o.code for o in failed} == {"01.numgrad-divides-by-eps"}, rep.text()
    assert "divide it by 2*eps" in rep.text() and "d(x^2)/dx" not in rep.text()
