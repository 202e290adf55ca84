"""`backprop-lab autograde`: grade every submission of an assignment into nbgrader's gradebook.

Grading is split in two (see `tasks.py` and `recording.py`): a pure task per student (the submitted
notebooks as bytes in, verdicts and outputs as plain data out) that runs in this process, in local
worker processes or on a Dask cluster; and the recording of each result, always here, through
nbgrader's own autograde. Submitted files are never modified: nbgrader reads rebuilt copies (a
notebook that cannot be read is left out, so nbgrader scores it 0 as missing, and the report says
why).

Ctrl-C stops a batch cleanly: the first stops handing out students (those in progress finish and
are recorded), a second stops at once; every student recorded so far stays recorded, and the
summary lists the others.
"""
from __future__ import annotations

import signal
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from ..release import CourseError, check_assignment
from .collect import SUBMITTED
from .rebuild import match_notebooks
from .startup import skip_iri_grammar

MIN_PER_WORKER = 2  # fewer submissions per worker than this: grade in this process


class GradedBatch(list):
    """The `recording.GradeResult` of every student graded, by student; and how the batch went.

    Attributes: `label` (where it ran), `retried` (``(student, why)``), `not_graded` (students left
    when the batch was stopped), `interrupted` (Ctrl-C was pressed).
    """

    def __init__(self):
        super().__init__()
        self.label, self.retried, self.not_graded, self.interrupted = "", [], [], False


class Interrupts:
    """SIGINT during a batch: the first asks to stop after the students in progress, a second stops now.

    A student being recorded is always recorded whole: a second Ctrl-C then waits for the end of it.
    """

    def __init__(self, say):
        self.say, self.count, self.recording, self.deferred, self.previous = say, 0, False, False, None

    def requested(self) -> bool:
        return self.count > 0

    def _handler(self, signum, frame):
        self.count += 1
        if self.count == 1:
            self.say("Ctrl-C: stopping after the students in progress (press Ctrl-C again to stop now)")
        elif self.recording:
            self.deferred = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def recording_one(self):
        self.recording = True
        try:
            yield
        finally:
            self.recording = False
            if self.deferred:
                self.deferred = False
                raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def submitted_students(root: Path, assignment: str) -> list[str]:
    base = root / SUBMITTED
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []


def _stage(root: Path, assignment: str, student: str, expected: list[str]) -> tuple[dict, list[str], dict]:
    """Read one submission: ``{notebook name: bytes}`` of its notebooks, problems, and notes per notebook.

    Files are matched to the assignment's notebooks (`expected`) by `rebuild.match_notebooks`: a
    renamed copy is graded with a note, a foreign or superseded one is listed as a problem. The
    submitted files are only read, never modified; the grading task rebuilds its own copy.
    """
    src = root / SUBMITTED / student / assignment
    files = [f for f in sorted(src.glob("*.ipynb")) if f.is_file()]
    names = match_notebooks([f.name for f in files], expected, {f.name: f.stat().st_mtime for f in files})
    notebooks, problems, file_notes = {}, [], {}
    for f in files:
        stem, note = names[f.name]
        if stem is None:
            problems.append(note)
            continue
        notebooks[stem] = f.read_bytes()
        if note:
            file_notes[stem] = [note]
    return notebooks, problems, file_notes


def ensure_in_gradebook(root: Path, assignment: str) -> None:
    """nbgrader grades against the cells it recorded at release time: record them if needed."""
    from nbgrader.api import Gradebook, MissingEntry

    db_url = "sqlite:///" + str(root / "autograder" / "gradebook.db")
    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    from ..release import generate_release

    with tempfile.TemporaryDirectory() as tmp:
        generate_release(root, [assignment], dest=Path(tmp), db_url=db_url)


