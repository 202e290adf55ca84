"""`Module` and `Sequential`: torch's module bookkeeping, with an explicit `backward`.

A module does what a `torch.nn.Module` does -- registers parameters, buffers and submodules in
the order they are assigned, names them like torch ("0.weight", "block.conv1.bias"), switches
between train and eval mode, saves and loads a `state_dict` with torch's keys -- and one thing
torch does for you behind the scenes: ``backward(dout) -> dx``.

Backward uses the cache of the module's *most recent* forward call. A module called twice
before one backward (a shared layer) only remembers the second call; use two module instances,
or run forward/backward in pairs. Every backward *adds* its parameter gradients to
``param.grad`` (``+=``), exactly like torch: call `zero_grad()` between steps.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ..arrays import to_numpy
from .parameter import Parameter

__all__ = ["Module", "Sequential", "IncompatibleKeys"]


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` could not match (torch's `_IncompatibleKeys`)."""

    missing_keys: list
    unexpected_keys: list


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * num_spaces + line for line in lines[1:])


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, then assign `Parameter`s, submodules and
    buffers (`register_buffer`) as attributes, and implement ``forward(x) -> out`` and
    ``backward(dout) -> dx``.

    Attributes:
        training: True in train mode (dropout active, batchnorm uses batch statistics).
    """

    def __init__(self):
        # object.__setattr__ because our own __setattr__ needs these dicts to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ---- registration -------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if name == "_cache":  # set on every forward: skip the registration checks (hot path)
            self.__dict__[name] = value
            return
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 "(call super().__init__() first in your __init__)")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._discard(name)
            params[name] = value
        elif isinstance(value, Module):
            self._discard(name)
            modules[name] = value
        elif name in params:
            if value is not None:  # like torch: only a Parameter (or None) may replace a parameter
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(a Parameter or None is required)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r}")
            modules[name] = None
        elif name in buffers:
            buffers[name] = None if value is None else np.asarray(value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if not self._discard(name):
            object.__delattr__(self, name)

    def _discard(self, name: str) -> bool:
        found = False
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                found = True
        self._non_persistent_buffers.discard(name)
        if name in self.__dict__:
            object.__delattr__(self, name)
            found = True
        return found

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or None, for an absent optional parameter such as ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register {type(param).__name__} as parameter {name!r}")
        self._discard(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, array, persistent: bool = True) -> None:
        """Register non-learned state (batchnorm's running statistics) saved in `state_dict`.

        Buffers are numpy arrays that forward may update in place; they get no gradient.
        """
        self._discard(name)
        self._buffers[name] = None if array is None else np.asarray(array)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._discard(name)
        self._modules[name] = module

    # ---- the two passes -----------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, dout):
        """Given dL/d(out) of the most recent forward, add parameter grads and return dL/dx."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _cached(self):
        # A cache may legitimately be None (e.g. dropout in eval mode): test for presence.
        if "_cache" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward(): "
                               "there is no cache to backpropagate through")
        return self.__dict__["_cache"]

    # ---- traversal ----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Pre-order walk: ("", self) first, then "0", "0.conv", ...; shared modules once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, Parameter) in torch's order; a parameter shared by two modules appears once."""
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, np.ndarray]]:
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> Module:
        """Call ``fn(m)`` on every submodule (children first) and on self, like torch."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        """Reset every parameter's `grad` to zeros (backward only ever adds to it)."""
        for p in self.parameters():
            p.zero_grad()

    # ---- state dict ---------------------------------------------------------------------
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        # torch's order: own parameters, own persistent buffers, then each child recursively.
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p.data
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                yield prefix + name, b
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_items(f"{prefix}{name}.")

    def state_dict(self) -> OrderedDict:
        """OrderedDict name -> array *copy* of every parameter and persistent buffer.

        The keys are those of the torch twin (`backprop_lab.torch_ref.to_torch`), e.g.
        "0.weight", "1.running_mean", "1.num_batches_tracked".
        """
        return OrderedDict((k, np.array(v, copy=True)) for k, v in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from `state_dict` (numpy arrays or torch tensors) into this module, in place.

        Values are cast to each destination's dtype. A shape mismatch always raises; missing
        or unexpected keys raise when `strict` and are returned otherwise.
        """
        targets = OrderedDict(self._state_items())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        mismatched = []
        values = {}
        for k, dst in targets.items():
            if k in state_dict:
                v = to_numpy(state_dict[k])
                if v.shape != dst.shape:
                    mismatched.append(f"{k}: checkpoint has shape {v.shape}, module has {dst.shape}")
                values[k] = v
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if mismatched:
            errors.append("Size mismatch: " + "; ".join(mismatched))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for k, v in values.items():
            # In place, so that anything holding the array (an optimizer, a cache) sees the update.
            np.copyto(targets[k], v, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # ---- repr ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(m), 2))
        if not self._modules:
            return f"{self._get_name()}({extra})"
        body = "\n  ".join(lines)
        return f"{self._get_name()}(\n  {body}\n)"


class Sequential(Module):
    """Chain of modules: forward runs them in order, backward in reverse.

    ``Sequential(a, b, c)`` names its children "0", "1", "2" (like torch);
    ``Sequential(OrderedDict(fc=..., act=...))`` uses the given names. Indexable (an int gives a
    module, a slice a new Sequential sharing the modules), `len`, iterable.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, dout):
        # The chain rule, outermost layer first: each module turns dL/d(its out) into dL/d(its in).
        for m in reversed(list(self._modules.values())):
            dout = m.backward(dout)
        return dout

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        try:
            return items[idx][1]
        except IndexError:
            raise IndexError(f"index {idx} is out of range for a Sequential of length {len(self)}") from None
