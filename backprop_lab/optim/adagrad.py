"""Adagrad: per-coordinate step sizes that shrink with the accumulated squared gradient."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    r"""Adagrad exactly as `torch.optim.Adagrad` computes it.

    At step t = 1, 2, ... for each parameter ``p`` with gradient ``g``::

        g    <- g + weight_decay * p
        clr  =  lr / (1 + (t - 1) * lr_decay)
        sum  <- sum + g * g                      (sum starts at initial_accumulator_value)
        p    <- p - clr * g / (sqrt(sum) + eps)

    Coordinates that have seen large gradients take small steps; rare features keep large
    ones. Because `sum` only grows, the effective step size decays even with lr_decay = 0.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate.
        lr_decay: the 1 / (1 + (t - 1) * lr_decay) schedule.
        weight_decay: L2 coefficient.
        initial_accumulator_value: starting value of `sum`.
        eps: added to the denominator (outside the square root).
        maximize: ascend instead of descend.

    State (created in the constructor, like torch): ``step`` (int) and ``sum``.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, *, maximize=False) -> None:
        check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    @staticmethod
    def _init_state(p, state, group) -> None:
        # The group's own initial_accumulator_value (torch uses the constructor's for every group).
        state["step"] = 0
        state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])

    def _update(self, p, grad, state, group) -> None:
        if not state:  # a group added later with add_param_group
            self._init_state(p, state, group)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        std = np.sqrt(state["sum"]) + group["eps"]
        p.data -= clr * (g / std)
