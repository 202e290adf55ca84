"""The torch bridge: build the torch twin of any `backprop_lab.nn` module and compare the two.

    from backprop_lab import nn, torch_ref
    model = nn.MLP(64, [32], 10)
    twin = torch_ref.to_torch(model)            # torch.nn.Sequential, float64, same weights
    report = torch_ref.compare_module(model, x) # forward + backward on both sides
    assert report.passed, report

The twin has the same structure, hence the same `state_dict` keys, so weights move both ways
with `copy_weights`. This is the only module of the package that imports torch at import time.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

try:
    import torch
except ImportError as exc:  # the library half runs on numpy alone; only the twins need torch
    raise ImportError("backprop_lab.torch_ref needs PyTorch, which is not installed: "
                      "pip install 'backprop_lab[torch]' (or any torch >= 2.1)") from exc

from . import nn
from .arrays import to_numpy  # re-exported: torch_ref.to_numpy is the same helper
from .gradcheck import TOL, CheckResult, check_close

__all__ = [
    "default_device", "to_numpy", "to_tensor", "to_torch", "copy_weights", "compare_module",
    "ModuleReport", "Residual", "register_twin",
]


# ---- tensors ------------------------------------------------------------------------------
def default_device() -> str:
    """"cuda" when torch sees a GPU, else "cpu". Everything here defaults to the CPU; pass
    ``device=default_device()`` to opt in to the GPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _device(device) -> torch.device:
    if device is None:
        return torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch.cuda.is_available() is False; "
                           "use device=default_device() to fall back to the CPU")
    return device


def to_tensor(a, requires_grad: bool = False, device=None) -> torch.Tensor:
    """A tensor copy of an array, same dtype, on `device` (CPU by default)."""
    t = torch.tensor(np.asarray(a), device=_device(device))
    if requires_grad:
        t.requires_grad_(True)
    return t


# ---- twins --------------------------------------------------------------------------------
class Residual(torch.nn.Module):
    """torch twin of `backprop_lab.nn.Residual`: y = x + block(x) (autograd adds the identity)."""

    def __init__(self, block: torch.nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


_BUILDERS: dict[type, Callable] = {}
_built: dict[int, torch.nn.Module] = {}  # id(module) -> twin, during one to_torch call


def register_twin(cls: type, builder: Callable) -> None:
    """Teach `to_torch` a new module type: ``builder(module) -> torch.nn.Module`` returns the
    twin's *structure*; weights, dtype, device and train/eval mode are set afterwards."""
    _BUILDERS[cls] = builder


def _build(m: nn.Module) -> torch.nn.Module:
    if id(m) in _built:  # a module used twice gets one twin used twice
        return _built[id(m)]
    for cls in type(m).__mro__:  # the most specific registered class (MLP -> Sequential)
        if cls in _BUILDERS:
            _built[id(m)] = _BUILDERS[cls](m)
            return _built[id(m)]
    raise TypeError(f"no torch twin known for {type(m).__name__}; "
                    "add one with backprop_lab.torch_ref.register_twin(cls, builder)")


def _bias(m) -> bool:
    return m.bias is not None


def _bn(cls):
    def build(m):
        # Only pass bias= when it matters: older torch versions have no such argument.
        extra = {} if m.bias is not None or not m.affine else {"bias": False}
        return cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                   track_running_stats=m.track_running_stats, **extra)
    return build


for _cls, _builder in {
    nn.Linear: lambda m: torch.nn.Linear(m.in_features, m.out_features, bias=_bias(m)),
    nn.Conv2d: lambda m: torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size,
                                         stride=m.stride, padding=m.padding, bias=_bias(m)),
    nn.MaxPool2d: lambda m: torch.nn.MaxPool2d(m.kernel_size, m.stride),
    nn.AvgPool2d: lambda m: torch.nn.AvgPool2d(m.kernel_size, m.stride),
    nn.ReLU: lambda m: torch.nn.ReLU(),
    nn.LeakyReLU: lambda m: torch.nn.LeakyReLU(m.negative_slope),
    nn.Sigmoid: lambda m: torch.nn.Sigmoid(),
    nn.Tanh: lambda m: torch.nn.Tanh(),
    nn.Dropout: lambda m: torch.nn.Dropout(m.p),
    nn.BatchNorm1d: _bn(torch.nn.BatchNorm1d),
    nn.BatchNorm2d: _bn(torch.nn.BatchNorm2d),
    nn.Flatten: lambda m: torch.nn.Flatten(),
    nn.Sequential: lambda m: torch.nn.Sequential(
        OrderedDict((name, _build(child)) for name, child in m._modules.items())),
    nn.Residual: lambda m: Residual(_build(m.block)),
}.items():
    register_twin(_cls, _builder)


