"""Thread settings for small models.

The course's matrices are small (a 64-128-64-10 MLP, 8x8 images): with several BLAS or torch
threads competing for a laptop's or CI's few cores, an epoch runs ~2x slower, and on a busy
machine up to 20x. Notebooks call `use_threads(1)` in their first cell.
"""
from __future__ import annotations


def use_threads(n: int = 1) -> None:
    """Limit numpy's BLAS (via threadpoolctl) and torch (if imported or installed) to `n` threads."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but the library works without it
        return
    torch.set_num_threads(n)
