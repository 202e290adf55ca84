"""Stateless forward/backward pairs in numpy, CS231n style, with torch's names, layouts and defaults.

Every op comes as ``X_forward(...) -> (out, cache)`` and ``X_backward(dout, cache) -> grads``;
losses return ``(loss, dpred)``. A cache of more than two items is a NamedTuple (`LinearCache`,
`ConvCache`, `BatchNormCache`, ...) whose field names say what the backward pass reads; it still
unpacks like a tuple. `backprop_lab.testing.OPS` lists every op with its torch twin and an input
maker, for tests, notebooks and the grader.

Shape letters (the same in every docstring): N batch, D input features, M output features (linear),
C channels, H/W height/width, F filters, KH/KW kernel height/width, Ho/Wo output height/width,
(*) any shape.
"""
from .activations import (
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from .batchnorm import BatchNormCache, batchnorm_backward, batchnorm_forward
from .conv import (
    ConvCache,
    ConvNaiveCache,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
)
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .linear import LinearCache, linear_backward, linear_forward
from .losses import binary_cross_entropy_with_logits, l1_penalty, l2_penalty, mse_loss, softmax_cross_entropy
from .pool import (
    AvgPoolCache,
    MaxPoolCache,
    avgpool2d_backward,
    avgpool2d_forward,
    flatten_backward,
    flatten_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

__all__ = [
    "linear_forward", "linear_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "dropout_forward", "dropout_backward", "dropout_mask",
    "batchnorm_forward", "batchnorm_backward",
    "conv2d_forward", "conv2d_backward", "conv2d_forward_naive", "conv2d_backward_naive",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "flatten_forward", "flatten_backward",
    "mse_loss", "softmax_cross_entropy", "binary_cross_entropy_with_logits",
    "l1_penalty", "l2_penalty",
    "LinearCache", "BatchNormCache", "ConvCache", "ConvNaiveCache", "MaxPoolCache", "AvgPoolCache",
]
