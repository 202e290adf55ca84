"""Ready-made models used across the course: `MLP` and a small `CNN`.

Both are `Sequential`s, so their state_dict keys ("0.weight", "1.running_mean", ...) are those
of the torch twin that `backprop_lab.torch_ref.to_torch` builds, and backward is simply the
children's backward in reverse.
"""
from __future__ import annotations

import numpy as np

from . import init as _init
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .conv import Conv2d, MaxPool2d
from .layers import Dropout, Flatten, Linear
from .module import Module, Sequential
from .norm import BatchNorm1d

__all__ = ["MLP", "CNN", "ACTIVATIONS", "init_weights"]

#: activation name -> module class
ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}

_INITS = ("kaiming", "xavier", "torch")


def init_weights(model: Module, scheme: str = "kaiming", nonlinearity: str = "relu",
                 rng=None) -> Module:
    """Re-initialize every Linear and Conv2d weight of `model` in place, in module order.

    Args:
        scheme: "kaiming" (He normal: std = gain / sqrt(fan_in), for ReLU-like nets),
            "xavier" (Glorot normal: std = gain * sqrt(2 / (fan_in + fan_out))) -- both with
            zero biases and gain = calculate_gain(nonlinearity) -- or "torch" (torch's
            default: U(+-1/sqrt(fan_in)) for weights and biases).
        nonlinearity: the hidden activation the gain is chosen for.
        rng: np.random.Generator or int seed.
    """
    if scheme not in _INITS:
        raise ValueError(f"init must be one of {_INITS}, got {scheme!r}")
    rng = _init.as_rng(rng)
    gain = _init.calculate_gain(nonlinearity)
    for m in model.modules():
        if not isinstance(m, (Linear, Conv2d)):
            continue
        if scheme == "torch":
            m.reset_parameters(rng)
            continue
        if scheme == "kaiming":
            _init.kaiming_normal_(m.weight, nonlinearity=nonlinearity, rng=rng)
        else:
            _init.xavier_normal_(m.weight, gain=gain, rng=rng)
        if m.bias is not None:
            _init.zeros_(m.bias)
    return model


class MLP(Sequential):
    """Multi-layer perceptron: [Linear -> (BatchNorm1d) -> activation -> (Dropout)] per hidden
    width, then a final Linear (no activation: it outputs scores/logits).

    Args:
        in_features: D.
        hidden_sizes: widths of the hidden layers, e.g. (128, 64); () gives a linear model.
        out_features: number of outputs (classes).
        activation: "relu", "leaky_relu", "sigmoid" or "tanh".
        dropout: drop probability after each hidden activation (0 adds no Dropout module).
        batchnorm: add a BatchNorm1d between each hidden Linear and its activation.
        init: "kaiming", "xavier" or "torch" (see `init_weights`).
        seed: seeds the initialization and the dropout masks.
        dtype: parameter dtype.

    Shapes: x (N, D) -> scores (N, out_features).
    """

    def __init__(self, in_features: int, hidden_sizes, out_features: int, activation: str = "relu",
                 dropout: float = 0.0, batchnorm: bool = False, init: str = "kaiming", seed=0,
                 dtype=np.float64):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        rng = _init.as_rng(seed)
        layers, width = [], in_features
        for h in hidden_sizes:
            layers.append(Linear(width, h, dtype=dtype, rng=rng))
            if batchnorm:
                layers.append(BatchNorm1d(h, dtype=dtype))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout, rng=rng.spawn(1)[0]))
            width = h
        layers.append(Linear(width, out_features, dtype=dtype, rng=rng))
        super().__init__(*layers)
        self.in_features, self.out_features = in_features, out_features
        self.hidden_sizes = tuple(hidden_sizes)
        if init != "torch":
            init_weights(self, init, activation, rng)


class CNN(Sequential):
    """Small convnet: conv3x3(p=1) -> ReLU -> maxpool2 -> conv3x3(p=1) -> ReLU -> maxpool2 ->
    flatten -> linear.

    Args:
        in_channels: C of the images.
        image_size: H = W of the images (8 for sklearn digits, 28 for MNIST); each max-pool
            halves it (rounding down), so the linear layer sees channels[1] * (H // 2 // 2)**2.
        num_classes: outputs of the final linear layer.
        channels: filters of the two convolutions.
        init: "kaiming", "xavier" or "torch" (see `init_weights`).
        seed: seeds the initialization.
        dtype: parameter dtype.

    Shapes: x (N, C, H, W) -> scores (N, num_classes).
    """

    def __init__(self, in_channels: int = 1, image_size: int = 8, num_classes: int = 10,
                 channels=(8, 16), init: str = "kaiming", seed=0, dtype=np.float64):
        c1, c2 = channels
        side = image_size // 2 // 2
        if side < 1:
            raise ValueError(f"image_size={image_size} is too small for two 2x2 max-pools (need >= 4)")
        rng = _init.as_rng(seed)
        super().__init__(
            Conv2d(in_channels, c1, 3, padding=1, dtype=dtype, rng=rng), ReLU(), MaxPool2d(2),
            Conv2d(c1, c2, 3, padding=1, dtype=dtype, rng=rng), ReLU(), MaxPool2d(2),
            Flatten(),
            Linear(c2 * side * side, num_classes, dtype=dtype, rng=rng),
        )
        if init != "torch":
            init_weights(self, init, "relu", rng)
