"""The checker itself: numeric gradients, normwise errors, and the diagnosis of common bugs."""
import numpy as np
import pytest

from backprop_lab.gradcheck import check_close, check_gradient, default_eps, diagnose, numeric_gradient, rel_error


def _linear_grads(rng, n=7, d=5, m=3):
    x, w, dout = rng.normal(size=(n, d)), rng.normal(size=(m, d)), rng.normal(size=(n, m))
    return x, w, dout, dout.T @ x, dout.sum(axis=0)


def test_numeric_gradient_matches_analytic_float64():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))
    g = numeric_gradient(lambda a: np.sin(a) * a, x, dout=np.ones_like(x))
    assert rel_error(g, np.cos(x) * x + np.sin(x)) < 1e-8


def test_numeric_gradient_restores_input_and_handles_scalar_loss():
    x = np.array([2.0, 3.0])
    before = x.copy()
    g = numeric_gradient(lambda a: (a[0] * a[1] - 10) ** 2, x)
    assert np.array_equal(x, before)
    np.testing.assert_allclose(g, [-24.0, -16.0], rtol=1e-8)


def test_dtype_aware_eps_makes_float32_usable():
    x = np.linspace(-1, 1, 11).astype(np.float32)
    g = numeric_gradient(lambda a: a.astype(np.float32) ** 3, x)
    assert default_eps(np.float32) > default_eps(np.float64)
    assert rel_error(g, 3 * x.astype(np.float64) ** 2) < 1e-2


def test_kinks_are_flagged():
    x = np.array([-1.0, 0.0, 2e-7, 1.0])
    _, kinks = numeric_gradient(lambda a: np.maximum(a, 0), x, return_kinks=True)
    assert kinks.tolist() == [False, True, True, False]


def test_rel_error_is_normwise_not_elementwise():
    e = np.array([1.0, 1e-12])
    a = np.array([1.0, 2e-12])  # elementwise 100% off at a near-zero entry
    assert rel_error(a, e) < 1e-11


@pytest.mark.parametrize("bug, words", [
    (lambda dw, n: dw * n, "factor of N = 7"),
    (lambda dw, n: dw / n, "too small by a factor of N"),
    (lambda dw, n: -dw, "wrong sign"),
    (lambda dw, n: dw.T, "transposed"),
    (lambda dw, n: np.zeros_like(dw), "all zeros"),
    (lambda dw, n: dw * np.nan, "NaN"),
    (lambda dw, n: 2 * dw, "twice"),
    (lambda dw, n: None, "returned nothing"),
    (lambda dw, n: dw[:, :2], "wrong shape"),
])
def test_diagnosis_names_the_bug(bug, words):
    x, w, dout, dw, _ = _linear_grads(np.random.default_rng(1))
    r = check_close(bug(dw, 7), dw, name="dweight", batch_size=7)
    assert not r.passed
    assert words in r.message, r.message


def test_unsummed_bias_gradient_is_recognized():
    _, _, dout, _, db = _linear_grads(np.random.default_rng(2))
    msg = diagnose(dout, db, name="dbias")  # per-example grads, never summed over N
    assert "Sum the per-example gradients over the batch axis" in msg


def test_square_transpose_is_recognized():
    rng = np.random.default_rng(3)
    g = rng.normal(size=(4, 4))
    assert "transposed" in check_close(g.T, g, "dW").message


def test_partially_wrong_gradient_is_localized():
    g = np.random.default_rng(4).normal(size=(10, 10))
    bad = g.copy()
    bad[g < -1] = 0.0  # a missing branch for some entries
    r = check_close(bad, g, "dx")
    assert not r.passed and "wrong in the rest" in r.message


def test_check_gradient_uses_every_source_and_reports_the_failing_one():
    x, w, dout, dw, _ = _linear_grads(np.random.default_rng(5))
    ok = check_gradient(dw, "dweight", numeric=dw + 1e-9, reference=dw, torch=dw)
    assert ok.passed and ok.against == "reference and torch and numeric"
    bad = check_gradient(dw, "dweight", reference=dw, torch=dw * 1.01)
    assert not bad.passed and bad.against == "torch"
    with pytest.raises(ValueError):
        check_gradient(dw)


def test_check_close_accepts_torch_tensors_and_masks():
    import torch
    g = np.arange(6.0).reshape(2, 3)
    assert check_gradient(g, torch=torch.tensor(g)).passed
    wrong = g.copy()
    wrong[0, 0] = 100
    assert check_close(wrong, g, mask=g != 0).passed
    assert not check_close(wrong, g).passed


def test_numeric_gradient_rejects_integer_input():
    with pytest.raises(TypeError, match="float"):
        numeric_gradient(lambda a: a, np.arange(3))
