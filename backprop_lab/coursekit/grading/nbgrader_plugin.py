"""An nbgrader preprocessor that grades without trusting the student's kernel.

Plain nbgrader runs the whole notebook in one kernel and gives a test cell its points when the
cell printed no error: a submission that patches `np.allclose`, or imports the reference, gets
full marks. `HonestAutograde` takes the place of nbgrader's `Execute` step in `autograde`:

* the student's *solution cells* (found by the grade ids recorded in the gradebook, never by the
  submission's own metadata) run in a `SandboxRunner` child process;
* each autograded test cell names its exercise (``grade("03.linear")``; the text is restored from
  the gradebook by nbgrader's `OverwriteCells` before we read it);
* the checks run here, compare with the reference and torch here, and the cell's outputs are
  replaced by the report (no hidden code, no grader traceback) plus the points as a number,
  which nbgrader's `SaveAutoGrades` reads as partial credit.

Hidden inputs are drawn from a seed derived from a grader-side secret, the student and the
exercise: re-grading gives the same result, and no student can predict the inputs.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re

from nbformat.v4 import new_output
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Unicode

from ..checking.core import run_exercise
from ..checking.registry import get_exercise
from .rebuild import grading_notes
from .records import new_record, write_record
from .render import report_outputs
from .sandbox import SandboxRunner

KEY_PATTERN = re.compile(r"""grade\(\s*["']([\w.\-]+)["']""")


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


class HonestAutograde(NbGraderPreprocessor):
    """Replaces nbgrader's `Execute` in `Autograde.autograde_preprocessors`."""

    timeout = Float(10.0, help="Seconds allowed for each check and for loading each cell.").tag(config=True)
    secret_file = Unicode("", help="File with the grading secret (default: <course root>/autograder/.grading_secret)"
                          ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source_nb = gb.find_notebook(info["notebook"], info["assignment"])
            grade_cells = {c.name: (c.max_score, c.cell_type) for c in source_nb.grade_cells}
            solution_ids = {c.name for c in source_nb.solution_cells}
            sources = {c.name: c.source for c in source_nb.source_cells}
            order = [c.name for c in source_nb.source_cells]

        by_id = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if gid in sources and gid not in by_id:
                by_id[gid] = cell
            elif gid is not None:
                # Unknown or duplicate grade ids cannot carry points.
                cell.metadata.pop("nbgrader", None)
        student_cells = [(gid, by_id[gid].source) for gid in order
                         if gid in solution_ids and gid in by_id and by_id[gid].cell_type == "code"]

        secret = load_secret(self.secret_file or os.path.join(os.getcwd(), "autograder", ".grading_secret"))
        record = new_record(info["assignment"], info["student"])
        runner = SandboxRunner(student_cells, timeout=self.timeout)
        try:
            for gid, (max_score, cell_type) in grade_cells.items():
                key = exercise_key(sources.get(gid, ""))
                if gid in solution_ids or cell_type != "code" or key is None:
                    continue  # manually graded answers, or a test cell that is not ours
                cell = by_id.get(gid)
                if cell is None:  # deleted: nbgrader's OverwriteCells(add_missing_cells) re-adds it
                    continue
                report = self._grade_cell(cell, gid, key, float(max_score), runner, secret, info)
                if report is not None:
                    record["exercises"].append({"cell": gid, **report.to_dict()})
        finally:
            notes = grading_notes(nb) + list(runner.notes)  # what the rebuild noticed, then loading notes
            runner.close()
        record["notes"] = notes
        write_record(course_root(info["db_url"]), record)
        if notes:
            self.log.info("grading notes for %s: %s", info.get("student"), notes)
        resources.setdefault("backprop_lab", {})["notes"] = notes
        return nb, resources

    def _grade_cell(self, cell, gid, key, max_score, runner, secret, info):
        # The points and flags come from the gradebook, whatever the submission's metadata says.
        cell.metadata["nbgrader"] = dict(cell.metadata.get("nbgrader", {}), grade=True, solution=False,
                                         locked=True, grade_id=gid, points=max_score)
        try:
            exercise = get_exercise(key)
        except KeyError as exc:
            cell.outputs = [new_output("error", ename="GradingError", evalue=str(exc), traceback=[])]
            return None
        seed = grading_seed(secret, info["assignment"], info["student"], key)
        report = run_exercise(exercise, runner, hidden=True, seed=seed)
        earned = report.earned * (max_score / report.points if report.points else 0.0)
        cell.outputs = report_outputs(report, earned, max_score, runner.notes)
        cell.execution_count = None
        return report
