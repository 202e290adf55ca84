"""When no known bug fits, the checker still says where the error is (backprop_lab.localize, the last
step of gradcheck.diagnose_with_code); and it never calls one wrong number "a constant factor"."""
import numpy as np
import pytest

from backprop_lab.gradcheck import check_close, diagnose_with_code

RNG = np.random.default_rng(0)
E = RNG.normal(size=(5, 4))


def _diag(c, e=E, **kw):
    r = check_close(c, e, name="dx", **kw)
    assert not r.passed
    return r.code, r.message


def test_a_wrong_scalar_says_what_it_is_and_what_it_should_be():
    code, msg = _diag(np.float64(1.37), np.float64(0.42))
    assert code == "wrong-value" and "is 1.37 but should be 0.42" in msg
    assert "constant factor" not in msg
    # a factor of 2 or of N is still a cause worth naming, for one number too
    assert _diag(np.float64(0.84), np.float64(0.42))[0] == "factor-of-2"
    assert _diag(np.float64(4.2), np.float64(0.42), batch_size=10)[0] == "factor-of-N"


def test_the_list_of_scale_factors_names_lambda():
    code, msg = _diag(0.01 * E)
    assert code == "constant-factor" and "1/100" in msg and "weight decay λ" in msg


def test_an_offset_in_every_row_points_at_a_bias():
    code, msg = _diag(E + RNG.normal(size=4))
    assert code == "row-offset" and "bias" in msg
    assert _diag(E + 0.5)[0] == "constant-offset"


def test_errors_only_where_the_expected_value_is_zero():
    e = np.where(E > 0, E, 0.0)           # relu'(x) * dout with dout = E
    c = np.where(E >= -0.3, E, 0.0)       # lets some of the blocked entries through
    code, msg = _diag(c, e)
    assert code == "wrong-where-zero" and "x > 0 vs x >= 0" in msg


def test_errors_only_at_the_border():
    e = RNG.normal(size=(2, 3, 6, 6))        # (N, C, H, W)
    c = e.copy()
    c[:, :, 0, :] += RNG.normal(size=(2, 3, 6))
    code, msg = _diag(c, e)
    assert code == "border" and "padding" in msg


@pytest.mark.parametrize("rows", [[1], [0, 3]])
def test_a_few_wrong_rows_are_named(rows):
    c = E.copy()
    c[rows] = RNG.normal(size=(len(rows), 4))
    code, msg = _diag(c)
    assert code in ("partly-wrong", "differs")
    assert f"row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))} of 5 (axis 0)" in msg, msg


def test_entries_left_at_zero_are_called_so():
    c = E.copy()
    c[:, 3] = 0.0
    code, msg = _diag(c)
    assert code == "partly-wrong" and "column 3 of 4" in msg and "yours are 0 there" in msg
    assert "wrong in the rest" in msg


def test_no_pattern_still_points_at_the_worst_entry():
    c = RNG.normal(size=E.shape)
    code, msg = _diag(c)
    assert code == "differs" and "the largest difference is at index [" in msg and "got" in msg
    assert diagnose_with_code(c, E, "dx")[1] is not None
