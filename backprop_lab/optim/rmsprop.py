"""RMSprop: divide the gradient by a running RMS of recent gradients (Hinton's lecture 6e)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_non_negative, lerp_


class RMSprop(Optimizer):
    r"""RMSprop exactly as `torch.optim.RMSprop` computes it.

    For each parameter ``p`` with gradient ``g``::

        g    <- g + weight_decay * p
        v    <- alpha * v + (1 - alpha) * g * g           (square_avg)
        avg  =  sqrt(v) + eps
        if centered:                                      (subtract the squared mean)
            m   <- alpha * m + (1 - alpha) * g            (grad_avg)
            avg =  sqrt(v - m * m) + eps
        if momentum > 0:
            buf <- momentum * buf + g / avg               (momentum_buffer)
            p   <- p - lr * buf
        else:
            p   <- p - lr * g / avg

    Unlike Adam there is no bias correction: `v` starts at 0, so the first steps are large
    (about lr / sqrt(1 - alpha) in each coordinate).

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate.
        alpha: smoothing constant of the running averages.
        eps: added to the denominator (outside the square root).
        weight_decay: L2 coefficient.
        momentum: momentum factor (0 disables the buffer).
        centered: normalize by an estimate of the gradient's variance instead of its second moment.
        maximize: ascend instead of descend.

    State: ``step`` (int), ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False) -> None:
        check_non_negative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if group["centered"]:
            grad_avg = lerp_(state["grad_avg"], g, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (g / avg)
