"""Modules with torch's API and an explicit backward: `Module`, layers, `init`, `utils`, models.

    from backprop_lab import nn
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    scores = model(x)               # forward: each module keeps a cache
    dx = model.backward(dscores)    # backward: adds into every param.grad, returns dL/dx

`backprop_lab.torch_ref.to_torch(model)` builds the torch twin with the same state_dict keys.
"""
from . import init, utils
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .layers import Dropout, Flatten, Linear, Residual
from .models import CNN, MLP, init_weights
from .module import IncompatibleKeys, Module, Sequential
from .norm import BatchNorm1d, BatchNorm2d
from .op_module import OpModule
from .parameter import Parameter

__all__ = [
    "Parameter", "Module", "OpModule", "Sequential", "IncompatibleKeys",
    "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "Residual",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "BatchNorm1d", "BatchNorm2d",
    "MLP", "CNN", "init_weights", "init", "utils",
]
