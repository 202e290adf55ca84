"""The recording half of grading, in the instructor's process only: what grading tasks need from
autograder/, and nbgrader's gradebook, the autograded notebooks and the per-student records.

`Recorder.jobs` reads the gradebook (cells, exercise keys) and the grader's secret once per batch
and turns each submission into a `tasks.GradingJob` (plain data; the secret stays here, only the
seeds derived from it travel). `Recorder.record` takes a `tasks.GradedSubmission` back: it stages
the rebuilt notebooks beside the submission's other files and runs nbgrader's own `autograde` on
them in this process, where `HonestAutograde` inserts the precomputed outputs. nbgrader writes
autograded/ and the gradebook as it always does, so Formgrader, feedback and export read them as
before, and a single process writes the SQLite gradebook however many machines grade.
"""
from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..release import nbgrader_api
from .collect import SUBMITTED
from .nbgrader_plugin import SECRET_FILE, hidden_seeds, load_secret, precomputed, test_cell_keys
from .rebuild import cell_metadata_truth
from .records import write_record
from .tasks import GradingJob

STAGING = Path("autograder") / ".staging"


@dataclass
class GradeResult:
    """One student of a batch: recorded (`ok`), the seconds of grading and of recording, what to print."""

    student: str
    ok: bool
    seconds: float
    problems: list = field(default_factory=list)
    worker: str = ""
    record_seconds: float = 0.0


class Recorder:
    """Reads autograder/ for the grading jobs of one assignment and records their results."""

    def __init__(self, root: Path, assignment: str):
        from sqlalchemy.exc import SAWarning

        warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's session use, harmless
        self.root, self.assignment = Path(root), assignment
        self.staging = self.root / STAGING
        self.api = nbgrader_api(self.root, CourseDirectory__submitted_directory=str(self.staging))
        settings = self.api.config.HonestAutograde
        self.timeout = float(settings.get("timeout", 10.0))
        self.secret = load_secret(settings.get("secret_file") or str(self.root / SECRET_FILE))
        self.truth = cell_metadata_truth(self.root, assignment)
        from nbgrader.api import Gradebook

        with Gradebook(self.api.coursedir.db_url) as gb:
            self.keys = test_cell_keys(gb, assignment)
        self.stage_problems: dict[str, list] = {}

    def job(self, student: str, notebooks: dict, problems: list) -> GradingJob:
        """The grading task of one student: the submitted notebooks' bytes, the cells' truth, the seeds.

        `problems` (found while reading the submission) are printed with the student's result.
        """
        self.stage_problems[student] = list(problems)
        return GradingJob(self.assignment, student, notebooks, self.truth, self.keys,
                          hidden_seeds(self.secret, self.assignment, student, self.keys), self.timeout)

    def record(self, job: GradingJob, graded) -> GradeResult:
        """Write one graded submission (a `GradedSubmission`, or the exception its task raised)."""
        start = time.perf_counter()
        problems = list(self.stage_problems.get(job.student, []))
        if isinstance(graded, BaseException):
            problems.append(f"grading failed ({type(graded).__name__}: {graded}); nothing was recorded")
            return GradeResult(job.student, False, 0.0, problems)
        problems += graded.problems
        staged = [g for g in graded.notebooks if g.notebook is not None]
        self._write_staging(job.student, staged)
        if not staged:
            self._record_zero(job.student)
            ok = True
        else:
            with precomputed(self.assignment, job.student, staged):
                result = self.api.autograde(self.assignment, job.student, force=True, create=True)
            ok = bool(result.get("success"))
            if not ok:
                tail = (result.get("log", "") + (result.get("error") or "")).strip().splitlines()[-3:]
                problems.append("nbgrader autograde failed: " + " | ".join(tail))
        if ok:
            write_record(self.root, graded.record)
        return GradeResult(job.student, ok, graded.seconds, problems, graded.worker, time.perf_counter() - start)

    def _write_staging(self, student: str, notebooks: list) -> None:
        """The submission as nbgrader reads it: the rebuilt notebooks and the other files, copied."""
        src = self.root / SUBMITTED / student / self.assignment
        dst = self.staging / student / self.assignment
        if dst.exists():
            shutil.rmtree(dst)
        dst.mkdir(parents=True)
        for f in src.rglob("*"):
            if f.is_file() and f.suffix not in (".ipynb", ".bak"):
                target = dst / f.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)
        for g in notebooks:
            (dst / f"{g.name}.ipynb").write_bytes(g.notebook)

    def _record_zero(self, student: str) -> None:
        """No readable notebook at all: nbgrader refuses to run, so record 0 for every cell ourselves."""
        from nbgrader.api import Gradebook

        with Gradebook(self.api.coursedir.db_url) as gb:
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(self.assignment, student)
            for nb in submission.notebooks:
                for grade in nb.grades:
                    grade.auto_score, grade.needs_manual_grade = 0, False
            gb.db.commit()
