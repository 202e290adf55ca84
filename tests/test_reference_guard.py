"""An answer that calls the reference library or torch: the self-check says so and earns nothing that
grading would refuse, while the library stays importable for the demos.

In process (LocalRunner, as `check(...)` runs it) and in a real Jupyter kernel (nbclient) on cells of
notebook 03.
"""
from __future__ import annotations

import sys

import nbformat
import numpy as np
import pytest
from exercise_kit import namespace, notebook, solution_cells

from backprop_lab import functional as F
from backprop_lab.coursekit.checking import LocalRunner, check, get_exercise, run_exercise
from backprop_lab.coursekit.checking.reference_guard import ReferenceGuard

SOLUTION = solution_cells("03_vectorized_layers")
CALLS_F = '''
from backprop_lab import functional as F

def linear_backward(dout, cache):
    x, weight = cache
    return F.linear_backward(dout, (x, weight, True))
'''


def _visible(ns, key="03.linear"):
    ex = get_exercise(key)
    return run_exercise(ex, LocalRunner(ns, forbid=ex.forbid), hidden=False)


def test_an_answer_that_calls_the_reference_earns_no_visible_points(capsys):
    ns = namespace(SOLUTION)
    exec(CALLS_F, ns)
    rep = _visible(ns)
    assert {o.status for o in rep.outcomes} == {"forbidden"} and rep.earned == 0
    assert {o.code for o in rep.outcomes} == {"uses-reference"}
    check("03.linear", namespace=ns)
    out = capsys.readouterr().out
    assert "calls backprop_lab.functional.linear.linear_backward" in out and "score 0" in out, out
    assert "✓" not in out


def test_a_name_bound_to_the_reference_is_refused():
    rep = _visible(dict(namespace(SOLUTION), linear_forward=F.linear_forward))
    assert rep.earned == 0 and "is backprop_lab.functional.linear.linear_forward" in rep.text()


def test_torch_inside_an_answer_is_refused():
    ns = namespace(SOLUTION)
    exec("import torch\ndef relu_forward(x):\n    return torch.relu(torch.tensor(x)).numpy(), x\n", ns)
    rep = _visible(ns, "03.activations")
    relu = [o for o in rep.outcomes if o.check.startswith("relu: ")]
    assert relu[0].status == "forbidden" and "torch" in relu[0].message
    assert all(o.status == "pass" for o in rep.outcomes if o.check.startswith(("sigmoid", "tanh")))


def test_own_code_passes_and_checker_supplied_functions_may_be_called():
    # 01's numerical_gradient calls the test function the checker hands it (defined in probes_01.py).
    for assignment, key in [("03_vectorized_layers", "03.linear"), ("01_chain_rule", "01.numerical_gradient")]:
        assert _visible(namespace(solution_cells(assignment)), key).status == "pass"


def test_the_guard_restores_the_previous_profiler():
    seen = []

    def outer(frame, event, arg):
        seen.append(event)

    sys.setprofile(outer)
    try:
        with ReferenceGuard() as guard:
            np.zeros(3).sum()
        assert sys.getprofile() is outer and guard.offence is None
    finally:
        sys.setprofile(None)


@pytest.mark.notebooks
def test_in_a_real_kernel(tmp_path):
    """Notebook 03's setup and linear cells in a Jupyter kernel, then an answer that calls F: the
    self-check refuses it; the library stays usable for the demos (F.relu_forward runs)."""
    from nbclient import NotebookClient

    source = notebook("03_vectorized_layers")
    setup = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    linear = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "linear")
    cells = [setup.source, linear.source, 'check("03.linear")', CALLS_F, 'check("03.linear")',
             "print(F.relu_forward(np.array([-1.0, 2.0]))[0])"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = ["".join(o.get("text", "") for o in c.outputs if o.output_type == "stream") for c in nb.cells]
    assert "✓ Exercise 3.1" in text[2], text[2]
    assert "not yet right" in text[4] and "calls backprop_lab.functional.linear.linear_backward" in text[4], text[4]
    assert "✓" not in text[4]
    assert text[5].strip() == "[0. 2.]"
