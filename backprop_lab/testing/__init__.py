"""Gradient testing for numpy ops: the op registry and the runners that compare numpy, torch and
finite differences (in the spirit of `torch.testing` and MiniTorch's ``testing.py``).

The repository's tests, the course's exercise checks and an instructor writing a new op or a new
exercise all use these same pieces.

Check an op against torch autograd and finite differences
---------------------------------------------------------
::

    import numpy as np
    from backprop_lab.testing import OPS, check_op

    for result in check_op(OPS["conv2d"], np.random.default_rng(0)):
        print(result)   # PASS conv2d.dweight: matches torch (rel. error 3.1e-16 <= 1e-10) ...

Each `backprop_lab.gradcheck.CheckResult` is truthy when it passed and names the likely bug when it
did not ("dweight is too large by a factor of N = 3 (the batch size) ...").

Test a new op
-------------
Write the pair in numpy (``forward(...) -> (out, cache)``, ``backward(dout, cache) -> grads``) and
describe it with an `OpSpec`: the inputs to differentiate, an input maker, the torch twin::

    from backprop_lab.testing import OpSpec, batch_size, check_op, randn, tF

    def softplus_forward(x):
        return np.logaddexp(0, x), x                 # (out, cache)

    def softplus_backward(dout, x):
        return dout / (1 + np.exp(-x))               # dx = dout * sigmoid(x)

    spec = OpSpec("softplus", softplus_forward, softplus_backward, grad_names=("x",),
                  make_inputs=lambda rng, dtype, n=None: ({"x": randn(rng, (batch_size(rng, n), 4), dtype)}, {}),
                  torch_forward=lambda x: tF.softplus(x))
    assert all(check_op(spec, np.random.default_rng(0)))

An op of the library goes into `OPS` (``backprop_lab/testing/ops.py``) instead: tests/test_functional.py
then checks it against torch and finite differences, in float32, at batch size 1 and more, with
nothing else to write. Draw inputs from the `rng` given, and keep finite differences meaningful:
`away_from_zero` for ops with a kink at 0 (relu, abs), `distinct_values` for max-like ops (no
near-ties in a window).

Write an exercise check
-----------------------
A check in ``backprop_lab.coursekit.exercises`` is a function ``run(runner, rng)``: it draws inputs,
asks the runner for the learner's results (a probe; see docs/EXERCISE_FORMAT.md) and compares them
with the reference AND torch. The runners give both; `backprop_lab.gradcheck.check_gradient`
compares::

    from backprop_lab.gradcheck import check_gradient
    from backprop_lab.testing import OPS, make_dout, run_numpy, run_torch

    spec = OPS["linear"]
    inputs, kwargs = spec.make_inputs(rng, np.float64)
    dout = make_dout(spec, spec.forward(**inputs, **kwargs)[0], rng)
    out, ref = run_numpy(spec, inputs, kwargs, dout)    # the reference: out and {name: grad}
    t_out, tor = run_torch(spec, inputs, kwargs, dout)  # the same from torch autograd
    got = runner.call("forward_backward", forward="linear_forward", backward="linear_backward",
                      args=[inputs["x"], inputs["weight"], inputs["bias"]], kwargs=kwargs, dout=dout)
    result = check_gradient(got["grads"][0], "dx", reference=ref["x"], torch=tor["x"],
                            batch_size=len(inputs["x"]))

For a computation that is not one op (a whole MLP, a loss plus a penalty),
`torch_grads(fn, inputs, wrt, dout)` runs any function of tensors under autograd.

Without torch
-------------
This module imports with numpy alone. `torch` and `tF` are lazy proxies for ``torch`` and
``torch.nn.functional``: a twin written with them imports torch the first time it runs. So
`run_numpy`, `run_numeric` and ``check_op(spec, rng, against=("numeric",))`` need numpy only;
`run_torch`, `torch_grads` and the torch comparisons of `check_op` need ``pip install 'backprop_lab[torch]'``.
"""
from .inputs import away_from_zero, batch_size, distinct_values, image_shape, randn
from .ops import OPS
from .runners import OpSpec, check_op, make_dout, run_numeric, run_numpy, run_torch, tF, torch, torch_grads

__all__ = [
    "OpSpec", "OPS", "check_op",
    "run_numpy", "run_torch", "run_numeric", "torch_grads", "make_dout",
    "away_from_zero", "distinct_values", "batch_size", "randn", "image_shape",
    "torch", "tF",
]
