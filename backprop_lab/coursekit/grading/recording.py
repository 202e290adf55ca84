"""The recording half of grading, in the instructor's process only: what grading tasks need from
autograder/, and nbgrader's gradebook, the autograded notebooks and the per-student records.

`Recorder.job` turns a submission into a `tasks.GradingJob`, with the gradebook's cells and the
exercise keys read once per batch and the seeds derived from the grader's secret (which stays
here). `Recorder.record` takes a `tasks.GradedSubmission` back and does what nbgrader's
`autograde` does, with nbgrader's own API and preprocessors: the student and the submission (with
its timestamp.txt) in the gradebook, the source's other files and the submission's copied to
autograded/, each rebuilt notebook through the configured sanitizing and autograding
preprocessors (`HonestAutograde` inserting the precomputed outputs, `SaveAutoGrades` the scores,
`AssignLatePenalties`...), written read-only to autograded/; notebooks not submitted or not
readable score 0. Formgrader, feedback and export read the result as before. All of it goes through
one `Gradebook` session for the whole batch (`shared_gradebook`) and one process: the SQLite
gradebook has a single writer however many machines grade.
"""
from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..release import nbgrader_api
from .collect import SUBMITTED
from .nbgrader_plugin import SECRET_FILE, hidden_seeds, load_secret, precomputed, test_cell_keys
from .rebuild import cell_metadata_truth
from .records import write_record
from .shared_gradebook import preprocessors
from .tasks import GradingJob


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
    """Reads autograder/ for the grading jobs of one assignment, and records their results.

    Use it as a context manager (it holds the batch's gradebook session).
    """

    def __init__(self, root: Path, assignment: str):
        from nbgrader.api import Gradebook
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import CheckCellMetadata
        from sqlalchemy.exc import SAWarning

        warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's session use, harmless
        self.root, self.assignment = Path(root), assignment
        self.api = nbgrader_api(self.root)
        self.converter = Autograde(coursedir=self.api.coursedir, parent=self.api)
        settings = self.api.config.HonestAutograde
        self.timeout = float(settings.get("timeout", 10.0))
        self.secret = load_secret(settings.get("secret_file") or str(self.root / SECRET_FILE))
        self.truth = cell_metadata_truth(self.root, assignment)
        self.db_url = self.api.coursedir.db_url
        self.gb = Gradebook(self.db_url, self.api.coursedir.course_id)
        self.keys = test_cell_keys(self.gb, assignment)
        self.notebooks = [nb.name for nb in self.gb.find_assignment(assignment).notebooks]
        self.grade = preprocessors(self.converter.autograde_preprocessors, self.converter)
        # nbgrader validates the cells' metadata after sanitizing and again at the end (jsonschema, half
        # of the recording time); the rebuilt notebooks carry the gradebook's metadata: once, at the end.
        final = {type(pp) for pp in self.grade if isinstance(pp, CheckCellMetadata)}
        self.sanitize = [pp for pp in preprocessors(self.converter.sanitize_preprocessors, self.converter)
                         if type(pp) not in final]
        self.stage_problems: dict[str, list] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.gb.close()

    def job(self, student: str, notebooks: dict, problems: list, file_notes: dict | None = None) -> GradingJob:
        """The grading task of one student: the submitted notebooks' bytes, the cells' truth, the seeds.

        `problems` (found while reading the submission) are printed with the student's result;
        `file_notes` (``{notebook: [note]}``) go into that notebook's grading notes.
        """
        self.stage_problems[student] = list(problems)
        return GradingJob(self.assignment, student, notebooks, self.truth, self.keys,
                          hidden_seeds(self.secret, self.assignment, student, self.keys), self.timeout,
                          dict(file_notes or {}))

    def record(self, job: GradingJob, graded) -> GradeResult:
        """Write one graded submission (a `GradedSubmission`, or the exception its task raised)."""
        start = time.perf_counter()
        problems = list(self.stage_problems.pop(job.student, []))
        if isinstance(graded, BaseException):
            problems.append(f"grading failed ({type(graded).__name__}: {graded}); nothing was recorded")
            return GradeResult(job.student, False, 0.0, problems)
        problems += graded.problems
        dest = Path(self.api.coursedir.format_path(self.api.coursedir.autograded_directory, job.student,
                                                   self.assignment))
        try:
            self._record(job.student, {g.name: g for g in graded.notebooks if g.notebook is not None}, dest)
        except Exception as exc:  # what nbgrader's autograde does on a failure: nothing half-written
            self.gb.db.rollback()
            shutil.rmtree(dest, ignore_errors=True)
            if dest.parent.is_dir() and not any(dest.parent.iterdir()):
                dest.parent.rmdir()
            problems.append(f"nbgrader could not record it ({type(exc).__name__}: {exc})")
            return GradeResult(job.student, False, graded.seconds, problems, graded.worker)
        write_record(self.root, graded.record)
        return GradeResult(job.student, True, graded.seconds, problems, graded.worker, time.perf_counter() - start)

    def _record(self, student: str, staged: dict, dest: Path) -> None:
        gb, src = self.gb, self.root / SUBMITTED / student / self.assignment
        timestamp = self.api.coursedir.get_existing_timestamp(str(src))
        gb.update_or_create_student(student)
        extra = {"timestamp": timestamp} if timestamp else {}
        gb.update_or_create_submission(self.assignment, student, **extra)
        if dest.exists():
            shutil.rmtree(dest)
        known = [name for name in self.notebooks if name in staged]
        if known:
            dest.mkdir(parents=True)
            self._copy_files(src, dest)
        for name in self.notebooks:
            if name not in known:  # not submitted, or not a readable notebook: 0 points
                for grade in gb.find_submission_notebook(name, self.assignment, student).grades:
                    grade.auto_score, grade.needs_manual_grade = 0, False
                continue
            nb = nbformat.reads(staged[name].notebook.decode("utf-8"), as_version=4)
            resources = {"unique_key": name, "output_files_dir": f"{name}_files", "gradebook": gb,
                         "nbgrader": {"student": student, "assignment": self.assignment, "notebook": name,
                                      "db_url": self.db_url}}
            for pp in self.sanitize:
                nb, resources = pp(nb, resources)
            with precomputed(self.assignment, student, [staged[name]]):
                for pp in self.grade:
                    nb, resources = pp(nb, resources)
            nbformat.write(nb, str(dest / f"{name}.ipynb"))
        gb.db.commit()
        mode = int(str(self.converter.permissions), 8)
        for f in dest.rglob("*") if dest.exists() else []:
            if f.is_file():
                f.chmod(mode)

    def _copy_files(self, src: Path, dest: Path) -> None:
        """As nbgrader does: the submission's other files, then the source's (which win), no notebooks."""
        from nbgrader.utils import find_all_files

        source = Path(self.api.coursedir.format_path(self.api.coursedir.source_directory, ".", self.assignment))
        ignore = list(self.api.coursedir.ignore) + ["*.ipynb"]
        keep = {str(source / f) for f in self.converter.exclude_overwriting.get(self.assignment, [])}
        for base, skip in ((src, ignore + ["*.bak"]), (source, ignore)):
            for f in map(Path, find_all_files(str(base), skip)):
                if str(f) in keep:
                    continue
                target = dest / f.relative_to(base)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.unlink(missing_ok=True)
                shutil.copy(f, target)
