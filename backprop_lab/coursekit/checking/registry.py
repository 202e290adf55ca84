"""The registry of exercises, keyed like "03.linear". Exercise modules add themselves with `register`;
`load_all` imports them (this module imports no exercise, so the two never import each other)."""
from __future__ import annotations

import importlib
import pkgutil

from .core import Exercise

REGISTRY: dict[str, Exercise] = {}


def register(*exercises: Exercise) -> None:
    for ex in exercises:
        if ex.key in REGISTRY and REGISTRY[ex.key] is not ex:
            raise ValueError(f"exercise {ex.key!r} is registered twice")
        REGISTRY[ex.key] = ex


def load_all() -> None:
    """Import every module of `backprop_lab.coursekit.exercises` (each registers its exercises)."""
    pkg = importlib.import_module("backprop_lab.coursekit.exercises")
    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def get_exercise(key: str) -> Exercise:
    """The registered exercise `key` (e.g. "03.linear"); a clear KeyError listing the keys if absent."""
    if key not in REGISTRY:
        load_all()
    try:
        return REGISTRY[key]
    except KeyError:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise KeyError(f"no exercise {key!r}; known exercises: {known}") from None


def exercises_in(prefix: str) -> list[Exercise]:
    """All exercises whose key starts with `prefix` ("03." for notebook 03), in registry order."""
    load_all()
    return [ex for k, ex in REGISTRY.items() if k.startswith(prefix)]
