"""`OPS`: every op variant of `backprop_lab.functional` as an `OpSpec` (reference pair, input maker,
torch twin). tests/test_functional.py runs `check_op` on each entry, so adding an entry adds its tests.
"""
from __future__ import annotations

import numpy as np

from ..functional import activations as act
from ..functional import batchnorm as bn
from ..functional import conv, dropout, linear, losses, pool
from .inputs import away_from_zero, batch_size, distinct_values, image_shape, randn
from .runners import OpSpec, tF, torch

__all__ = ["OPS"]


# ---- input makers: make(rng, dtype, n=None) -> (inputs, kwargs) ------------------------------
def _unary(make_x):
    return lambda rng, dtype, n=None: ({"x": make_x(rng, (batch_size(rng, n), int(rng.integers(2, 7))), dtype)}, {})


def _linear_inputs(rng, dtype, n=None):
    N, D, M = batch_size(rng, n), int(rng.integers(2, 8)), int(rng.integers(1, 6))
    return {"x": randn(rng, (N, D), dtype), "weight": randn(rng, (M, D), dtype, 0.5),
            "bias": randn(rng, (M,), dtype)}, {}


def _bn_inputs(ndim, training):
    def make(rng, dtype, n=None):
        N, C = batch_size(rng, n, 3 if ndim == 2 and training else 1, 5), int(rng.integers(1, 5))
        shape = (N, C) if ndim == 2 else (N, C, int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        inputs = {"x": randn(rng, shape, dtype, 2.0) + 1, "gamma": randn(rng, (C,), dtype) + 1,
                  "beta": randn(rng, (C,), dtype)}
        stats = {"running_mean": randn(rng, (C,), dtype), "running_var": rng.uniform(0.5, 2, C).astype(dtype)}
        return inputs, dict(stats, training=training, momentum=0.1, eps=1e-5)
    return make


def _conv_inputs(kernel, stride, padding, bias=True, small=False):
    def make(rng, dtype, n=None):
        N, C, H, W = image_shape(rng, n, (1, 2), (4, 5)) if small else image_shape(rng, n)
        KH, KW = (kernel, kernel) if isinstance(kernel, int) else kernel
        F = int(rng.integers(1, 3 if small else 4))
        inputs = {"x": randn(rng, (N, C, H, W), dtype), "weight": randn(rng, (F, C, KH, KW), dtype, 0.5)}
        if bias:
            inputs["bias"] = randn(rng, (F,), dtype)
        return inputs, dict(stride=stride, padding=padding, **({} if bias else {"bias": None}))
    return make


def _pool_inputs(kernel, stride, make_x):
    def make(rng, dtype, n=None):
        return {"x": make_x(rng, image_shape(rng, n, sizes=(4, 7)), dtype)}, dict(kernel_size=kernel, stride=stride)
    return make


def _loss_inputs(kind):
    def make(rng, dtype, n=None):
        N, C = batch_size(rng, n), int(rng.integers(2, 6))
        if kind == "ce":
            return {"logits": randn(rng, (N, C), dtype, 3.0)}, {"labels": rng.integers(0, C, N)}
        if kind == "bce":
            return {"logits": randn(rng, (N, C), dtype, 3.0)}, {"targets": rng.uniform(0, 1, (N, C)).astype(dtype)}
        if kind == "mse":
            return {"pred": randn(rng, (N, C), dtype)}, {"target": randn(rng, (N, C), dtype)}
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
          _unary(lambda r, s, d: randn(r, s, d, 3.0)), lambda x: torch.sigmoid(x)),
        S("tanh", act.tanh_forward, act.tanh_backward, x_only, _unary(randn), lambda x: torch.tanh(x)),
        S("dropout_train", _dropout_train, dropout.dropout_backward, x_only,
          lambda r, d, n=None: ({"x": randn(r, (batch_size(r, n), 6), d)}, {"p": 0.3, "seed": int(r.integers(1000))}),
          _dropout_train_torch),
        S("dropout_eval", lambda x, p: dropout.dropout_forward(x, p, False), dropout.dropout_backward, x_only,
          lambda r, d, n=None: ({"x": randn(r, (batch_size(r, n), 4), d)}, {"p": 0.5}),
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
        S("avgpool2d", pool.avgpool2d_forward, pool.avgpool2d_backward, x_only, _pool_inputs(2, None, randn),
          pool_avg),
        S("avgpool2d_overlap", pool.avgpool2d_forward, pool.avgpool2d_backward, x_only,
          _pool_inputs(3, 2, randn), pool_avg),
        S("flatten", pool.flatten_forward, pool.flatten_backward, x_only,
          lambda r, d, n=None: ({"x": randn(r, image_shape(r, n), d)}, {}), lambda x: torch.flatten(x, 1)),
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