def _torch_dtype(module: nn.Module) -> torch.dtype:
    p = next(module.parameters(), None)
    np_dtype = np.float64 if p is None else p.data.dtype
    return torch.from_numpy(np.empty(0, dtype=np_dtype)).dtype


def to_torch(module: nn.Module, device=None) -> torch.nn.Module:
    """Build the torch twin of `module` (recursively for containers and models).

    The twin has the same structure and state_dict keys, a copy of every parameter and buffer
    (float64 when the module is float64), and each submodule in the same train/eval mode.

    Args:
        module: any `backprop_lab.nn` module with a registered twin (see `register_twin`).
        device: where the twin lives; CPU by default, "cuda" (or `default_device()`) to opt in.
    """
    with torch.random.fork_rng(devices=[]):  # torch's own init draws must not move the global RNG
        try:
            twin = _build(module)
        finally:
            _built.clear()
    _tie_shared_parameters(module, twin)
    twin = twin.to(device=_device(device), dtype=_torch_dtype(module))
    copy_weights(module, twin)
    ours, theirs = list(module.named_modules()), list(twin.named_modules())
    if [n for n, _ in ours] != [n for n, _ in theirs]:
        raise RuntimeError(f"twin structure differs: {[n for n, _ in ours]} vs {[n for n, _ in theirs]}")
    for (_, m), (_, t) in zip(ours, theirs):
        t.training = m.training
    return twin


def _tie_shared_parameters(module: nn.Module, twin: torch.nn.Module) -> None:
    """A Parameter shared by several modules (tied weights) becomes one shared torch Parameter."""
    first: dict[int, tuple[str, str]] = {}
    twins = dict(twin.named_modules(remove_duplicate=False))
    for mod_name, m in module.named_modules():
        for name, p in m._parameters.items():
            if p is None:
                continue
            if id(p) in first:
                owner, attr = first[id(p)]
                setattr(twins[mod_name], name, getattr(twins[owner], attr))
            else:
                first[id(p)] = (mod_name, name)


def copy_weights(src, dst):
    """Copy every parameter and buffer from `src` to `dst` through their state_dicts.

    Either side may be a `backprop_lab.nn.Module` or a `torch.nn.Module` (numpy -> torch,
    torch -> numpy, or like to like); keys must match exactly. Returns `dst`.
    """
    state = src.state_dict()
    if isinstance(dst, torch.nn.Module):
        state = OrderedDict((k, torch.as_tensor(np.asarray(to_numpy(v)))) for k, v in state.items())
        with torch.no_grad():
            dst.load_state_dict(state, strict=True)  # copy_ casts dtype and moves device
    else:
        dst.load_state_dict(state, strict=True)
    return dst


# ---- comparison ---------------------------------------------------------------------------
class ModuleReport(dict):
    """name -> `CheckResult` for "out", "dx", each "<param>.grad" and each buffer after forward.

    ``report.passed`` (also ``bool(report)``) is True when every check passed;
    ``report.max_rel_error`` is the largest normwise error; ``str(report)`` lists them all.
    """

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.values())

    @property
    def max_rel_error(self) -> float:
        return max((r.max_rel_error for r in self.values()), default=0.0)

    def failures(self) -> list[CheckResult]:
        return [r for r in self.values() if not r.passed]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = (f"{'PASS' if self.passed else 'FAIL'}: {len(self)} checks against torch, "
                f"max rel. error {self.max_rel_error:.1e}")
        return "\n".join([head] + ["  " + r.message.replace("\n", "\n  ") for r in self.values()])


def _zero_up_to_rounding(ours, theirs, scale) -> bool:
    return ours.size > 0 and max(np.max(np.abs(ours)), np.max(np.abs(theirs))) <= 1e-12 * scale


