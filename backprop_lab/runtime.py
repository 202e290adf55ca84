"""Thread settings for small models.

The course's matrices are small (a 64-128-64-10 MLP, 8x8 images): with several BLAS or torch
threads competing for a laptop's or CI's few cores, an epoch runs ~2x slower, and on a busy
machine up to 20x. Notebooks call `use_threads(1)` in their first cell.
"""
from __future__ import annotations


def use_threads(n: int = 1) -> None:
    """Limit numpy's BLAS (via threadpoolctl, where installed) and torch (where installed) to `n` threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a numpy-only install: BLAS keeps its default threads
        pass
    else:
        threadpool_limits(n)
    try:
        import torch
    except ImportError:  # the library works without torch
        return
    torch.set_num_threads(n)
