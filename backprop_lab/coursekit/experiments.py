"""Measurements of a deep MLP at initialization: how big are the activations and the gradients
in each layer? (notebook 06, vanishing and exploding gradients).

Notebook 06 and its tests both call `gradient_flow`, so every number the course shows is
computed here, in one place::

    from backprop_lab.coursekit.experiments import gradient_flow, summary
    runs = [gradient_flow("sigmoid", "xavier"), gradient_flow("relu", "he")]
    print(summary(runs))
    plots.plot_gradient_flow(runs[0].grads, label=runs[0].label)

The network: `depth` Linear layers (depth - 1 hidden ones of `width` units, then `num_classes`
outputs), zero biases, float64. The input is a batch of standard normal vectors (N, width) with
random labels; the loss is softmax cross-entropy. One forward and one backward pass, no training.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backprop_lab import functional as F
from backprop_lab import nn
from backprop_lab.nn import init as nn_init

__all__ = ["FlowStats", "build_mlp", "make_batch", "gradient_flow", "summary"]

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}


def _init_weight(layer: nn.Linear, init, activation: str, negative_slope: float, rng) -> None:
    """Fill a Linear's weight (out, in) by `init`; zero its bias.

    "xavier": N(0, 2 / (fan_in + fan_out)), Glorot & Bengio's gain-1 version (as in their paper,
        and as the course notes measured it, whatever the activation).
    "he": N(0, gain^2 / fan_in) with gain^2 = 2 (ReLU) or 2 / (1 + slope^2) (LeakyReLU).
    a number s: N(0, s^2).
    """
    if init == "xavier":
        nn_init.xavier_normal_(layer.weight, gain=1.0, rng=rng)
    elif init == "he":
        leaky = activation == "leaky_relu"
        nn_init.kaiming_normal_(layer.weight, a=negative_slope if leaky else 0.0,
                                nonlinearity="leaky_relu" if leaky else "relu", rng=rng)
    elif isinstance(init, (int, float)) and not isinstance(init, bool):
        nn_init.normal_(layer.weight, 0.0, float(init), rng=rng)
    else:
        raise ValueError(f"init must be 'xavier', 'he' or a standard deviation, got {init!r}")
    nn_init.zeros_(layer.bias)


def build_mlp(activation: str = "relu", init="he", *, depth: int = 10, width: int = 256,
              num_classes: int = 10, batchnorm: bool = False, residual: bool = False,
              weight_scale: float = 1.0, negative_slope: float = 0.01, seed: int = 0) -> nn.Sequential:
    """The measured network: (Linear -> [BatchNorm1d] -> activation) x (depth - 1), then Linear.

    Args:
        activation: "sigmoid", "tanh", "relu" or "leaky_relu".
        init: "xavier", "he" or a weight standard deviation (see `_init_weight`).
        depth: number of Linear layers (the output layer included).
        width: units per hidden layer; also the input width D.
        num_classes: C, outputs of the last layer.
        batchnorm: put a BatchNorm1d (gamma = 1, beta = 0) between each hidden Linear and its activation.
        residual: hidden layers 2 .. depth-1 become blocks h + act(BN?(W h)) (`nn.Residual`).
        weight_scale: multiplies every weight after initialization (> 1 makes an exploding net).
        negative_slope: the LeakyReLU slope (also sets He's gain for it).
        seed: seeds the weights.

    Returns:
        An `nn.Sequential` whose hidden "layers" (activation modules or Residual blocks) are the
        modules the activations are read from.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    if depth < 2:
        raise ValueError(f"depth must be at least 2 (one hidden layer and the output), got {depth}")
    rng = np.random.default_rng(seed)

    def linear(n_in, n_out):
        layer = nn.Linear(n_in, n_out, rng=rng)
        _init_weight(layer, init, activation, negative_slope, rng)
        layer.weight.data *= weight_scale
        return layer

    def act():
        return nn.LeakyReLU(negative_slope) if activation == "leaky_relu" else _ACTIVATIONS[activation]()

    layers = []
    for k in range(depth - 1):
        block = [linear(width, width)] + ([nn.BatchNorm1d(width)] if batchnorm else []) + [act()]
        if residual and k > 0:
            layers.append(nn.Residual(nn.Sequential(*block)))
        else:
            layers.extend(block)
    layers.append(linear(width, num_classes))
    return nn.Sequential(*layers)


def make_batch(batch: int = 256, width: int = 256, num_classes: int = 10, seed: int = 0):
    """x (N, D) standard normal and labels y (N,) uniform in [0, C), float64."""
    rng = np.random.default_rng([seed, 1])  # a stream separate from the weights'
    return rng.standard_normal((batch, width)), rng.integers(0, num_classes, size=batch)


def _is_hidden_output(module) -> bool:
    return isinstance(module, (nn.Residual, *_ACTIVATIONS.values()))


@dataclass
class FlowStats:
    """What one forward + backward pass of `build_mlp`'s network measured.

    Attributes:
        label: e.g. "sigmoid + xavier".
        grad_std: (depth,) std of each Linear weight's gradient, input side first (the last
            entry is the output layer).
        act_std: (depth - 1,) std of each hidden layer's output over the batch and units.
        act_rms: (depth - 1,) root mean square of the same values (what the variance argument tracks).
        delta_rms: (depth - 1,) root mean square of dloss/d(hidden layer output): the backward signal.
        input_rms: root mean square of the input x.
        grads: {"layer k": dweight} in layer order, for `plots.plot_gradient_flow`.
        activations: {"layer k": hidden output}, for `plots.plot_activation_histograms`.
        loss: the cross-entropy at initialization.
        model, x, y: the network and the batch, to train or to compare with torch.
    """

    label: str
    grad_std: np.ndarray
    act_std: np.ndarray
    act_rms: np.ndarray
    delta_rms: np.ndarray
    input_rms: float
    grads: dict = field(repr=False)
    activations: dict = field(repr=False)
    loss: float = float("nan")
    model: object = field(default=None, repr=False)
    x: np.ndarray = field(default=None, repr=False)
    y: np.ndarray = field(default=None, repr=False)

    @property
    def ratio(self) -> float:
        """Weight-gradient std of layer 1 over that of the last (output) layer."""
        return float(self.grad_std[0] / self.grad_std[-1])

    @property
    def hidden_ratio(self) -> float:
        """Weight-gradient std of layer 1 over that of the last hidden layer."""
        return float(self.grad_std[0] / self.grad_std[-2])


def _rms(a) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def gradient_flow(activation: str = "sigmoid", init="xavier", *, depth: int = 10, width: int = 256,
                  batch: int = 256, num_classes: int = 10, batchnorm: bool = False,
                  residual: bool = False, weight_scale: float = 1.0, negative_slope: float = 0.01,
                  seed: int = 0, label: str | None = None) -> FlowStats:
    """Build the network (`build_mlp`), run one batch (`make_batch`) forward and backward, and
    measure every layer. The arguments are `build_mlp`'s, plus the batch size N."""
    model = build_mlp(activation, init, depth=depth, width=width, num_classes=num_classes,
                      batchnorm=batchnorm, residual=residual, weight_scale=weight_scale,
                      negative_slope=negative_slope, seed=seed)
    x, y = make_batch(batch, width, num_classes, seed)
    h, acts = x, []
    for module in model:  # forward by hand to read each hidden output
        h = module(h)
        if _is_hidden_output(module):
            acts.append(h)
    loss, d = F.softmax_cross_entropy(h, y)
    deltas = []
    for module in reversed(list(model)):  # backward by hand to read dloss/d(hidden output)
        if _is_hidden_output(module):
            deltas.append(d)
        d = module.backward(d)
    deltas.reverse()
    weights = [m.weight.grad for m in model.modules() if isinstance(m, nn.Linear)]
    names = [f"layer {k + 1}" for k in range(len(weights))]
    if label is None:
        label = f"{activation} + {init if isinstance(init, str) else f'N(0, {init:g}^2)'}"
        label += " + batchnorm" * batchnorm + " + residual" * residual
        label += f" (weights x{weight_scale:g})" * (weight_scale != 1.0)
    return FlowStats(
        label=label,
        grad_std=np.array([g.std() for g in weights]),
        act_std=np.array([a.std() for a in acts]),
        act_rms=np.array([_rms(a) for a in acts]),
        delta_rms=np.array([_rms(d) for d in deltas]),
        input_rms=_rms(x),
        grads=dict(zip(names, weights)),
        activations=dict(zip(names, acts)),
        loss=float(loss), model=model, x=x, y=y)


def summary(runs) -> str:
    """A text table: per run, the grad-std ratios and the activation std of layers 1 and depth-1."""
    head = f"{'network':<34}{'grad layer1/last':>17}{'layer1/last hidden':>20}{'act std first -> last':>24}"
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(f"{r.label:<34}{r.ratio:>17.2e}{r.hidden_ratio:>20.2e}"
                     f"{r.act_std[0]:>14.3f} -> {r.act_std[-1]:.3f}")
    return "\n".join(lines)
