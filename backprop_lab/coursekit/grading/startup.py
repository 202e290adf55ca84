"""What a grading process pays once at start-up, and no more than it needs.

* **One thread.** The checks work on tiny arrays. With torch's and BLAS's default of one thread per
  core, every torch call of a check waits on a thread pool that competes with the other grading
  processes (and with the sandbox child): the torch twin of notebook 08's CNN took 1.5 ms with one
  thread and 100-300 ms with two on a busy 2-core machine.
* **No IRI grammar.** `jsonschema` (imported by nbformat) builds ~35 Earley parsers of
  `rfc3987_syntax` at import, ~1.1 s of CPU, for the ``iri`` string format that no notebook or
  nbgrader schema uses (python-jsonschema/jsonschema#1428). Grading processes skip that import;
  nothing else changes.
"""
from __future__ import annotations

import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_warm: list = []  # not empty once `warm_up` ran in this process
_dedicated: list = []  # not empty once `grading_process` ran


def skip_iri_grammar() -> None:
    """Make jsonschema's optional ``rfc3987_syntax`` import fail (it is skipped then), if not yet imported."""
    if "jsonschema._format" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


#: Library modules the checks import on first use (`plots` brings matplotlib, ~0.5 s): a process that
#: workers are forked from imports them once for all, instead of once per worker.
LAZY_MODULES = ("backprop_lab.plots", "backprop_lab.nn.models", "backprop_lab.optim", "backprop_lab.scalar",
                "backprop_lab.data", "backprop_lab.train")


def warm_up(lazy: bool = False) -> None:
    """Import what every grading job needs: nbformat, torch, the exercise registry (once per process).

    `lazy`: also the modules that only some checks import (`LAZY_MODULES`).
    """
    import importlib

    if not _warm:
        skip_iri_grammar()
        import nbformat  # noqa: F401
        import torch

        from ..checking.registry import load_all
        from . import tasks  # noqa: F401

        load_all()
        _warm.append(True)
    if lazy:
        import torch

        os.environ.setdefault("MPLBACKEND", "Agg")
        for name in LAZY_MODULES:
            importlib.import_module(name)
        x = torch.ones(2, dtype=torch.float64, requires_grad=True)
        (2 * x).backward(torch.ones(2, dtype=torch.float64))  # torch's first backward imports sympy (~0.4 s)


def one_thread():
    """One BLAS and torch thread in this process and the processes it starts; returns `restore()`."""
    saved_env = {var: os.environ.get(var) for var in THREAD_VARIABLES}
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    limits = None
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1)
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)

    def restore() -> None:
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        if limits is not None:
            limits.restore_original_limits()
        if threads is not None:
            torch.set_num_threads(threads)

    return restore


def grading_process() -> None:
    """Make this whole process a grading process (a worker): warm imports, one thread for good."""
    if _dedicated:
        return
    _dedicated.append(True)
    os.environ.update({var: "1" for var in THREAD_VARIABLES})  # before numpy and torch load
    warm_up(lazy=True)
    one_thread()
