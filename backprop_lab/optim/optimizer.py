"""`Optimizer`: the bookkeeping every update rule shares (param groups, state, zero_grad).

Mirrors `torch.optim.Optimizer`: `param_groups` is a list of dicts, each holding its own
`"params"` and hyperparameters (so `param_groups[0]["lr"] = 0.01` takes effect on the next
`step()`), and `state[p]` is a dict of per-parameter buffers with torch's names.
A subclass only writes `_update(p, grad, state, group)`: the rule for one parameter.
"""
from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

from ..arrays import to_numpy


def _is_parameter(p) -> bool:
    """Duck-typed: anything with an ndarray `data` and a `grad` (a `Parameter`) can be optimized.

    (No import of `backprop_lab.nn`, so optim does not depend on the layers being importable.)
    """
    return isinstance(getattr(p, "data", None), np.ndarray) and hasattr(p, "grad")


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """In place ``start <- start + weight * (end - start)``, rounded exactly like torch's `lerp_`.

    torch switches to ``end - (end - start) * (1 - weight)`` for weights >= 0.5 (smaller
    rounding error near ``end``); doing the same keeps us within an ulp of torch.
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
    return start


# torch's wording of "Invalid ...: value" for the hyperparameters every optimizer checks.
_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def check_non_negative(**hyperparameters) -> None:
    """Raise torch's ValueError ("Invalid learning rate: -1") for the first hyperparameter, in the
    order given, that is not >= 0 (NaN included); other names read "Invalid <name> value: ..."."""
    for name, value in hyperparameters.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {value}")


class Optimizer:
    """Base class: holds `param_groups`, `state`, and runs `_update` on every parameter.

    Args:
        params: an iterable of `Parameter`s, or of dicts (param groups) such as
            ``[{"params": enc, "lr": 1e-4}, {"params": dec}]``; options missing from a
            group are filled from `defaults`.
        defaults: the hyperparameters the subclass's constructor received.
    """

    def __init__(self, params, defaults: dict) -> None:
        if isinstance(params, np.ndarray) or _is_parameter(params):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Parameters or dicts, but got {type(params).__name__}")
        self.defaults = defaults
        self.state: defaultdict[object, dict] = defaultdict(dict)
        self.param_groups: list[dict] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (a dict with "params" and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections; "
                            "the order of a set changes between runs. Use a list instead.")
        group["params"] = [params] if _is_parameter(params) else list(params)
        for p in group["params"]:
            if not _is_parameter(p):
                raise TypeError("optimizer can only optimize Parameters, but one of the params "
                                f"is {type(p).__name__}")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def __repr__(self) -> str:  # torch's layout, e.g. "SGD (\nParameter Group 0\n    lr: 0.1 ...)"
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (in place, so references stay valid)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    p.grad = np.zeros_like(p.data)
                else:
                    p.grad[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place; returns `closure()` if given."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self.state[p], group)
        return loss

    def _update(self, p, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ---- checkpoints, in torch's layout: parameters are replaced by their position ----
    def state_dict(self) -> dict:
        """A copy: ``{"state": {index: buffers}, "param_groups": [{..., "params": [index]}]}``."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a `state_dict()` (ours, or torch's: tensors are converted to numpy arrays)."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             "or parameters per group")
        by_index = {i: p for s, g in zip(saved, self.param_groups)
                    for i, p in zip(s["params"], g["params"])}
        self.state = defaultdict(dict)
        for i, buffers in state_dict["state"].items():
            p = by_index[i]
            self.state[p] = {k: _to_state_value(k, v, p) for k, v in buffers.items()}
        for s, g in zip(saved, self.param_groups):
            g.update({k: copy.deepcopy(v) for k, v in s.items() if k != "params"})


def _to_state_value(key, value, p):
    """Copy a saved buffer; torch tensors become arrays of the parameter's dtype, steps ints."""
    if key == "step":
        return int(float(value))
    if hasattr(value, "shape") and not isinstance(value, np.ndarray):  # e.g. a torch tensor
        value = to_numpy(value)
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=p.data.dtype, copy=True)
    return copy.deepcopy(value)
