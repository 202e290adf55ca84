"""Validate the fresh learner bugs without the checker: each applies, runs, and changes behaviour.

Run: ``cd <repo> && PYTHONPATH=$PWD:$PWD/tests python tests/bugs/validate_fresh.py [NN ...]``

For every bug of tests/bugs/fresh_NN.py: apply its edits to the reference solution cells
(``exercise_kit.edit``), execute the cells (``exercise_kit.namespace``), run the exercise's probe on
the broken and on the reference namespace with the same seeded inputs, and require that some result
differs: a value, a shape, a dtype, an exception where the reference has none, or an argument the
call changed in place. The probes (tests/bugs/fresh_probes_a.py and _b.py) call the exercise functions
directly, with the edge cases the prose names (stride, padding 0, ties, exact zeros, lr changes, ...).
Numpy's overflow, division and invalid-value warnings are raised as errors, as the prose says.
Exits 1 when a bug fails to apply, does not compile, or changes nothing.
"""
from __future__ import annotations

import sys
from collections import Counter

import exercise_kit
import numpy as np

from bugs import ASSIGNMENTS, Bug, load
from bugs.fresh_probe_kit import Raised, difference, same
from bugs.fresh_probes_a import PROBES as PROBES_A
from bugs.fresh_probes_b import PROBES as PROBES_B

PROBES = {**PROBES_A, **PROBES_B}


def results(cells, key: str):
    """The probe's results for exercise `key` on the namespace of `cells` (seeded: the same inputs each time)."""
    ns = exercise_kit.namespace(cells)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        return PROBES[key](ns, np.random.default_rng(1234))


def validate(bug: Bug, reference: dict):
    """('', where the behaviour first changes) when the bug applies and changes it, else the problem."""
    cells = exercise_kit.solution_cells(bug.assignment)
    try:
        broken = exercise_kit.edit(cells, bug.cell, *bug.edits)
    except (KeyError, ValueError) as err:
        return f"does not apply: {err}", ""
    try:
        got = results(broken, bug.exercise)
    except SyntaxError as err:
        return f"syntax error: {err}", ""
    if same(got, reference[bug.exercise]):
        return "no-op: every probe result equals the reference", ""
    return "", difference(reference[bug.exercise], got)


def main(notebooks: list[str]) -> int:
    bugs = [b for b in load("fresh") if not notebooks or b.exercise[:2] in notebooks]
    reference = {}
    for key in sorted({b.exercise for b in bugs}):
        reference[key] = results(exercise_kit.solution_cells(ASSIGNMENTS[key[:2]]), key)
        raised = [r for r in _flatten(reference[key]) if isinstance(r, Raised)]
        assert not raised, f"the reference raises in the probe of {key}: {raised}"
    ids = Counter((b.exercise[:2], b.id) for b in bugs)
    problems = [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for bug in bugs:
        assert bug.cause and bug.keywords and bug.category and bug.code is None, bug.id
        assert all(k == k.lower() for k in bug.keywords), bug.id
        problem, where = validate(bug, reference)
        print(f"{'ok ' if not problem else 'BAD'} {bug.exercise:22s} {bug.id:32s} {problem or where}")
        if problem:
            problems.append(f"{bug.exercise} {bug.id}: {problem}")
    print(f"\n{len(bugs)} bugs, {len(problems)} problems")
    per_nb = Counter(b.exercise[:2] for b in bugs)
    print("per notebook:", ", ".join(f"{k}: {n}" for k, n in sorted(per_nb.items())))
    print("per category:", ", ".join(f"{k}: {n}" for k, n in Counter(b.category for b in bugs).most_common()))
    for p in problems:
        print("  ", p)
    return 1 if problems else 0


def _flatten(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _flatten(v)
    elif isinstance(x, list):
        for v in x:
            yield from _flatten(v)
    else:
        yield x


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
