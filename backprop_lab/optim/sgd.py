"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, as torch."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    r"""SGD exactly as `torch.optim.SGD` computes it.

    For each parameter ``p`` with gradient ``g`` (negated first when ``maximize``)::

        g   <- g + weight_decay * p                  (L2 penalty folded into the gradient)
        buf <- g                                     (first step: no dampening)
        buf <- momentum * buf + (1 - dampening) * g  (later steps)
        g   <- g + momentum * buf   if nesterov  else  buf
        p   <- p - lr * g

    Note torch's momentum accumulates *gradients*, and `lr` multiplies the buffer at use time.
    The Sutskever form (``v <- mu v - lr g; p <- p + v``) is the same only while `lr` is
    constant: after ``param_groups[0]["lr"]`` changes, torch's (and this) update rescales
    the whole remembered velocity at once.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate.
        momentum: momentum factor mu (0 disables the buffer).
        dampening: scales the new gradient's contribution to the buffer by (1 - dampening).
        weight_decay: L2 coefficient.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening == 0).
        maximize: ascend instead of descend.

    State: ``state[p]["momentum_buffer"]`` (only when momentum != 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False) -> None:
        check_non_negative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group) -> None:
        momentum, wd = group["momentum"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if wd != 0:
            g = g + wd * p.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)  # 0-d stays an array
            else:
                buf *= momentum
                dampening = group["dampening"]
                buf += g if dampening == 0 else (1 - dampening) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * g
