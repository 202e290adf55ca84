"""nbgrader round trip for every assignment (real gradebook, temporary copy of the course):
the solution scores full marks, the untouched release scores 0, and a submission with one exercise
cell left blank loses exactly the points of the exercises written in that cell."""
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from backprop_lab.coursekit.checking import get_exercise
from backprop_lab.coursekit.grading.autograde import autograde
from backprop_lab.coursekit.grading.export import scores
from backprop_lab.coursekit.grading.selfcheck import exercise_keys

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb")
                     if (ROOT / "course" / p.parent.name).is_dir())  # a missing release fails test_course


def _read(part, a):
    return nbformat.read(str(ROOT / part / a / f"{a}.ipynb"), as_version=4)


def _one_blank(a):
    """The solution with its first exercise cell replaced by the release stub; the points it must lose."""
    nb, release = _read("solutions", a), _read("course", a)
    stubs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in stubs)
    defined = set(re.findall(r"^(?:def|class) (\w+)", first.source, re.M))
    first.source = stubs[first.metadata["nbgrader"]["grade_id"]]
    lost = 0.0
    for key in exercise_keys(nb):
        ex = get_exercise(key)
        uses = {f.split(".")[0] for f in ex.functions} & defined
        if uses or (ex.depends and any(name in ex.depends for name in defined)):
            lost += ex.points
    return nb, lost


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("roundtrip")
    for part in ("solutions", "course"):
        shutil.copytree(ROOT / part, root / part)
    (root / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", root / "autograder")
    expected = {}
    for a in ASSIGNMENTS:
        full = sum(get_exercise(k).points for k in exercise_keys(_read("solutions", a)))
        blank_one, lost = _one_blank(a)
        for student, nb, total in [("solution", _read("solutions", a), full), ("release", _read("course", a), 0.0),
                                   ("oneblank", blank_one, full - lost)]:
            dest = root / "autograder" / "submitted" / student / a / f"{a}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(dest))
            expected[(a, student)] = total
        autograde(root, a, workers=1, progress=False)
    return root, expected


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_round_trip_scores(graded, assignment):
    root, expected = graded
    _, rows = scores(root, assignment)
    got = {r["student"]: r["total"] for r in rows}
    for student in ("solution", "release", "oneblank"):
        assert got[student] == pytest.approx(expected[(assignment, student)]), (student, got)
    assert got["oneblank"] < got["solution"]
