"""The registry of functional ops: one `OpSpec` per op variant, driving tests, notebooks and the grader.

Each spec knows the numpy reference pair, the names of the differentiable inputs, how to make
random inputs that are safe for finite differences, and a torch twin. With it, "forward and
backward in numpy, the same in torch autograd, compare" is one call for any op::

    from backprop_lab.testing import OPS, check_op
    for result in check_op(OPS["conv2d"], np.random.default_rng(0)):
        print(result)          # PASS conv2d.dweight: matches torch (rel. error 3.1e-16 <= 1e-10) ...

Lower-level pieces: `run_numpy`, `run_torch`, `run_numeric` (finite differences) and `make_dout`.
torch is imported only when a twin runs, so importing this module stays cheap.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .functional import activations as act
from .functional import batchnorm as bn
from .functional import conv, dropout, linear, losses, pool
from .gradcheck import check_close, numeric_gradient


class _Lazy:
    """A module imported on first attribute access (keeps torch out of `import` time)."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)


torch, tF = _Lazy("torch"), _Lazy("torch.nn.functional")


@dataclass(frozen=True)
class OpSpec:
    """One op variant.

    Attributes:
        name: key in `OPS`, e.g. "conv2d_stride2_pad1".
        forward: ``forward(**inputs, **kwargs) -> (out, cache)``; for losses ``-> (loss, grad)``
            where grad is dloss/d(first input), or a list of grads (penalties).
        backward: ``backward(dout, cache) -> grad or tuple of grads`` in `grad_names` order (extra
            trailing entries, such as an unused dbias, are ignored); None for losses.
        grad_names: the differentiable inputs, in the order the gradients come back.
        make_inputs: ``make_inputs(rng, dtype, n=None) -> (inputs, kwargs)``: `inputs` holds the
            differentiable arrays (keys = grad_names), `kwargs` everything else (labels, running
            statistics, stride...). `n` fixes the batch size (random, odd-ish sizes when None).
            Values stay away from kinks (relu near 0, max-pool near-ties) so finite differences hold.
        torch_forward: ``torch_forward(**tensors, **kwargs) -> tensor``, built from torch.nn.functional;
            array kwargs arrive as tensors.
        is_loss: forward returns (loss, grad) instead of (out, cache).
        small_batch: the batch size of the "small batch" test case: 1, except 3 for batchnorm1d in
            training mode (it needs N > 1, and with N = 2 every xhat is +-1 so its gradient nearly
            vanishes and finite differences only see noise).
    """

    name: str
    forward: Callable[..., tuple]
    backward: Callable[[Any, Any], Any] | None
    grad_names: tuple[str, ...]
    make_inputs: Callable[..., tuple[dict, dict]]
    torch_forward: Callable[..., Any]
    is_loss: bool = False
    small_batch: int = 1


