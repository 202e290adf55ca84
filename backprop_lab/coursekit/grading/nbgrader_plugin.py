"""An nbgrader preprocessor that grades without trusting the student's kernel.

Plain nbgrader runs the whole notebook in one kernel and gives a test cell its points when the
cell printed no error: a submission that patches `np.allclose`, or imports the reference, gets
full marks. `HonestAutograde` takes the place of nbgrader's `Execute` step in `autograde`:

* each autograded test cell names its exercise (``grade("03.linear")``; the text comes from the
  gradebook, never from the submission);
* its outputs are replaced by the grading report (no hidden code, no grader traceback) plus the
  points as a number, which nbgrader's `SaveAutoGrades` reads as partial credit; its metadata
  (points, flags) comes from the gradebook whatever the submission says.

The grading itself is `tasks.grade_submission`: student code in a sandbox, checks outside it.
`backprop-lab autograde` runs that first (here or on workers) and hands the results in through
`precomputed`; nbgrader's own `autograde` (Formgrader's button, ``nbgrader autograde``) finds none
and grades the notebook here.

Hidden inputs are drawn from a seed derived from a grader-side secret, the student and the
exercise: re-grading gives the same result, and no student can predict the inputs.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Unicode

from .rebuild import grading_notes
from .records import new_record, write_record
from .tasks import error_outputs, grade_notebook

KEY_PATTERN = re.compile(r"""grade\(\s*["']([\w.\-]+)["']""")
SECRET_FILE = os.path.join("autograder", ".grading_secret")
_PRECOMPUTED: dict = {}  # (assignment, student, notebook) -> {grade_id: cell result}; see `precomputed`


def exercise_key(source: str) -> str | None:
    """The exercise key a test cell grades: ``grade("03.linear")`` -> "03.linear"."""
    m = KEY_PATTERN.search(source or "")
    return m.group(1) if m else None


def grading_seed(secret: bytes, *parts: str) -> int:
    digest = hmac.new(secret, "/".join(parts).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little")


def course_root(db_url: str) -> str:
    """The course root of a gradebook URL (``sqlite:////course/autograder/gradebook.db`` -> ``/course``)."""
    return os.path.dirname(os.path.dirname(db_url.split("sqlite:///", 1)[-1]))


def load_secret(path: str) -> bytes:
    """The grader's secret (created on first use, readable by the instructor only)."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    with open(path, "rb") as f:
        return f.read()


def test_cell_keys(gb: Gradebook, assignment: str) -> dict:
    """``{notebook: {grade_id: exercise key}}``: the autograded test cells the gradebook recorded.

    A test cell is a code grade cell that is not a solution cell and names an exercise in its source.
    """
    keys = {}
    for nb in gb.find_assignment(assignment).notebooks:
        solutions = {c.name for c in nb.solution_cells}
        tests = {c.name for c in nb.grade_cells if c.cell_type == "code" and c.name not in solutions}
        keys[nb.name] = {c.name: key for c in nb.source_cells
                         if c.name in tests and (key := exercise_key(c.source)) is not None}
    return keys


def hidden_seeds(secret: bytes, assignment: str, student: str, keys: dict) -> dict:
    """``{exercise key: seed}`` for every exercise of `keys` (``{notebook: {grade_id: key}}``)."""
    return {key: grading_seed(secret, assignment, student, key) for cells in keys.values() for key in cells.values()}


@contextmanager
def precomputed(assignment: str, student: str, notebooks):
    """Hand `GradedNotebook` results to `HonestAutograde` while nbgrader records this student."""
    names = [(assignment, student, g.name) for g in notebooks]
    _PRECOMPUTED.update({name: g.cells for name, g in zip(names, notebooks)})
    try:
        yield
    finally:
        for name in names:
            _PRECOMPUTED.pop(name, None)


class HonestAutograde(NbGraderPreprocessor):
    """Replaces nbgrader's `Execute` in `Autograde.autograde_preprocessors`."""

    timeout = Float(10.0, help="Seconds allowed for each check and for loading each cell.").tag(config=True)
    secret_file = Unicode("", help="File with the grading secret (default: <course root>/autograder/.grading_secret)"
                          ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        cells = _PRECOMPUTED.get((info["assignment"], info["student"], info["notebook"]))
        if cells is None:
            cells = self._grade_here(nb, info)
        seen = set()
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if gid in cells and gid not in seen:
                seen.add(gid)
                self._insert(cell, gid, cells[gid])
            elif gid is None or gid in seen:
                if meta.get("grade") or meta.get("task"):
                    cell.metadata.pop("nbgrader", None)  # no grade id, or a duplicate: cannot carry points
            elif meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                # A test cell nbgrader would score by its (cleared) outputs: never full points unchecked.
                cell.outputs = error_outputs("this test cell names no exercise (grade(\"NN.name\")): not autograded")
        return nb, resources

    @staticmethod
    def _insert(cell, gid, result):
        # The points and flags come from the gradebook, whatever the submission's metadata says.
        cell.metadata["nbgrader"] = dict(cell.metadata.get("nbgrader", {}), grade=True, solution=False,
                                         locked=True, grade_id=gid, points=result["points"])
        cell.outputs = [nbformat.from_dict(o) for o in result["outputs"]]
        cell.execution_count = None

    def _grade_here(self, nb, info) -> dict:
        """nbgrader's own autograde: read the gradebook and the secret here, grade, write the record."""
        from .rebuild import cell_metadata_truth

        root = Path(course_root(info["db_url"]))
        truth = cell_metadata_truth(root, info["assignment"]).get(info["notebook"], [])
        with Gradebook(info["db_url"]) as gb:
            keys = test_cell_keys(gb, info["assignment"]).get(info["notebook"], {})
        secret = load_secret(self.secret_file or os.path.join(root, SECRET_FILE))
        seeds = hidden_seeds(secret, info["assignment"], info["student"], {info["notebook"]: keys})
        cells, exercises, notes = grade_notebook(nb, truth, keys, seeds, self.timeout)
        notes = grading_notes(nb) + notes  # what a rebuild noticed (if one ran), then loading notes
        record = new_record(info["assignment"], info["student"])
        record.update(exercises=exercises, notes=notes)
        write_record(root, record)
        if notes:
            self.log.info("grading notes for %s: %s", info.get("student"), notes)
        return cells
