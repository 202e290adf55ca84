"""`OpModule`: a layer made of one `backprop_lab.functional` pair.

Most layers are the same three lines around a different op: forward calls ``X_forward`` and keeps
its cache, backward hands the cache to ``X_backward``, adds the parameter gradients into
``param.grad`` and returns dx. `OpModule` writes those lines once; a layer names its pair, the
arguments it adds to x, and the parameters its gradients go to::

    class Linear(OpModule):
        functional = (F.linear_forward, F.linear_backward)
        grads_to = ("weight", "bias")          # linear_backward returns (dx, dweight, dbias)

        def op_args(self):
            return self.weight.data, data_or_none(self.bias)
"""
from __future__ import annotations

from collections.abc import Callable

from .module import Module

__all__ = ["OpModule"]


class OpModule(Module):
    """A module whose forward and backward are one functional op.

    Class attributes:
        functional: ``(forward, backward)``, e.g. ``(F.relu_forward, F.relu_backward)``, with
            ``forward(x, *op_args()) -> (out, cache)`` and ``backward(dout, cache)``.
        grads_to: names of the parameters whose gradients ``backward`` returns after dx, in its
            order; empty (the default) when it returns dx alone. A parameter set to None (a layer
            built with ``bias=False``) is skipped, and so is the gradient the op returns for it.
    """

    functional: tuple[Callable, Callable]
    grads_to: tuple[str, ...] = ()

    def op_args(self) -> tuple:
        """The op's arguments after x (parameters, stride, mode...); none by default."""
        return ()

    def forward(self, x):
        out, self._cache = self.functional[0](x, *self.op_args())
        return out

    def backward(self, dout):
        grads = self.functional[1](dout, self._cached())
        if not self.grads_to:
            return grads
        dx, *param_grads = grads
        for name, grad in zip(self.grads_to, param_grads):
            param = self._parameters[name]
            if param is not None:
                param.grad += grad  # accumulate, like torch: zero_grad() between steps
        return dx
