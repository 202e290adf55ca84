"""What the probes of tests/bugs/validate_fresh.py share: calling a function and comparing results.

A probe ``probe(ns, rng)`` runs one exercise's functions from the namespace `ns` (what
``exercise_kit.namespace`` returns) on inputs drawn from `rng` and returns nested lists of results.
Each call goes through :func:`call`: an exception becomes a :class:`Raised` marker, and the result
records whether the call changed any array argument in place. :func:`same` compares two results.
Written from the release's prose and signatures alone, without the course's checker.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Raised:
    """A call that raised: the exception's type name."""

    name: str


def _arrays(x):
    if isinstance(x, np.ndarray):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _arrays(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _arrays(v)


def call(fn, *args, **kwargs):
    """[a deep copy of fn(*args, **kwargs), whether it changed an array argument] or Raised."""
    before = [a.copy() for a in _arrays(args)]
    try:
        out = copy.deepcopy(fn(*args, **kwargs))
    except Exception as err:  # any exception is a behaviour to compare
        return Raised(type(err).__name__)
    changed = any(b.shape != a.shape or not np.array_equal(b, a, equal_nan=True)
                  for b, a in zip(before, _arrays(args)))
    return [out, changed]


def output(result, index=None):
    """A fresh copy of what a successful :func:`call` returned (item `index` of it when given).

    Feed this, not the recorded result itself, into a later call: a call that changes its arguments
    in place must not rewrite what was recorded before it.
    """
    value = result[0] if index is None else result[0][index]
    return copy.deepcopy(value)


def fixed(shape, seed=7):
    """An upstream gradient drawn apart from the probe's generator: a wrong shape cannot shift later draws."""
    return np.random.default_rng(seed).normal(size=shape)


def forward_backward(forward, backward, upstream, *args, **kwargs):
    """[out, whether forward changed an argument, call(backward, upstream, cache)], or [Raised].

    `forward(*args, **kwargs)` returns (out, cache); `upstream` is dL/dout, or None for ``fixed(out.shape)``.
    """
    fwd = call(forward, *args, **kwargs)
    if isinstance(fwd, Raised):
        return [fwd]
    out = fwd[0][0]
    dout = fixed(np.shape(out)) if upstream is None else upstream
    return [out, fwd[1], call(backward, dout, output(fwd, 1))]


def same(a, b) -> bool:
    """Whether two probe results agree: same structure, shapes and dtype kinds, values to 1e-9."""
    if isinstance(a, Raised) or isinstance(b, Raised):
        return a == b
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
            same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b)))
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or (a.dtype.kind == "b") != (b.dtype.kind == "b"):
        return False
    if a.dtype.kind in "iu" and b.dtype.kind == "f" or a.dtype.kind == "f" and b.dtype.kind in "iu":
        return False
    if a.dtype == object or b.dtype == object:
        return bool(np.all(a == b))
    return bool(np.allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True))


def grid(rng, shape, low=0, high=4):
    """Small integers as floats: many exact ties and exact zeros."""
    return rng.integers(low, high, size=shape).astype(float)


def difference(a, b, path="") -> str:
    """Where and how two probe results first differ ('' when they agree), for the validation report."""
    if same(a, b):
        return ""
    if isinstance(a, Raised) or isinstance(b, Raised):
        return f"{path}: " + " vs ".join(f"raised {v.name}" if isinstance(v, Raised) else "returned" for v in (a, b))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return next(d for k in a if (d := difference(a[k], b[k], f"{path}.{k}")))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return next(d for i, (x, y) in enumerate(zip(a, b)) if (d := difference(x, y, f"{path}[{i}]")))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return f"{path}: {len(a)} vs {len(b)} items" + (" (raised)" if any(isinstance(v, Raised) for v in b) else "")
    if isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)):
        return f"{path}: changed an argument in place" if b else f"{path}: no longer changes its arguments"
    shape = lambda v: getattr(np.asarray(v, dtype=object), "shape", "?")
    return f"{path}: values" if shape(a) == shape(b) else f"{path}: shape {shape(a)} vs {shape(b)}"
