"""Layers over a functional pair (`nn.OpModule`): argument checks when a layer is built, layers
without a bias, and a new layer written from its pair alone."""
import numpy as np
import pytest

from backprop_lab import functional as F
from backprop_lab import nn
from backprop_lab.torch_ref import compare_module


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(1, 2, kernel_size=0), "Conv2d: kernel_size must be an int >= 1"),
    (lambda: nn.Conv2d(1, 2, kernel_size=(3, 3, 3)), "Conv2d: kernel_size must be an int >= 1 or a pair"),
    (lambda: nn.Conv2d(1, 2, 3, stride=0), "Conv2d: stride must be an int >= 1"),
    (lambda: nn.Conv2d(1, 2, 3, padding=-1), "Conv2d: padding must be an int >= 0"),
    (lambda: nn.MaxPool2d(2, stride=0), "MaxPool2d: stride must be an int >= 1"),
    (lambda: nn.AvgPool2d((2, 0)), "AvgPool2d: kernel_size must be an int >= 1"),
])
def test_int_or_pair_arguments_are_checked_when_the_layer_is_built(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()


@pytest.mark.parametrize("layer, shape", [(lambda: nn.Linear(4, 3, bias=False, rng=0), (5, 4)),
                                          (lambda: nn.Conv2d(2, 3, 3, padding=1, bias=False, rng=0), (2, 2, 4, 4)),
                                          (lambda: nn.BatchNorm1d(4, bias=False), (5, 4))])
def test_bias_false_layers_have_no_bias_and_match_torch(layer, shape):
    m = layer()
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    report = compare_module(m, randn(*shape, seed=4))
    assert report.passed, report


def test_a_new_op_module_needs_only_its_pair_and_arguments():
    """OpModule keeps the cache, hands it back and accumulates the parameter gradients."""
    class Scale(nn.OpModule):  # y = x * gamma, per feature
        functional = (lambda x, g: (x * g, (x, g)), lambda dout, c: (dout * c[1], (dout * c[0]).sum(0)))
        grads_to = ("gamma",)

        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(np.array([1.0, 2.0, 3.0]))

        def op_args(self):
            return (self.gamma.data,)

    m, x, dout = Scale(), randn(4, 3, seed=1), randn(4, 3, seed=2)
    np.testing.assert_array_equal(m(x), x * [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(m.backward(dout), dout * [1.0, 2.0, 3.0])
    m.backward(dout)
    np.testing.assert_allclose(m.gamma.grad, 2 * (dout * x).sum(0), rtol=1e-14)
    relu = nn.ReLU()
    relu(x)
    np.testing.assert_array_equal(relu.backward(dout), F.relu_backward(dout, x))
