"""Tests for backprop_lab.functional, driven by the op registry: adding an op to OPS adds its tests.

Tolerances (normwise relative error, see gradcheck.rel_error):
* vs torch autograd, 1e-10: both sides evaluate the same float64 formulas and differ only in
  rounding and summation order (observed 0 to 1e-15), so 1e-10 leaves a wide margin while any real
  bug (a missing term, a wrong factor, a wrong index) shows up at 1e-3 or more.
* vs centered finite differences, 1e-6: with eps = 1e-6 the truncation error is ~eps**2 = 1e-12 and
  the rounding error ~1e-16 / eps = 1e-10 (observed up to ~5e-9), still far below a real bug.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as tF
from hypothesis import given, settings
from hypothesis import strategies as st

import backprop_lab.functional as F
from backprop_lab.gradcheck import numeric_gradient, rel_error
from backprop_lab.testing import OPS, check_op, run_numpy

TOL_TORCH, TOL_NUMERIC = 1e-10, 1e-6
SEEDS = (0, 1, 2)


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


# ---- every op: numpy backward vs torch autograd and vs finite differences ---------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_torch_and_finite_differences(name, seed):
    results = check_op(OPS[name], np.random.default_rng(seed), tol_torch=TOL_TORCH, tol_numeric=TOL_NUMERIC)
    failed = [str(r) for r in results if not r]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_small_batch(name):
    spec = OPS[name]
    results = check_op(spec, np.random.default_rng(7), n=spec.small_batch, tol_torch=TOL_TORCH,
                       tol_numeric=TOL_NUMERIC)
    assert all(results), "\n".join(str(r) for r in results if not r)


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_in_float32_out(name):
    spec = OPS[name]
    rng = np.random.default_rng(3)
    out, grads = run_numpy(spec, *spec.make_inputs(rng, np.float32))
    if spec.is_loss:
        assert isinstance(out, float)
    else:
        assert out.dtype == np.float32, f"{name}: out is {out.dtype}"
    for k, g in grads.items():
        assert g.dtype == np.float32, f"{name}: d{k} is {g.dtype}"


def test_registry_inputs_match_grad_names():
    for name, spec in OPS.items():
        inputs, _ = spec.make_inputs(np.random.default_rng(0), np.float64)
        assert tuple(inputs) == spec.grad_names, name


def test_no_bias_gives_no_bias_gradient():
    rng = np.random.default_rng(0)
    _, cache = F.linear_forward(rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), None)
    assert F.linear_backward(np.ones((3, 2)), cache)[2] is None
    for forward, backward in ((F.conv2d_forward, F.conv2d_backward),
                              (F.conv2d_forward_naive, F.conv2d_backward_naive)):
        out, cache = forward(rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), None)
        assert backward(np.ones_like(out), cache)[2] is None


@pytest.mark.parametrize("name", sorted(n for n in OPS if not OPS[n].is_loss))
def test_a_cache_of_more_than_two_items_names_its_fields(name):
    """CS231n's (out, cache) pair, with a cache whose fields say what the backward pass reads;
    it still unpacks by position, and backward works from the fields alone."""
    spec = OPS[name]
    inputs, kwargs = spec.make_inputs(np.random.default_rng(0), np.float64)
    out, cache = spec.forward(**inputs, **kwargs)
    if not isinstance(cache, tuple) or len(cache) <= 2 or all(isinstance(v, int) for v in cache):
        return  # one or two items (flatten's is one: the input shape)
    assert type(cache).__name__.endswith("Cache") and len(cache._fields) == len(cache)
    assert list(cache) == [getattr(cache, f) for f in cache._fields]
    rebuilt = type(cache)(**cache._asdict())  # by name only: backward reads nothing else
    dout = np.ones_like(out)
    for ours, again in zip(spec.backward(dout, cache), spec.backward(dout, rebuilt)):
        assert (ours is None and again is None) or np.array_equal(ours, again)


def test_cache_fields_are_the_ones_the_docstrings_name():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    assert F.linear_forward(x[:, 0, 0], x[0, 0], None)[1]._fields == ("x", "weight", "has_bias")
    assert F.conv2d_forward(x, w, None, stride=2, padding=1)[1]._fields == (
        "col", "wmat", "x_shape", "weight_shape", "has_bias", "stride", "padding")
    cache = F.conv2d_forward_naive(x, w, None, stride=(2, 1), padding=1)[1]
    assert (cache.stride, cache.padding, cache.has_bias) == ((2, 1), (1, 1), False)
    cache = F.batchnorm_forward(x, np.ones(3), np.zeros(3), None, None, True)[1]
    assert cache.axes == (0, 2, 3) and cache.pshape == (1, -1, 1, 1) and cache.training
    assert F.maxpool2d_forward(x, 2)[1].kernel_size == (2, 2)
    assert F.avgpool2d_forward(x, 3, 2)[1].x_shape == (2, 3, 5, 5)


# ---- fast conv == naive conv -------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 2), C=st.integers(1, 3), F_=st.integers(1, 3), H=st.integers(3, 7), W=st.integers(3, 7),
       KH=st.integers(1, 3), KW=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_fast_conv_equals_naive(N, C, F_, H, W, KH, KW, sh, sw, ph, pw, bias, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F_, C, KH, KW))
    b = rng.standard_normal(F_) if bias else None
    out, cache = F.conv2d_forward(x, w, b, (sh, sw), (ph, pw))
    ref, ref_cache = F.conv2d_forward_naive(x, w, b, (sh, sw), (ph, pw))
    assert out.shape == ref.shape and out.flags.c_contiguous
    assert rel_error(out, ref) < 1e-12
    dout = rng.standard_normal(out.shape)
    for got, want in zip(F.conv2d_backward(dout, cache), F.conv2d_backward_naive(dout, ref_cache)):
        if want is None:
            assert got is None
        else:
            assert got.shape == want.shape and rel_error(got, want) < 1e-12


# ---- max-pool ties ------------------------------------------------------------------------------
POOL_GEOMETRIES = [(2, None), (3, 1), (2, 1), ((2, 3), (2, 1)), (2, 3), ((3, 2), None)]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride", POOL_GEOMETRIES)
def test_pool_geometries_and_ties_match_torch_exactly(kind, kernel, stride):
    # Digits-like images take few distinct values, so max-pool windows hold exact ties.
    x = np.random.default_rng(0).integers(0, 3, (2, 3, 8, 7)).astype(np.float64)
    x[0, 0, :2, :2] = 5.0  # a window that is all one value
    forward, backward = getattr(F, f"{kind}pool2d_forward"), getattr(F, f"{kind}pool2d_backward")
    out, cache = forward(x, kernel, stride)
    # Integer upstream gradients: sums over overlapping windows are exact in any order, so max-pool
    # can be compared with exact equality (any tie routed differently would show).
    dout = np.random.default_rng(1).integers(-8, 9, out.shape).astype(np.float64)
    xt = _t(x, True)
    tout = getattr(tF, f"{kind}_pool2d")(xt, kernel, stride)
    tout.backward(_t(dout))
    dx = backward(dout, cache)
    if kind == "max":
        assert np.array_equal(out, tout.detach().numpy()) and np.array_equal(dx, xt.grad.numpy())
    else:
        assert rel_error(out, tout.detach().numpy()) < TOL_TORCH and rel_error(dx, xt.grad.numpy()) < TOL_TORCH


def test_maxpool_tie_explicit():
    x = np.array([[[[1.0, 7.0], [7.0, 7.0]]]])
    out, cache = F.maxpool2d_forward(x, 2)
    dx = F.maxpool2d_backward(np.ones_like(out), cache)
    assert np.array_equal(dx, [[[[0.0, 1.0], [0.0, 0.0]]]])  # only the first 7 in row-major order


# ---- dropout ------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    x = np.ones((400, 500))
    out, mask = F.dropout_forward(x, p, True, np.random.default_rng(0))
    std = np.sqrt(p / (1 - p) / x.size)  # std of the mean of x.size scaled Bernoulli draws
    assert abs(out.mean() - 1.0) < 5 * std  # inverted dropout preserves the mean
    assert abs((out == 0).mean() - p) < 0.01
    assert np.allclose(out[out != 0], 1 / (1 - p))
    dout = np.random.default_rng(1).standard_normal(x.shape)
    assert np.array_equal(F.dropout_backward(dout, mask), dout * mask)


def test_dropout_eval_p0_p1_and_rng():
    x = np.random.default_rng(0).standard_normal((5, 7))
    dout = np.ones_like(x)
    for out, cache in (F.dropout_forward(x, 0.5, False), F.dropout_forward(x, 0.0, True, None)):
        assert np.array_equal(out, x) and np.array_equal(F.dropout_backward(dout, cache), dout)
    out, cache = F.dropout_forward(x, 1.0, True, np.random.default_rng(0))
    assert not out.any() and not F.dropout_backward(dout, cache).any()
    same = [F.dropout_forward(x, 0.5, True, np.random.default_rng(4))[0] for _ in range(2)]
    assert np.array_equal(*same)
    with pytest.raises(ValueError, match="rng"):
        F.dropout_forward(x, 0.5, True, None)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.dropout_forward(x, 1.5, True, np.random.default_rng(0))



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_is_the_forward_mask_and_keeps_u_equal_to_p(dtype):
    x = np.ones((6, 5), dtype=dtype)
    u = np.random.default_rng(3).random(x.shape, dtype=dtype)
    mask = F.dropout_forward(x, 0.3, True, np.random.default_rng(3))[1]
    assert mask.dtype == dtype and np.array_equal(F.dropout_mask(u, 0.3), mask)
    assert np.array_equal(F.dropout_mask(np.array([0.25, 0.2499, 0.9]), 0.25), [4 / 3, 0.0, 4 / 3])  # u == p is kept
    assert not F.dropout_mask(u, 1.0).any() and np.array_equal(F.dropout_mask(u, 0.0), np.ones_like(u))


# ---- batchnorm running statistics ---------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_batchnorm_running_stats_and_eval_match_torch(shape, momentum):
    rng = np.random.default_rng(0)
    C = shape[1]
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = np.zeros(C), np.ones(C)
    trm, trv = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    for _ in range(5):
        x = 3 * rng.standard_normal(shape) + 2
        out, _ = F.batchnorm_forward(x, gamma, beta, rm, rv, True, momentum)
        tout = tF.batch_norm(_t(x), trm, trv, _t(gamma), _t(beta), True, momentum, 1e-5)
        assert rel_error(out, tout.numpy()) < TOL_TORCH
    assert rel_error(rm, trm.numpy()) < TOL_TORCH and rel_error(rv, trv.numpy()) < TOL_TORCH
    x = rng.standard_normal(shape)
    out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, False, momentum)
    xt = _t(x, True)
    tout = tF.batch_norm(xt, trm, trv, _t(gamma), _t(beta), False, momentum, 1e-5)
    assert rel_error(out, tout.detach().numpy()) < TOL_TORCH
    dout = rng.standard_normal(shape)
    tout.backward(_t(dout))
    dx = F.batchnorm_backward(dout, cache)[0]
    assert rel_error(dx, xt.grad.numpy()) < TOL_TORCH
    pshape = (1, C) + (1,) * (len(shape) - 2)
    assert np.allclose(dx, dout * (gamma / np.sqrt(rv + 1e-5)).reshape(pshape))  # eval: a fixed affine map


def test_batchnorm_without_running_stats():
    x = np.random.default_rng(0).standard_normal((5, 3))
    args = (x, np.ones(3), np.zeros(3))
    with_stats, _ = F.batchnorm_forward(*args, np.zeros(3), np.ones(3), True)
    without, cache = F.batchnorm_forward(*args, None, None, True)
    assert np.array_equal(with_stats, without) and F.batchnorm_backward(np.ones_like(x), cache)[0].shape == x.shape


def test_batchnorm_training_needs_two_values():
    with pytest.raises(ValueError, match="more than 1 value"):
        F.batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), True)


# ---- numerics at extremes -----------------------------------------------------------------------
def test_sigmoid_extremes_finite_without_warnings():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out, cache = F.sigmoid_forward(x)
        dx = F.sigmoid_backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert out[0] == 0.0 and out[-1] == 1.0 and out[2] == 0.5
    assert rel_error(out, torch.sigmoid(_t(x)).numpy()) < TOL_TORCH


def test_softmax_cross_entropy_extreme_logits_match_torch():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    labels = np.array([1, 2, 0])
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dlogits = F.softmax_cross_entropy(logits, labels)
    xt = _t(logits, True)
    tloss = tF.cross_entropy(xt, torch.tensor(labels))
    tloss.backward()
    assert np.isfinite(loss) and abs(loss - tloss.item()) <= TOL_TORCH * abs(tloss.item())
    assert rel_error(dlogits, xt.grad.numpy()) < TOL_TORCH


def test_bce_with_logits_extreme_logits_match_torch():
    logits, targets = np.array([[1000.0, -1000.0, 3.0, -1000.0]]), np.array([[0.0, 0.0, 1.0, 1.0]])
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dlogits = F.binary_cross_entropy_with_logits(logits, targets)
    xt = _t(logits, True)
    tloss = tF.binary_cross_entropy_with_logits(xt, _t(targets))
    tloss.backward()
    assert abs(loss - tloss.item()) <= TOL_TORCH * abs(tloss.item())
    assert rel_error(dlogits, xt.grad.numpy()) < TOL_TORCH


@pytest.mark.parametrize("ours,theirs", [
    ((F.relu_forward, F.relu_backward), tF.relu),
    ((lambda v: F.leaky_relu_forward(v, 0.2), F.leaky_relu_backward), lambda v: tF.leaky_relu(v, 0.2)),
])
def test_derivative_at_exactly_zero_matches_torch(ours, theirs):
    x = np.array([-1.0, 0.0, 2.0])  # relu'(0) = 0 and leaky_relu'(0) = negative_slope in torch
    xt = _t(x, True)
    theirs(xt).sum().backward()
    forward, backward = ours
    assert np.array_equal(backward(np.ones(3), forward(x)[1]), xt.grad.numpy())


def test_penalty_conventions():
    ws = [np.array([[1.0, -2.0], [0.0, 3.0]]), np.array([0.5])]
    pen, grads = F.l2_penalty(ws, 0.1)
    assert pen == pytest.approx(0.1 / 2 * (1 + 4 + 9 + 0.25))
    assert all(np.allclose(g, 0.1 * w) for g, w in zip(grads, ws))
    pen, grads = F.l1_penalty(iter(ws), 0.1)
    assert pen == pytest.approx(0.1 * 6.5) and grads[0][1, 0] == 0.0  # sign(0) = 0, like torch


def test_numeric_gradient_agrees_on_a_layer_stack():
    # One chained check (conv -> relu -> maxpool -> flatten -> linear -> softmax CE) end to end.
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 2, 6, 6)), 0.5 * rng.standard_normal((3, 2, 3, 3))
    fc, labels = 0.5 * rng.standard_normal((4, 27)), np.array([1, 3])

    def loss_and_grad(x):
        h1, c1 = F.conv2d_forward(x, w, None, 1, 1)
        h2, c2 = F.relu_forward(h1)
        h3, c3 = F.maxpool2d_forward(h2, 2)
        h4, c4 = F.flatten_forward(h3)
        h5, c5 = F.linear_forward(h4, fc, None)
        loss, d = F.softmax_cross_entropy(h5, labels)
        d = F.flatten_backward(F.linear_backward(d, c5)[0], c4)
        return loss, F.conv2d_backward(F.relu_backward(F.maxpool2d_backward(d, c3), c2), c1)[0]

    num = numeric_gradient(lambda v: loss_and_grad(v)[0], x)
    assert rel_error(loss_and_grad(x)[1], num) < TOL_NUMERIC


# ---- error messages -----------------------------------------------------------------------------
_x45 = np.ones((4, 5))
ERRORS = [
    (lambda: F.linear_forward(_x45, np.ones((5, 3)), None), ValueError,
     ["linear_forward: weight", "(out_features, in_features) = (?, 5)", "got (5, 3)", "transposed"]),
    (lambda: F.linear_forward(np.ones((2, 3, 5)), np.ones((2, 5)), None), ValueError, ["(N, D)", "got (2, 3, 5)"]),
    (lambda: F.linear_forward(_x45, np.ones((3, 5)), np.ones(5)), ValueError, ["bias", "(out_features,) = (3,)"]),
    (lambda: F.linear_forward(np.ones((4, 5), dtype=int), np.ones((3, 5)), None), TypeError, ["floating-point"]),
    (lambda: F.conv2d_forward(np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3)), None), ValueError,
     ["conv2d_forward: weight", "(F, C, KH, KW) = (?, 3, ?, ?)", "got (4, 2, 3, 3)"]),
    (lambda: F.conv2d_forward_naive(np.ones((3, 5, 5)), np.ones((4, 3, 3, 3)), None), ValueError,
     ["(N, C, H, W)", "got (3, 5, 5)"]),
    (lambda: F.conv2d_forward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), None), ValueError, ["larger than"]),
    (lambda: F.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None, stride=0), ValueError, ["stride"]),
    (lambda: F.maxpool2d_forward(_x45, 2), ValueError, ["maxpool2d_forward: x", "(N, C, H, W)", "got (4, 5)"]),
    (lambda: F.batchnorm_forward(np.ones((4, 3, 2, 2)), np.ones(4), np.zeros(3), np.zeros(3), np.ones(3), True),
     ValueError, ["gamma", "(C,) = (3,)", "got (4,)"]),
    (lambda: F.batchnorm_forward(np.ones((4, 3, 2)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), True),
     ValueError, ["(N, D) or (N, C, H, W)"]),
    (lambda: F.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 3])), ValueError, ["[0, 3)", "got [3]"]),
    (lambda: F.softmax_cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0])), TypeError, ["integer"]),
    (lambda: F.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 1, 2])), ValueError, ["labels", "(N,) = (2,)"]),
    (lambda: F.mse_loss(np.ones((2, 3)), np.ones((3, 2))), ValueError, ["mse_loss: target", "(2, 3)", "got (3, 2)"]),
    (lambda: F.relu_backward(np.ones((2, 2)), np.ones((2, 3))), ValueError, ["relu_backward: dout", "got (2, 2)"]),
]


@pytest.mark.parametrize("call,exc,fragments", ERRORS)
def test_error_messages_name_the_expected_shape(call, exc, fragments):
    with pytest.raises(exc) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {info.value}"