def _check_against_scale(name, ours, theirs, scale, tol) -> CheckResult:
    """Compare a gradient that is exactly zero in exact arithmetic (a bias followed by a
    train-mode batchnorm: batchnorm's dx sums to zero over the batch). Both sides hold only
    rounding noise, ~1e-16 of the other gradients, so the normwise error of the noise against
    itself means nothing; measure it against the largest gradient of the module instead."""
    err = float(np.max(np.abs(ours - theirs))) / scale
    if tol is None:
        tol = TOL.get(np.dtype(theirs.dtype), TOL[np.dtype(np.float32)])["exact"]
    return CheckResult(name, err <= tol, err, None,
                       "torch (both ~0: error relative to the largest gradient)", None, tol)


def compare_module(module: nn.Module, x, dout=None, seed: int = 0, tol: float | None = None,
                   device=None) -> ModuleReport:
    """Run forward + backward through `module` and through its torch twin, and compare.

    The twin is built (weights copied) before the forward, so both start from the same state.
    Compared: the output, dx, every parameter gradient ("0.weight.grad", ...) and every buffer
    after the forward (batchnorm's running statistics), each by its normwise relative error. A
    gradient that both sides make zero up to rounding (at most 1e-12 of the largest gradient,
    e.g. the bias of a Linear feeding a train-mode batchnorm) is measured against that largest
    gradient instead, since its noise has no meaningful relative error.

    `module`'s gradients are zeroed first; its buffers are updated by the forward, as in any
    training step.

    Args:
        module: the backprop_lab module, in whatever train/eval mode it is in.
        x: input array, e.g. (N, D) or (N, C, H, W).
        dout: upstream gradient with the output's shape; a seeded standard normal when None
            (random, not ones: ones would hide errors that cancel, e.g. batchnorm's dx sums to 0).
        seed: seed for that default `dout`.
        tol: tolerance on the normwise relative error; `gradcheck.TOL` by dtype when None.
        device: where the twin runs (CPU by default).

    Raises:
        ValueError: if a Dropout with p > 0 is in training mode (the two sides' masks come from
            different generators; compare at p=0 or in eval mode).
    """
    for name, m in module.named_modules():
        if isinstance(m, nn.Dropout) and m.training and m.p > 0:
            raise ValueError(f"compare_module: Dropout {name or '(root)'} has p={m.p} in training mode; "
                             "its mask cannot match torch's. Use p=0 or module.eval().")
    twin = to_torch(module, device=device)
    x = np.asarray(x)
    module.zero_grad()
    out = module(x)
    if dout is None:
        # A child stream of `seed`, so that dout never equals an input drawn with
        # default_rng(seed): dout proportional to x makes batchnorm's dx cancel to ~1e-5.
        stream = np.random.SeedSequence(seed).spawn(1)[0]
        dout = np.random.default_rng(stream).standard_normal(out.shape).astype(out.dtype)
    dx = module.backward(dout)

    xt = to_tensor(x, requires_grad=True, device=device)
    out_t = twin(xt)
    out_t.backward(to_tensor(dout, device=device).to(out_t.dtype))

    report = ModuleReport()

    def add(name, ours, theirs):
        report[name] = check_close(ours, to_numpy(theirs), name=name, against="torch", tol=tol)

    add("out", out, out_t)
    add("dx", dx, xt.grad)
    twin_params = dict(twin.named_parameters())
    grads = {name: (p.grad, to_numpy(twin_params[name].grad) if twin_params[name].grad is not None
                    else np.zeros_like(p.grad)) for name, p in module.named_parameters()}
    scale = max((float(np.max(np.abs(a))) for pair in grads.values() for a in pair if a.size),
                default=0.0)
    for name, (ours, theirs) in grads.items():
        add(f"{name}.grad", ours, theirs)
        if not report[f"{name}.grad"].passed and _zero_up_to_rounding(ours, theirs, scale):
            report[f"{name}.grad"] = _check_against_scale(f"{name}.grad", ours, theirs, scale, tol)
    twin_buffers = dict(twin.named_buffers())
    for name, b in module.named_buffers():
        add(name, b, twin_buffers[name])
    return report
