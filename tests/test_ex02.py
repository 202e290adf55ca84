"""Notebook 02 (computational graph): its exercises, checks, diagnoses and the notebook itself.

The reference solution is the solution cells of the source notebook. It must earn every point, both
in this process (`LocalRunner`, a learner's self-check) and in the grading sandbox; typical bugs
must lose points with a diagnosis that names them; the release stub must read "not attempted".
"""
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbgrader.preprocessors import ClearSolutions

from backprop_lab.checking import LocalRunner, get_exercise, run_exercise
from backprop_lab.checking.probes import value_program
from backprop_lab.exercises import ex02_computational_graph as ex02
from backprop_lab.gradcheck import rel_error
from backprop_lab.grading.sandbox import SandboxRunner
from backprop_lab.scalar import Value as RefValue

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "02_computational_graph" / "02_computational_graph.ipynb"
KEYS = ("02.local_rules", "02.backward", "02.xor")


def read_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def solution_cells(nb=None):
    nb = nb or read_notebook()
    return [(c.metadata["nbgrader"]["grade_id"], c.source) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def namespace(cells):
    ns = {"__name__": "__main__", "np": np, "math": math}
    for gid, src in cells:
        exec(compile(src, f"<cell {gid}>", "exec"), ns)
    return ns


def mutate(old, new):
    """The solution cells with one bug put in (`old` must occur exactly once)."""
    cells = solution_cells()
    hits = [i for i, (_, src) in enumerate(cells) if old in src]
    assert len(hits) == 1 and cells[hits[0]][1].count(old) == 1, f"{old!r} is not unique in the solution"
    gid, src = cells[hits[0]]
    cells[hits[0]] = (gid, src.replace(old, new))
    return cells


def report(key, cells, seed=7):
    return run_exercise(get_exercise(key), LocalRunner(namespace(cells)), hidden=True, seed=seed)


# ------------------------------------------------------------------------------ the reference


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_solution_earns_every_point_locally(key, seed):
    rep = report(key, solution_cells(), seed)
    assert rep.status == "pass", rep.text()
    assert rep.earned == rep.points == get_exercise(key).points


def test_reference_solution_earns_every_point_in_the_sandbox():
    with SandboxRunner(solution_cells(), timeout=20.0) as runner:
        for key in KEYS:
            rep = run_exercise(get_exercise(key), runner, hidden=True, seed=123)
            assert rep.status == "pass", rep.text()
            assert rep.earned == rep.points
        assert runner.notes == []


def test_release_stub_is_not_attempted_locally_and_in_the_sandbox():
    nb, _ = ClearSolutions(code_stub={"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
                           ).preprocess(read_notebook(), {})
    cells = solution_cells(nb)
    assert all("raise NotImplementedError()" in src and "BEGIN SOLUTION" not in src for _, src in cells)
    for key in KEYS:
        rep = report(key, cells)
        assert rep.status == "not_attempted", rep.text()
        assert rep.earned == 0 and "not attempted yet" in rep.text()
    with SandboxRunner(cells, timeout=20.0) as runner:
        rep = run_exercise(get_exercise("02.backward"), runner, hidden=True, seed=1)
        assert rep.status == "not_attempted", rep.text()


def test_hidden_test_cells_carry_the_registry_points():
    found = {}
    for cell in read_notebook().cells:
        meta = cell.metadata.get("nbgrader", {})
        m = re.search(r'grade\("([\w.]+)"\)', cell.source)
        if meta.get("grade") and m:
            assert "BEGIN HIDDEN TESTS" in cell.source and meta.get("locked")
            found[m.group(1)] = meta["points"]
    assert found == {key: get_exercise(key).points for key in KEYS}
    assert sum(found.values()) == 16


# ------------------------------------------------------------------------- bugs and diagnoses
BUGS = [
    # (exercise, bug in the solution: old -> new, words the diagnosis must contain)
    ("02.local_rules", "self.grad += other.data * out.grad  # each factor receives the other one",
     "self.grad = other.data * out.grad", ["+=", "sum of both paths"]),
    ("02.local_rules", "(1.0 - out.data ** 2) * out.grad", "(1.0 - self.data ** 2) * out.grad",
     ["input", "1 - out.data**2"]),
    ("02.local_rules", "k * self.data ** (k - 1) * out.grad", "k * self.data ** k * out.grad",
     ["lowers the exponent"]),
    ("02.local_rules", "self.grad += out.data * out.grad  # e^x", "self.grad += self.data * out.grad  # e^x",
     ["out.data, not self.data"]),
    ("02.local_rules", "self.grad += out.grad / self.data", "self.grad += 1.0 / self.data",
     ["multiplied by out.grad"]),
    ("02.local_rules", "self.grad += out.grad / self.data", "self.grad += out.grad / out.data",
     ["expected [0.5]", "d(log a)/da = 1/a"]),  # no known mutant: the numbers and the rule
    ("02.backward", "            if node in visited:\n                return\n", "",
     ["more than once", "visited"]),
    ("02.backward", "reversed(self.topological_order())", "self.topological_order()", ["REVERSED"]),
    ("02.backward", "self.grad = 1.0  # d self / d self", "pass", ["self.grad = 1.0"]),
    ("02.xor", "mse = total / len(X)", "mse = total", ["factor of N"]),
    ("02.xor", "mse.backward()", "pass", ["all zeros"]),
]


@pytest.mark.parametrize("key,old,new,words", BUGS, ids=[f"{b[0]}:{b[2][:30]}" for b in BUGS])
def test_a_bug_loses_points_and_the_diagnosis_names_it(key, old, new, words):
    rep = report(key, mutate(old, new))
    assert 0 <= rep.earned < rep.points
    text = rep.text()
    for word in words:
        assert word in text, text


def test_visible_checks_catch_every_backward_mutant():
    """Each known bug of backward() changes the leaf grads of some visible program, so the
    self-check already catches it, and its mutant message can be recognized."""
    for kind, _ in ex02._BACKWARD_MUTANTS:
        changed = [p for p in (ex02.PLUS_MINUS, ex02.LOSS, ex02.NEURON)
                   if rel_error(ex02._mutant_grads(p, kind), value_program({"V": RefValue}, "V", p)["grads"]) > 1e-6]
        assert changed, kind


def test_breadth_first_backward_is_recognized():
    bfs = '''        self.grad = 1.0  # d self / d self
        for node in reversed(self.topological_order()):
            node._backward()'''
    queue = '''        self.grad, queue, seen = 1.0, [self], {self}
        for node in queue:
            node._backward()
            fresh = [c for c in dict.fromkeys(node._prev) if c not in seen]
            seen.update(fresh)
            queue += fresh'''
    rep = report("02.backward", mutate(bfs, queue))
    assert rep.earned < rep.points
    assert "breadth-first" in rep.text(), rep.text()


# ------------------------------------------------------------------------------ grader pieces


@pytest.mark.parametrize("seed", range(20))
def test_random_programs_stay_in_the_domain_and_reference_matches_torch(seed):
    program = ex02.random_program(np.random.default_rng(seed))
    ref = value_program({"V": RefValue}, "V", program)
    tch = ex02._torch_program(program)
    assert np.all(np.isfinite(ref["data"])) and np.all(np.isfinite(ref["grads"]))
    assert rel_error(ref["data"], tch["data"]) < 1e-12
    assert rel_error(ref["grads"], tch["grads"]) < 1e-12
    used = {i for step in program if step[0] not in ("leaf", "const") for i in step[1:]}
    assert all(i in used for i, step in enumerate(program[:-1]) if step[0] != "const")  # all feed the root


def test_xor_reference_matches_torch():
    rng = np.random.default_rng(0)
    for _ in range(3):
        params, X, y = ex02._xor_case(rng, visible=False)
        (loss, grads), (t_loss, t_grads) = ex02.xor_reference(params, X, y), ex02.xor_torch(params, X, y)
        assert abs(loss - t_loss) < 1e-12
        assert all(rel_error(grads[k], t_grads[k]) < 1e-12 for k in params)


# ------------------------------------------------------------------------------ the notebook


# Executing the notebook (no errors, no failing self-check, time limit) is tests/test_course.py's job.
def test_source_notebook_has_no_outputs_and_self_contained_solutions():
    nb = read_notebook()
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    for _, src in solution_cells(nb):
        assert "import" not in src  # only np and math, which the grader provides
