"""`OpSpec` and the runners: one op, three ways to its gradients (numpy, torch autograd, finite
differences), and `check_op`, which compares them.

torch is reached through the lazy proxies `torch` and `tF` (``torch.nn.functional``): it is
imported the first time a twin runs, so importing this module works with numpy alone.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arrays import to_numpy
from ..gradcheck import CheckResult, check_close, numeric_gradient

__all__ = ["OpSpec", "run_numpy", "run_torch", "run_numeric", "torch_grads", "make_dout", "check_op",
           "torch", "tF"]


class _Lazy:
    """A module imported on first attribute access (keeps torch out of `import` time)."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        try:
            module = importlib.import_module(self._name)
        except ImportError as exc:
            raise ImportError("this check runs a torch twin and needs PyTorch, which is not installed: "
                              "pip install 'backprop_lab[torch]' (run_numpy and run_numeric need numpy only)") from exc
        return getattr(module, attr)


#: ``torch`` and ``torch.nn.functional``, imported when first used: write twins with them
#: (``lambda x: tF.relu(x)``) and the module that holds the twins still imports without torch.
torch, tF = _Lazy("torch"), _Lazy("torch.nn.functional")


@dataclass(frozen=True)
class OpSpec:
    """One op variant: everything needed to run it in numpy and in torch and to compare the two.

    Attributes:
        name: key in `OPS`, e.g. "conv2d_stride2_pad1".
        forward: ``forward(**inputs, **kwargs) -> (out, cache)``; for losses ``-> (loss, grad)``
            where grad is dloss/d(first input), or a list of grads (penalties).
        backward: ``backward(dout, cache) -> grad or tuple of grads`` in `grad_names` order (extra
            trailing entries, such as an unused dbias, are ignored); None for losses.
        grad_names: the differentiable inputs, in the order the gradients come back.
        make_inputs: ``make_inputs(rng, dtype, n=None) -> (inputs, kwargs)``: `inputs` holds the
            differentiable arrays (keys = grad_names), `kwargs` everything else (labels, running
            statistics, stride...). `n` fixes the batch size (random, odd-ish sizes when None).
            Values stay away from kinks (relu near 0, max-pool near-ties) so finite differences hold.
        torch_forward: ``torch_forward(**tensors, **kwargs) -> tensor``, built from torch.nn.functional;
            array kwargs arrive as tensors, the other kwargs as they are.
        is_loss: forward returns (loss, grad) instead of (out, cache).
        small_batch: the batch size of the "small batch" test case: 1, except 3 for batchnorm1d in
            training mode (it needs N > 1, and with N = 2 every xhat is +-1 so its gradient nearly
            vanishes and finite differences only see noise).
    """

    name: str
    forward: Callable[..., tuple]
    backward: Callable[[Any, Any], Any] | None
    grad_names: tuple[str, ...]
    make_inputs: Callable[..., tuple[dict, dict]]
    torch_forward: Callable[..., Any]
    is_loss: bool = False
    small_batch: int = 1