# ---- runners ---------------------------------------------------------------------------------
def _fresh(kwargs):
    """Copy array kwargs so in-place updates (batchnorm running stats) never leak between runs."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def make_dout(spec: OpSpec, out, rng: np.random.Generator):
    """A random upstream gradient for `out` (a float for losses), same dtype as out."""
    if spec.is_loss:
        return float(rng.uniform(0.5, 2.0))
    return rng.standard_normal(np.shape(out)).astype(out.dtype)


def run_numpy(spec: OpSpec, inputs: dict, kwargs: dict, dout=None):
    """Forward and backward with the numpy reference. Returns (out, {name: grad}).

    `dout` is the upstream gradient (shape of out; a float for losses); None means ones.
    """
    out, cache = spec.forward(**inputs, **_fresh(kwargs))
    if dout is None:
        dout = 1.0 if spec.is_loss else np.ones_like(out)
    if spec.is_loss:
        grads = tuple(dout * g for g in (cache if isinstance(cache, list) else [cache]))
    else:
        grads = spec.backward(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
    return out, dict(zip(spec.grad_names, grads))


def run_torch(spec: OpSpec, inputs: dict, kwargs: dict, dout=None):
    """The same with the torch twin and autograd. Returns (out, {name: grad}) as numpy arrays."""
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out = spec.torch_forward(**tensors, **tkw)
    out.backward(torch.ones_like(out) if dout is None else torch.as_tensor(np.asarray(dout), dtype=out.dtype))
    grads = {k: (t.grad if t.grad is not None else torch.zeros_like(t)).numpy() for k, t in tensors.items()}
    return out.detach().numpy(), grads


def run_numeric(spec: OpSpec, inputs: dict, kwargs: dict, dout) -> dict:
    """Centered finite-difference gradients (via `gradcheck.numeric_gradient`) of every input."""
    def f(_):  # numeric_gradient perturbs inputs[name] in place; forward reads it from `inputs`
        return spec.forward(**inputs, **_fresh(kwargs))[0]

    return {name: numeric_gradient(f, inputs[name], dout) for name in spec.grad_names}


def check_op(spec: OpSpec, rng: np.random.Generator, n: int | None = None,
             against=("torch", "numeric"), tol_torch: float = 1e-10, tol_numeric: float = 1e-6) -> list:
    """Run `spec` on fresh float64 inputs (batch size `n`) with a random dout and compare with
    torch autograd and/or centered finite differences (`against`).

    Returns a list of `gradcheck.CheckResult` (truthy when passed), one per compared array:
    vs torch the forward output and every gradient, vs "numeric" every gradient.
    """
    inputs, kwargs = spec.make_inputs(rng, np.float64, n)
    dout = make_dout(spec, spec.forward(**inputs, **_fresh(kwargs))[0], rng)
    out, grads = run_numpy(spec, inputs, kwargs, dout)
    first = inputs[spec.grad_names[0]]
    batch = first.shape[0] if first.ndim else None  # lets a failure say "factor of N"
    results = []
    if "torch" in against:
        t_out, t_grads = run_torch(spec, inputs, kwargs, dout)
        results.append(check_close(out, t_out, f"{spec.name}.out", "torch", tol_torch))
        results += [check_close(grads[k], t_grads[k], f"{spec.name}.d{k}", "torch", tol_torch, batch)
                    for k in spec.grad_names]
    if "numeric" in against:
        num = run_numeric(spec, inputs, kwargs, dout)
        results += [check_close(grads[k], num[k], f"{spec.name}.d{k}", "numeric", tol_numeric, batch)
                    for k in spec.grad_names]
    return results


# ---- input makers ----------------------------------------------------------------------------
def _batch(rng, n, low=1, high=5):
    return int(rng.integers(low, high + 1)) if n is None else n


def _randn(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def away_from_zero(rng, shape, dtype, margin=0.05):
    """Normal values with |x| >= margin: no input sits on the kink of relu/leaky_relu/abs."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin).astype(dtype)


