"""The catalogue of learner bugs (tests/bugs/bugs_NN.py): the self-check predicts grading and names
each bug.

For every bug, put into an otherwise correct copy of its notebook's exercise cells and checked in
this process (LocalRunner, as a learner's `check(...)` runs it):

* the visible self-check catches it (some visible check does not pass);
* it never passes the visible checks while failing the hidden ones (grading holds no surprise);
* a failing visible check carries the bug's diagnosis code (the code a class report groups by).

`python tests/bugs/measure.py` prints the same as a table per notebook.
"""
from __future__ import annotations

import warnings

import pytest
from bugs import load
from exercise_kit import edit, report, solution_cells

from backprop_lab.coursekit.checking import diagnoses

BUGS = load("bugs")
IDS = [f"{b.exercise}:{b.id}" for b in BUGS]
_VISIBLE: dict = {}


def _cells(bug):
    return edit(solution_cells(bug.assignment), bug.cell, *bug.edits)


def _visible(bug):
    """The visible report of the bug (computed once per bug)."""
    key = (bug.exercise, bug.id)
    if key not in _VISIBLE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # some bugs overflow on purpose
            _VISIBLE[key] = report(bug.exercise, _cells(bug), seed=None, hidden=False)
    return _VISIBLE[key]


def test_the_catalogue_is_well_formed():
    assert len(BUGS) >= 100
    assert len(set(IDS)) == len(IDS), "bug ids repeat within a notebook"
    known = diagnoses.catalogue()
    unknown = sorted({b.code for b in BUGS if b.code is not None and b.code not in known})
    assert not unknown, f"codes not in the diagnosis catalogue: {unknown}"
    for nb in ("01", "02", "03", "04", "05", "06", "07", "08", "09"):
        assert sum(b.exercise.startswith(nb) for b in BUGS) >= 15, f"notebook {nb} has fewer than 15 bugs"


@pytest.mark.parametrize("bug", BUGS, ids=IDS)
def test_the_self_check_catches_the_bug(bug):
    rep = _visible(bug)
    assert rep.status != "pass", f"{bug.id} passes every visible check:\n{rep.text()}"


@pytest.mark.parametrize("bug", BUGS, ids=IDS)
def test_no_bug_passes_the_self_check_and_then_fails_grading(bug):
    if _visible(bug).status != "pass":
        return  # caught before submitting: no surprise possible
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in (0, 1, 2):
            graded = report(bug.exercise, _cells(bug), seed=seed, hidden=True)
            assert graded.status == "pass", f"{bug.id} passes the self-check but loses points:\n{graded.text()}"


@pytest.mark.parametrize("bug", [b for b in BUGS if b.code], ids=[i for b, i in zip(BUGS, IDS) if b.code])
def test_the_self_check_names_the_bug(bug):
    rep = _visible(bug)
    codes = [o.code for o in rep.outcomes if o.status != "pass"]
    assert bug.code in codes, f"{bug.id}: expected the code {bug.code}, got {codes}:\n{rep.text()}"
