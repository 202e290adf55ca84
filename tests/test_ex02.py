"""Notebook 02 (computational graph): typical bugs lose points with a diagnosis that names them, and
the grader's own pieces (random programs, the XOR reference) agree with torch.

The reference solution, the release stub and the self-checks of every notebook: tests/test_exercises.py.
"""
import numpy as np
import pytest
from exercise_kit import assert_exercises, edit, report, solution_cells

from backprop_lab.coursekit.checking.probes import value_program
from backprop_lab.coursekit.exercises import ex02_computational_graph as ex02
from backprop_lab.coursekit.exercises import ex02_xor
from backprop_lab.gradcheck import rel_error
from backprop_lab.scalar import Value as RefValue

SOLUTION = solution_cells("02_computational_graph")
KEYS = ("02.local_rules", "02.backward", "02.xor")
CELL = {"02.local_rules": "value_class", "02.backward": "value_class", "02.xor": "xor_solution"}


def test_the_notebook_has_these_exercises():
    assert_exercises("02_computational_graph", KEYS, total=16)


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
    ("02.local_rules", "self.grad += out.grad / self.data", "self.grad += 2.0 * out.grad / self.data",
     ["expected [", "d(log a)/da = 1/a"]),  # no known mutant: the numbers and the rule
    ("02.local_rules", "self.grad += out.grad / self.data", "self.grad += out.grad / out.data",
     ["divide by the input self.data"]),
    ("02.local_rules", "self.grad += out.grad / self.data", "self.grad += out.grad * self.data",
     ["multiplied out.grad by a"]),
    ("02.local_rules", "(1.0 - out.data ** 2) * out.grad", "(1.0 - out.data) ** 2 * out.grad",
     ["parentheses are misplaced"]),
    ("02.backward", "            if node in visited:\n                return\n", "",
     ["more than once", "visited"]),
    ("02.backward", "reversed(self.topological_order())", "self.topological_order()", ["REVERSED"]),
    ("02.backward", "self.grad = 1.0  # d self / d self", "pass", ["self.grad = 1.0"]),
    ("02.xor", "mse = total / len(X)", "mse = total", ["factor of N"]),
    ("02.xor", "mse.backward()", "pass", ["call backward() on the loss"]),
    ("02.xor", ', V["b2"][0])', ', float(params["b2"][0]))', ["b2 entered the network as a plain number"]),
]


@pytest.mark.parametrize("key,old,new,words", BUGS, ids=[f"{b[0]}:{b[2][:30]}" for b in BUGS])
def test_a_bug_loses_points_and_the_diagnosis_names_it(key, old, new, words):
    rep = report(key, edit(SOLUTION, CELL[key], (old, new)), seed=7)
    assert 0 <= rep.earned < rep.points
    text = rep.text()
    for word in words:
        assert word in text, text


def test_visible_checks_catch_every_backward_mutant():
    """Each known bug of backward() changes the leaf grads of some visible program, so the
    self-check already catches it, and its mutant message can be recognized."""
    for kind, _, _ in ex02._BACKWARD_MUTANTS:
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
    rep = report("02.backward", edit(SOLUTION, CELL["02.backward"], (bfs, queue)), seed=7)
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
        params, X, y = ex02_xor.xor_case(rng, "random")
        (loss, grads), (t_loss, t_grads) = ex02_xor.xor_reference(params, X, y), ex02_xor.xor_torch(params, X, y)
        assert abs(loss - t_loss) < 1e-12
        assert all(rel_error(grads[k], t_grads[k]) < 1e-12 for k in params)


def test_the_xor_note_about_2_1_and_2_2_appears_only_when_they_fail():
    own_bug = report("02.xor", edit(SOLUTION, CELL["02.xor"], ("mse = total / len(X)", "mse = total")), seed=7)
    assert own_bug.status == "fail" and "fix exercise 2.1 / 2.2 first" not in own_bug.text()
    engine_bug = edit(SOLUTION, CELL["02.local_rules"], ("(1.0 - out.data ** 2) * out.grad",
                                                         "(1.0 - self.data ** 2) * out.grad"))
    rep = report("02.xor", engine_bug, seed=7)
    assert "fix exercise 2.1 / 2.2 first (Exercise 2.1 · local backward rules and Exercise 2.2" in rep.text()
    assert "do not pass yet" in rep.text()