def distinct_values(rng, shape, dtype):
    """A shuffled grid of values at least ~4/size apart: no near-ties inside a max-pool window."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * (4.0 / size)).reshape(shape).astype(dtype)


def _images(rng, n, channels=(1, 3), sizes=(5, 7)):
    """A random (N, C, H, W) image-batch shape."""
    size = lambda bounds: int(rng.integers(*bounds, endpoint=True))
    return (_batch(rng, n, 1, 3), size(channels), size(sizes), size(sizes))


def _unary(make_x):
    return lambda rng, dtype, n=None: ({"x": make_x(rng, (_batch(rng, n), int(rng.integers(2, 7))), dtype)}, {})


def _linear_inputs(rng, dtype, n=None):
    N, D, M = _batch(rng, n), int(rng.integers(2, 8)), int(rng.integers(1, 6))
    return {"x": _randn(rng, (N, D), dtype), "weight": _randn(rng, (M, D), dtype, 0.5),
            "bias": _randn(rng, (M,), dtype)}, {}


def _bn_inputs(ndim, training):
    def make(rng, dtype, n=None):
        N, C = _batch(rng, n, 3 if ndim == 2 and training else 1, 5), int(rng.integers(1, 5))
        shape = (N, C) if ndim == 2 else (N, C, int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        inputs = {"x": _randn(rng, shape, dtype, 2.0) + 1, "gamma": _randn(rng, (C,), dtype) + 1,
                  "beta": _randn(rng, (C,), dtype)}
        stats = {"running_mean": _randn(rng, (C,), dtype), "running_var": rng.uniform(0.5, 2, C).astype(dtype)}
        return inputs, dict(stats, training=training, momentum=0.1, eps=1e-5)
    return make


def _conv_inputs(kernel, stride, padding, bias=True, small=False):
    def make(rng, dtype, n=None):
        N, C, H, W = _images(rng, n, (1, 2), (4, 5)) if small else _images(rng, n)
        KH, KW = (kernel, kernel) if isinstance(kernel, int) else kernel
        F = int(rng.integers(1, 3 if small else 4))
        inputs = {"x": _randn(rng, (N, C, H, W), dtype), "weight": _randn(rng, (F, C, KH, KW), dtype, 0.5)}
        if bias:
            inputs["bias"] = _randn(rng, (F,), dtype)
        return inputs, dict(stride=stride, padding=padding, **({} if bias else {"bias": None}))
    return make


def _pool_inputs(kernel, stride, make_x):
    def make(rng, dtype, n=None):
        return {"x": make_x(rng, _images(rng, n, sizes=(4, 7)), dtype)}, dict(kernel_size=kernel, stride=stride)
    return make


def _loss_inputs(kind):
    def make(rng, dtype, n=None):
        N, C = _batch(rng, n), int(rng.integers(2, 6))
        if kind == "ce":
            return {"logits": _randn(rng, (N, C), dtype, 3.0)}, {"labels": rng.integers(0, C, N)}
        if kind == "bce":
            return {"logits": _randn(rng, (N, C), dtype, 3.0)}, {"targets": rng.uniform(0, 1, (N, C)).astype(dtype)}
        if kind == "mse":
            return {"pred": _randn(rng, (N, C), dtype)}, {"target": _randn(rng, (N, C), dtype)}
        return ({"w0": away_from_zero(rng, (C, N + 1), dtype), "w1": away_from_zero(rng, (C,), dtype)},
                {"weight_decay": 0.03})
    return make


# ---- twins and wrappers that need them -------------------------------------------------------
def _dropout_train(x, p, seed):
    return dropout.dropout_forward(x, p, True, np.random.default_rng(seed))


def _dropout_train_torch(x, p, seed):
    # torch's own RNG cannot reproduce our mask: rebuild the mask from the scaled one our forward
    # returns for a tensor of ones, then let torch do the scaling and the autograd.
    mask = dropout.dropout_forward(np.ones(tuple(x.shape)), p, True, np.random.default_rng(seed))[0]
    return x * torch.from_numpy(mask)


def _bn_torch(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    return tF.batch_norm(x, running_mean, running_var, gamma, beta, training, momentum, eps)


def _penalty(fn):
    return lambda w0, w1, weight_decay: fn([w0, w1], weight_decay)


def _ops():
    S = OpSpec
    conv_twin = lambda x, weight, bias, stride, padding: tF.conv2d(x, weight, bias, stride, padding)
    pool_max = lambda x, kernel_size, stride: tF.max_pool2d(x, kernel_size, stride)
    pool_avg = lambda x, kernel_size, stride: tF.avg_pool2d(x, kernel_size, stride)
    xw_b, x_only = ("x", "weight", "bias"), ("x",)
    return [
        S("linear", linear.linear_forward, linear.linear_backward, xw_b, _linear_inputs,
          lambda x, weight, bias: tF.linear(x, weight, bias)),
        S("relu", act.relu_forward, act.relu_backward, x_only, _unary(away_from_zero), lambda x: tF.relu(x)),
        S("leaky_relu", lambda x: act.leaky_relu_forward(x, 0.1), act.leaky_relu_backward, x_only,
          _unary(away_from_zero), lambda x: tF.leaky_relu(x, 0.1)),
        S("sigmoid", act.sigmoid_forward, act.sigmoid_backward, x_only,
          _unary(lambda r, s, d: _randn(r, s, d, 3.0)), lambda x: torch.sigmoid(x)),
        S("tanh", act.tanh_forward, act.tanh_backward, x_only, _unary(_randn), lambda x: torch.tanh(x)),
        S("dropout_train", _dropout_train, dropout.dropout_backward, x_only,
          lambda r, d, n=None: ({"x": _randn(r, (_batch(r, n), 6), d)}, {"p": 0.3, "seed": int(r.integers(1000))}),
          _dropout_train_torch),
        S("dropout_eval", lambda x, p: dropout.dropout_forward(x, p, False), dropout.dropout_backward, x_only,
          lambda r, d, n=None: ({"x": _randn(r, (_batch(r, n), 4), d)}, {"p": 0.5}),
          lambda x, p: tF.dropout(x, p, training=False)),
        S("batchnorm1d_train", bn.batchnorm_forward, bn.batchnorm_backward, ("x", "gamma", "beta"),
          _bn_inputs(2, True), _bn_torch, small_batch=3),
        S("batchnorm1d_eval", bn.batchnorm_forward, bn.batchnorm_backward, ("x", "gamma", "beta"),
          _bn_inputs(2, False), _bn_torch),
        S("batchnorm2d_train", bn.batchnorm_forward, bn.batchnorm_backward, ("x", "gamma", "beta"),
          _bn_inputs(4, True), _bn_torch),
        S("batchnorm2d_eval", bn.batchnorm_forward, bn.batchnorm_backward, ("x", "gamma", "beta"),
          _bn_inputs(4, False), _bn_torch),
        S("conv2d", conv.conv2d_forward, conv.conv2d_backward, xw_b, _conv_inputs(3, 1, 1), conv_twin),
        S("conv2d_naive", conv.conv2d_forward_naive, conv.conv2d_backward_naive, xw_b,
          _conv_inputs(3, 1, 1, small=True), conv_twin),
        S("conv2d_stride2_pad1", conv.conv2d_forward, conv.conv2d_backward, xw_b, _conv_inputs(3, 2, 1),
          conv_twin),
        S("conv2d_rect_nobias", conv.conv2d_forward, conv.conv2d_backward, ("x", "weight"),
          _conv_inputs((2, 3), (2, 1), (0, 1), bias=False), conv_twin),
        S("maxpool2d", pool.maxpool2d_forward, pool.maxpool2d_backward, x_only, _pool_inputs(2, None, distinct_values),
          pool_max),
        S("maxpool2d_overlap", pool.maxpool2d_forward, pool.maxpool2d_backward, x_only,
          _pool_inputs(3, 1, distinct_values), pool_max),
        S("maxpool2d_rect", pool.maxpool2d_forward, pool.maxpool2d_backward, x_only,
          _pool_inputs((2, 3), (1, 2), distinct_values), pool_max),
        S("avgpool2d", pool.avgpool2d_forward, pool.avgpool2d_backward, x_only, _pool_inputs(2, None, _randn),
          pool_avg),
        S("avgpool2d_overlap", pool.avgpool2d_forward, pool.avgpool2d_backward, x_only,
          _pool_inputs(3, 2, _randn), pool_avg),
        S("flatten", pool.flatten_forward, pool.flatten_backward, x_only,
          lambda r, d, n=None: ({"x": _randn(r, _images(r, n), d)}, {}), lambda x: torch.flatten(x, 1)),
        S("mse_loss", losses.mse_loss, None, ("pred",), _loss_inputs("mse"),
          lambda pred, target: tF.mse_loss(pred, target), is_loss=True),
        S("softmax_cross_entropy", losses.softmax_cross_entropy, None, ("logits",), _loss_inputs("ce"),
          lambda logits, labels: tF.cross_entropy(logits, labels), is_loss=True),
        S("bce_with_logits", losses.binary_cross_entropy_with_logits, None, ("logits",), _loss_inputs("bce"),
          lambda logits, targets: tF.binary_cross_entropy_with_logits(logits, targets), is_loss=True),
        S("l1_penalty", _penalty(losses.l1_penalty), None, ("w0", "w1"), _loss_inputs("l1"),
          lambda w0, w1, weight_decay: weight_decay * (w0.abs().sum() + w1.abs().sum()), is_loss=True),
        S("l2_penalty", _penalty(losses.l2_penalty), None, ("w0", "w1"), _loss_inputs("l2"),
          lambda w0, w1, weight_decay: weight_decay / 2 * ((w0 ** 2).sum() + (w1 ** 2).sum()), is_loss=True),
    ]


#: name -> OpSpec for every op variant; adding an entry adds its tests.
OPS: dict[str, OpSpec] = {spec.name: spec for spec in _ops()}
