"""The bug catalogue of notebooks 05-09 (tests/bugs/bugs_NN.py): for every deliberately broken variant,
the learner's visible self-check (a) catches it, (b) so it never passes the visible checks only to fail
the hidden ones, and (c) names it: a failing visible check carries the bug's diagnosis code.

(The same three properties for every notebook: tests/test_bug_catalogue.py; this file covers 05-09
until the two are folded together.)
"""
import pytest
from bugs import load
from exercise_kit import edit, report, solution_cells

NOTEBOOKS = ("05", "06", "07", "08", "09")
BUGS = [b for b in load() if b.exercise[:2] in NOTEBOOKS]


def test_the_catalogue_is_large_and_its_ids_are_unique():
    for nb in NOTEBOOKS:
        assert sum(b.exercise.startswith(nb) for b in BUGS) >= 15, nb
    ids = [(b.exercise[:2], b.id) for b in BUGS]
    assert len(ids) == len(set(ids))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a learner's unstable sigmoid overflows, as it should
@pytest.mark.parametrize("bug", BUGS, ids=[f"{b.exercise}:{b.id}" for b in BUGS])
def test_the_visible_checks_catch_and_name_the_bug(bug):
    cells = edit(solution_cells(bug.assignment), bug.cell, *bug.edits)
    visible = report(bug.exercise, cells, seed=None, hidden=False)
    if visible.status == "pass":  # (b): say whether grading would then take points
        hidden = report(bug.exercise, cells, seed=5, hidden=True)
        pytest.fail(f"the visible checks pass; grading gives {hidden.earned:g}/{hidden.points:g}\n{hidden.text()}")
    codes = [o.code for o in visible.outcomes if o.status != "pass"]
    assert bug.code is None or bug.code in codes, visible.text()
