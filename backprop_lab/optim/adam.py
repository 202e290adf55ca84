"""Adam and AdamW: momentum on the gradient, RMS normalization, and bias correction."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_non_negative, lerp_


class Adam(Optimizer):
    r"""Adam exactly as `torch.optim.Adam` computes it.

    At step t = 1, 2, ... for each parameter ``p`` with gradient ``g``::

        g  <- g + weight_decay * p                 (Adam: L2 folded into the gradient)
        p  <- p * (1 - lr * weight_decay)          (AdamW instead: decoupled decay, first)
        m  <- beta1 * m + (1 - beta1) * g          (exp_avg)
        v  <- beta2 * v + (1 - beta2) * g * g      (exp_avg_sq)
        vmax <- max(vmax, v)                       (amsgrad only; then v := vmax below)
        p  <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Bias correction undoes the pull toward the zero initialization of `m` and `v`. Note where
    `eps` sits: it is added to sqrt(v_hat), after the sqrt(1 - beta2^t) correction, not to v.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate.
        betas: (beta1, beta2), decay rates of the first and second moment averages.
        eps: added to the denominator.
        weight_decay: L2 coefficient (coupled, i.e. it goes through m and v).
        amsgrad: normalize by the running maximum of v (Reddi et al., 2018).
        maximize: ascend instead of descend.
        decoupled_weight_decay: decay the weights directly (this is what AdamW sets).

    State: ``step`` (int), ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False) -> None:
        check_non_negative(lr=lr, eps=eps)
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        check_non_negative(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group) -> None:
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        g = -grad if group["maximize"] else grad
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.data *= 1 - lr * wd
            else:
                g = g + wd * p.data

        exp_avg = lerp_(state["exp_avg"], g, 1 - beta1)  # = beta1 * m + (1 - beta1) * g
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * g * g
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]

        step_size = lr / (1 - beta1 ** t)
        denom = np.sqrt(exp_avg_sq) / (1 - beta2 ** t) ** 0.5 + eps
        p.data -= step_size * (exp_avg / denom)


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient.

    Before the Adam step, ``p <- p * (1 - lr * weight_decay)``; the decay never enters `m` or
    `v`, so it is not rescaled by the adaptive denominator. Same arguments and state as `Adam`,
    except that `weight_decay` defaults to 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
