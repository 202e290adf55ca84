"""What a grading process pays once at start-up, and no more than it needs.

* **One thread.** The checks work on tiny arrays. With torch's and BLAS's default of one thread per
  core, every torch call of a check waits on a thread pool that competes with the other grading
  processes (and with the sandbox child): a torch twin of notebook 08's CNN took 1.5 ms with one
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
_warm = []  # not empty once `warm_up` ran in this process


def skip_iri_grammar() -> None:
    """Make jsonschema's optional ``rfc3987_syntax`` import fail (it is skipped then), if not yet imported."""
    if "jsonschema._format" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def one_thread() -> None:
    """One BLAS and torch thread in this process (and the processes it starts)."""
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(1)


def warm_up() -> None:
    """Import what every grading job needs (nbformat, torch, the exercise registry), one thread each."""
    if _warm:
        return
    skip_iri_grammar()
    one_thread()
    import nbformat  # noqa: F401
    import torch

    torch.set_num_threads(1)
    from ..checking.registry import load_all

    load_all()
    one_thread()  # numpy is loaded now
    _warm.append(True)