def _fresh(kwargs):
    """Copy array kwargs so in-place updates (batchnorm running stats) never leak between runs."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def make_dout(spec: OpSpec, out, rng: np.random.Generator):
    """A random upstream gradient for `out` (a float for losses), same dtype as out.

    Random rather than ones: ones hide bugs that cancel (batchnorm's dx sums to 0 over the batch).
    """
    if spec.is_loss:
        return float(rng.uniform(0.5, 2.0))
    return rng.standard_normal(np.shape(out)).astype(out.dtype)


def run_numpy(spec: OpSpec, inputs: dict, kwargs: dict, dout=None):
    """Forward and backward with the numpy reference. Returns (out, {name: grad}).

    `dout` is the upstream gradient (shape of out; a float for losses); None means ones.
    """
    out, cache = spec.forward(**inputs, **_fresh(kwargs))
    if dout is None:
        dout = 1.0 if spec.is_loss else np.ones_like(out)
    if spec.is_loss:
        grads = tuple(dout * g for g in (cache if isinstance(cache, list) else [cache]))
    else:
        grads = spec.backward(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
    return out, dict(zip(spec.grad_names, grads))


def torch_grads(fn: Callable, inputs: dict, wrt: Sequence[str], dout=None):
    """Run ``fn(**tensors)`` under torch autograd and backpropagate `dout`: the torch side of any check.

    Args:
        fn: a function of torch tensors returning one tensor (a torch twin, or a lambda).
        inputs: name -> numpy array or number; each becomes a tensor of the same dtype (a Python
            float becomes float64). Use float64 arrays: comparisons to 1e-10 need them.
        wrt: the names to differentiate (their tensors require grad).
        dout: the upstream gradient, with the output's shape; None means ones (for a scalar: 1).

    Returns:
        (out, {name: grad}) as numpy arrays, one grad per name in `wrt`; zeros for an input the
        output does not depend on.
    """
    tensors = {k: torch.tensor(np.asarray(v), requires_grad=k in wrt) for k, v in inputs.items()}
    out = fn(**tensors)
    out.backward(torch.ones_like(out) if dout is None else torch.as_tensor(np.asarray(dout), dtype=out.dtype))
    grads = {k: to_numpy(tensors[k].grad) if tensors[k].grad is not None else np.zeros_like(to_numpy(tensors[k]))
             for k in wrt}
    return to_numpy(out), grads


def run_torch(spec: OpSpec, inputs: dict, kwargs: dict, dout=None):
    """The same as `run_numpy` with the torch twin and autograd. Returns (out, {name: grad}) as numpy.

    Array kwargs (labels, running statistics) reach the twin as tensors, the others as they are.
    """
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}  # torch.tensor copies them
    options = {k: v for k, v in kwargs.items() if k not in arrays}
    return torch_grads(lambda **t: spec.torch_forward(**t, **options), {**inputs, **arrays}, spec.grad_names, dout)


def run_numeric(spec: OpSpec, inputs: dict, kwargs: dict, dout) -> dict:
    """Centered finite-difference gradients (via `gradcheck.numeric_gradient`) of every input."""
    def f(_):  # numeric_gradient perturbs inputs[name] in place; forward reads it from `inputs`
        return spec.forward(**inputs, **_fresh(kwargs))[0]

    return {name: numeric_gradient(f, inputs[name], dout) for name in spec.grad_names}


def check_op(spec: OpSpec, rng: np.random.Generator, n: int | None = None,
             against=("torch", "numeric"), tol_torch: float = 1e-10, tol_numeric: float = 1e-6) -> list[CheckResult]:
    """Run `spec` on fresh float64 inputs (batch size `n`) with a random dout and compare with
    torch autograd and/or centered finite differences (`against`).

    Returns a list of `gradcheck.CheckResult` (truthy when passed), one per compared array:
    vs torch the forward output and every gradient, vs "numeric" every gradient.
    """
    inputs, kwargs = spec.make_inputs(rng, np.float64, n)
    dout = make_dout(spec, spec.forward(**inputs, **_fresh(kwargs))[0], rng)
    out, grads = run_numpy(spec, inputs, kwargs, dout)
    first = inputs[spec.grad_names[0]]
    batch = first.shape[0] if first.ndim else None  # lets a failure say "factor of N"
    results = []
    if "torch" in against:
        t_out, t_grads = run_torch(spec, inputs, kwargs, dout)
        results.append(check_close(out, t_out, f"{spec.name}.out", "torch", tol_torch))
        results += [check_close(grads[k], t_grads[k], f"{spec.name}.d{k}", "torch", tol_torch, batch)
                    for k in spec.grad_names]
    if "numeric" in against:
        num = run_numeric(spec, inputs, kwargs, dout)
        results += [check_close(grads[k], num[k], f"{spec.name}.d{k}", "numeric", tol_numeric, batch)
                    for k in spec.grad_names]
    return results