def _runner(n_jobs: int, workers: int, scheduler: str | None):
    """Where the tasks run: the Dask scheduler, local worker processes, or this process."""
    if scheduler:
        from .cluster import DaskCluster

        return DaskCluster(scheduler)
    from .runners import InProcess, LocalPool

    usable = min(workers, n_jobs // MIN_PER_WORKER)
    if usable > 1:
        return LocalPool(usable)
    if workers > 1:
        return InProcess(f"{n_jobs} submission(s): too few for {workers} workers to gain")
    return InProcess()


def autograde(root: Path, assignment: str, students: list[str] | None = None, workers: int = 1,
              progress: bool = True, scheduler: str | None = None) -> GradedBatch:
    """Grade every submission of `assignment` (or `students`) into autograder/gradebook.db.

    Tasks run in this process when ``workers == 1``, in `workers` local processes (at least
    `MIN_PER_WORKER` submissions each, else in this process), or on the Dask cluster of
    `scheduler` (``tcp://host:8786``), whose workers need the package and nothing of the course.
    Local workers come from multiprocessing's fork server: a script calling this with
    ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard.
    """
    skip_iri_grammar()
    check_assignment(root, assignment)
    known = submitted_students(root, assignment)
    if students:
        missing = [s for s in students if s not in known]
        if missing:
            raise CourseError(f"no submission of {assignment} from {', '.join(missing)} in {root / SUBMITTED}; "
                              "run `backprop-lab collect PATH` first")
    students = students or known
    if not students:
        raise CourseError(f"no submissions of {assignment} in {root / SUBMITTED}: "
                          "run `backprop-lab collect PATH` first")
    runner = _runner(len(students), workers, scheduler)  # local workers start importing now
    batch = GradedBatch()
    bar = None
    try:
        from .recording import Recorder  # nbgrader: imported here while the workers import torch

        ensure_in_gradebook(root, assignment)
        recorder = Recorder(root, assignment)
        jobs = (recorder.job(s, *_stage(root, assignment, s, recorder.notebooks)) for s in students)
        bar = tqdm(total=len(students), desc=f"autograde {assignment} ({runner.label})", unit="student",
                   disable=not progress)
        with recorder, Interrupts(lambda msg: bar.write(msg, file=sys.stderr)) as stop:
            try:
                for job, graded in runner.results(jobs, stop.requested):
                    with stop.recording_one():
                        batch.append(recorder.record(job, graded))
                    bar.update()
            except KeyboardInterrupt:
                pass
            batch.interrupted = stop.requested()
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    batch.sort(key=lambda r: r.student)
    done = {r.student for r in batch}
    batch.label, batch.retried = runner.label, list(runner.retried)
    batch.not_graded = [s for s in students if s not in done]
    return batch


def summary(root: Path, assignment: str, batch: GradedBatch) -> str:
    """What `backprop-lab autograde` prints: each student's points and problems, then the batch."""
    from .export import scores

    by_student = {r["student"]: r for r in scores(root, assignment)[1]} if batch else {}
    lines = []
    for res in batch:
        total = by_student.get(res.student, {}).get("total", 0)
        lines.append(f"{res.student:<20} {total:>7g} points   ({res.seconds:.1f} s){'' if res.ok else '  FAILED'}")
        lines += [f"    ! {p}" for p in res.problems]
    n = len(batch)
    lines.append(f"graded {n} submission(s); mean {sum(r.seconds for r in batch) / max(n, 1):.1f} s each "
                 f"(and {sum(r.record_seconds for r in batch) / max(n, 1):.2f} s to record); {batch.label}")
    lines += [f"retried {student}: {why}" for student, why in batch.retried]
    if batch.not_graded:
        flags = " ".join(f"--student {s}" for s in batch.not_graded)
        lines.append(f"stopped: {len(batch.not_graded)} not graded: {', '.join(batch.not_graded)}")
        lines.append(f"grade them with: backprop-lab autograde {assignment} {flags}")
    return "\n".join(lines)


def exit_code(batch: GradedBatch) -> int:
    """0: everyone graded and recorded; 1: a student could not be graded; 130: stopped by Ctrl-C."""
    if batch.not_graded:
        return 130
    return 0 if all(r.ok for r in batch) else 1
