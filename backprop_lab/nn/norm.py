"""BatchNorm1d and BatchNorm2d: torch's modules over `functional.batchnorm_forward/backward`.

Parameters weight (gamma) and bias (beta) have shape (C,) (absent with ``affine=False``; no beta
with ``bias=False``, a keyword of recent torch versions); buffers `running_mean`,
`running_var` (C,) and `num_batches_tracked` (an int64 scalar) -- the keys torch saves.

In training mode the batch statistics normalize and the running statistics are updated in
place: running = (1 - momentum) * running + momentum * batch_stat, with the *unbiased* batch
variance for running_var (the normalization itself uses the biased one). In eval mode the
running statistics normalize, and the layer is a fixed per-channel affine map.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .op_module import OpModule
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(OpModule):
    """Shared by BatchNorm1d and 2d: forward picks the statistics and momentum; backward is
    `OpModule`'s (batchnorm_backward returns dx, dgamma, dbeta: dgamma goes to weight, dbeta to bias)."""

    _ndim = None  # expected input ndim, set by subclasses
    functional = (F.batchnorm_forward, F.batchnorm_backward)
    grads_to = ("weight", "bias")

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=np.float64, *,
                 bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", Parameter(np.ones(num_features), dtype=dtype) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_features), dtype=dtype)
                                if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self._dtype = np.dtype(dtype)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x):
        if x.ndim != self._ndim:
            shape = "(N, C)" if self._ndim == 2 else "(N, C, H, W)"
            raise ValueError(f"{type(self).__name__}: expected input of shape {shape}, got {x.shape}")
        momentum = self.momentum
        use_batch_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if momentum is None:  # torch: a cumulative (equal-weight) average of all batches
                momentum = 1.0 / float(self.num_batches_tracked)
        # Without affine parameters the layer is the same computation with gamma = 1, beta = 0.
        gamma = self.weight.data if self.weight is not None else np.ones(self.num_features, self._dtype)
        beta = self.bias.data if self.bias is not None else np.zeros(self.num_features, self._dtype)
        # Without running statistics (None buffers) batch statistics are used in eval mode too.
        out, self._cache = F.batchnorm_forward(x, gamma, beta, self.running_mean, self.running_var,
                                               use_batch_stats, momentum=momentum or 0.0,
                                               eps=self.eps)
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization over the batch axis of x (N, C) -> (N, C), per feature C.

    Args (torch's): num_features C; eps; momentum (None: a cumulative average); affine (False: no
    weight and no bias); track_running_stats; dtype; bias (keyword only; ``bias=False`` is allowed
    and keeps the weight gamma but no beta: ``self.bias`` is None and gets no gradient).
    """

    _ndim = 2


class BatchNorm2d(_BatchNorm):
    """Batch normalization of x (N, C, H, W) per channel C, over the N*H*W positions.

    Same arguments as `BatchNorm1d` (``bias=False`` allowed: no beta, ``self.bias`` is None).
    """

    _ndim = 4
