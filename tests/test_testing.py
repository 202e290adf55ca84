"""backprop_lab.testing: the examples its docstring teaches run as written, and its runners see bugs."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import backprop_lab.testing as testing
from backprop_lab import functional as F
from backprop_lab.coursekit.checking.core import LocalRunner
from backprop_lab.testing import OPS, OpSpec, check_op, run_torch, torch_grads


def docstring_examples() -> list[str]:
    """The code blocks (the indented text after a line ending in "::") of the module docstring."""
    blocks = re.findall(r"::\n\n((?:    .*\n|\n)+)", testing.__doc__)
    return [re.sub(r"^    ", "", b, flags=re.M) for b in blocks]


def test_docstring_has_the_three_examples():
    examples = docstring_examples()
    assert len(examples) == 3
    assert "check_op(OPS[" in examples[0] and "OpSpec(" in examples[1] and "runner.call(" in examples[2]


def test_check_an_op_example_passes(capsys):
    exec(docstring_examples()[0], {"np": np})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 + 3 + 3  # out, then dx, dweight, dbias against torch and against numeric
    assert all(line.startswith("PASS conv2d.") for line in printed)


def test_new_op_example_passes_and_a_wrong_backward_fails():
    ns = {"np": np}
    exec(docstring_examples()[1], ns)  # its own `assert all(check_op(...))` is the pass
    wrong = OpSpec(**{**vars(ns["spec"]), "backward": lambda dout, x: 2 * ns["softplus_backward"](dout, x)})
    failed = [r for r in check_op(wrong, np.random.default_rng(0)) if not r]
    assert [r.against for r in failed] == ["torch", "numeric"]
    assert {r.code for r in failed} == {"factor-of-2"}


def _linear_runner(backward):
    # The reference stands in for a learner's answer here, so the reference guard is switched off.
    return LocalRunner({"linear_forward": F.linear_forward, "linear_backward": backward}, forbid=())


def test_exercise_check_example_passes_the_reference_and_names_a_bug():
    ns = {"np": np, "rng": np.random.default_rng(1), "runner": _linear_runner(F.linear_backward)}
    exec(docstring_examples()[2], ns)
    assert ns["result"].passed and ns["result"].against == "reference and torch"

    def doubled_dx_backward(dout, cache):  # a learner's bug: dx counted twice
        dx, dweight, dbias = F.linear_backward(dout, cache)
        return 2 * dx, dweight, dbias

    ns = {"np": np, "rng": np.random.default_rng(1), "runner": _linear_runner(doubled_dx_backward)}
    exec(docstring_examples()[2], ns)
    assert not ns["result"].passed and ns["result"].code == "factor-of-2"


def test_torch_grads_keeps_dtypes_and_gives_zeros_to_unused_inputs():
    x = np.arange(6.0).reshape(2, 3)
    labels = np.array([2, 0])
    out, grads = torch_grads(lambda x, labels, unused: testing.tF.cross_entropy(x, labels),
                             {"x": x, "labels": labels, "unused": np.ones(4)}, ["x", "unused"])
    assert out.shape == () and grads["x"].dtype == np.float64 and grads["x"].shape == (2, 3)
    np.testing.assert_array_equal(grads["unused"], np.zeros(4))
    # softmax rows minus the one-hot labels, over the batch of 2
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[[0, 1], labels] -= 1
    np.testing.assert_allclose(grads["x"], p / 2, rtol=1e-12)


def test_torch_grads_scalar_numbers_and_dout():
    out, grads = torch_grads(lambda w, x: w * x, {"w": 3.0, "x": np.array([1.0, -2.0])}, ["w", "x"],
                             dout=np.array([10.0, 1.0]))
    np.testing.assert_array_equal(out, [3.0, -6.0])
    assert float(grads["w"]) == 10.0 * 1.0 + 1.0 * -2.0
    np.testing.assert_array_equal(grads["x"], [30.0, 3.0])


def test_run_torch_passes_arrays_as_tensors_and_options_as_they_are():
    spec = OPS["batchnorm1d_train"]
    inputs, kwargs = spec.make_inputs(np.random.default_rng(0), np.float64)
    before = kwargs["running_mean"].copy()
    out, grads = run_torch(spec, inputs, kwargs)
    assert out.shape == inputs["x"].shape and set(grads) == {"x", "gamma", "beta"}
    np.testing.assert_array_equal(kwargs["running_mean"], before)  # torch updated its own copy


@pytest.mark.parametrize("call", ["run_torch", "run_numpy"])
def test_without_torch_the_torch_runners_name_the_extra(call):
    code = f"""
import builtins
real_import = builtins.__import__
def no_torch(name, *args, **kwargs):
    if name == "torch" or name.startswith("torch."):
        raise ImportError("No module named 'torch' (hidden by the test)")
    return real_import(name, *args, **kwargs)
builtins.__import__ = no_torch
import numpy as np
from backprop_lab.testing import OPS, {call}
spec = OPS["linear"]
inputs, kwargs = spec.make_inputs(np.random.default_rng(0), np.float64)
try:
    {call}(spec, inputs, kwargs)
except ImportError as exc:
    print("ImportError:", exc)
else:
    print("ran")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if call == "run_numpy":
        assert out.stdout.strip() == "ran"
    else:
        assert out.stdout.startswith("ImportError:") and "pip install 'backprop_lab[torch]'" in out.stdout
