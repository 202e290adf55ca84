"""The pure half of grading: bytes in, plain data out. No file of the course is read or written here.

`grade_submission(job)` runs wherever the package is installed: in the instructor's process, in a
local worker process, or on a Dask worker of another machine that cannot see the course folder.
Everything it needs comes in the `GradingJob`: the submitted notebooks as bytes, the gradebook's
record of the cells (`rebuild.cell_metadata_truth`), which test cell grades which exercise, and the
seeds of the hidden inputs (derived from the grader's secret in the instructor's process; the
secret itself never travels). Everything it finds goes back in a `GradedSubmission`: each notebook
rebuilt the way nbgrader must grade it, each test cell's outputs and points, the problems to print
and the per-student record (`records.py`). Only the instructor's process writes the gradebook, the
autograded notebooks and the records (`recording.py`).

Student code runs in a `SandboxRunner` child process; the checks and every comparison with the
reference and torch run here, in the grading process.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

from nbformat.v4 import new_output

from ..checking.core import run_exercise
from ..checking.registry import get_exercise
from .rebuild import rebuild
from .records import new_record
from .render import report_outputs
from .sandbox import SandboxRunner


@dataclass
class GradingJob:
    """One student's submission of one assignment, as plain data.

    Attributes:
        notebooks: notebook name (file name without ``.ipynb``) -> the submitted file's bytes, unmodified.
        truth: ``{notebook: [cell, ...]}``: the release's cells as the gradebook recorded them
            (`rebuild.cell_metadata_truth`).
        keys: ``{notebook: {grade_id: exercise key}}``: the autograded test cells, in notebook order.
        seeds: ``{exercise key: seed}`` of this student's hidden inputs.
        timeout: seconds allowed for each check and for loading each cell.
        file_notes: ``{notebook: [note]}``: what was noticed about the file (a renamed file, matched).
    """

    assignment: str
    student: str
    notebooks: dict
    truth: dict
    keys: dict
    seeds: dict
    timeout: float = 10.0
    file_notes: dict = field(default_factory=dict)


@dataclass
class GradedNotebook:
    """One notebook after grading.

    Attributes:
        notebook: the submission rebuilt against the gradebook (JSON bytes), which nbgrader records;
            None when the file is not a readable notebook (nbgrader then scores it as missing).
        cells: ``{grade_id: {"outputs": [nbformat output dicts], "points": max score, "earned": score}}``
            for every autograded test cell of the notebook, whether or not the student kept it.
    """

    name: str
    notebook: bytes | None
    cells: dict = field(default_factory=dict)


@dataclass
class GradedSubmission:
    """What grading one student found: everything the instructor's process needs to record it."""

    assignment: str
    student: str
    notebooks: list
    problems: list
    record: dict
    seconds: float
    worker: str = ""


def error_outputs(message: str) -> list:
    """The outputs of a test cell that could not be graded: 0 points, and the reason."""
    return [new_output("error", ename="GradingError", evalue=message, traceback=[])]


def grade_notebook(nb, truth: list, keys: dict, seeds: dict, timeout: float) -> tuple[dict, list, list]:
    """Grade one rebuilt notebook: run its exercise cells in a sandbox, check every autograded test cell.

    Args:
        nb: the notebook (nbformat node), already rebuilt against `truth` (each grade id once).
        truth: this notebook's cells (`rebuild.cell_metadata_truth`), in the gradebook's order.
        keys: ``{grade_id: exercise key}`` of the autograded test cells.
        seeds: ``{exercise key: seed}``.

    Returns:
        (cells, exercises, notes): ``{grade_id: {"outputs", "points", "earned"}}``, the record's
        exercise entries and what went wrong while loading the student's cells.
    """
    truth = {c["grade_id"]: c for c in truth}
    by_id = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if gid in truth and gid not in by_id:
            by_id[gid] = cell
    # The cell type comes from the gradebook (nbgrader turns a solution cell made markdown back into code).
    student_cells = [(gid, by_id[gid].source) for gid, meta in truth.items()
                     if meta.get("solution") and meta.get("cell_type") == "code" and gid in by_id]
    cells, exercises = {}, []
    runner = SandboxRunner(student_cells, timeout=timeout)
    try:
        for gid, key in keys.items():
            max_score = float(truth.get(gid, {}).get("points") or 0.0)
            try:
                exercise = get_exercise(key)
            except KeyError as exc:
                cells[gid] = {"outputs": error_outputs(str(exc.args[0])), "points": max_score, "earned": 0.0}
                continue
            report = run_exercise(exercise, runner, hidden=True, seed=seeds[key])
            earned = report.earned * (max_score / report.points if report.points else 0.0)
            cells[gid] = {"outputs": report_outputs(report, earned, max_score, runner.notes),
                          "points": max_score, "earned": earned}
            exercises.append({"cell": gid, **report.to_dict()})
    finally:
        notes = list(runner.notes)
        runner.close()
    return cells, exercises, notes


def grade_submission(job: GradingJob) -> GradedSubmission:
    """Grade every notebook of one submission. Pure: reads and writes no file of the course."""
    import nbformat

    start = time.perf_counter()
    record = new_record(job.assignment, job.student)
    problems, graded = [], []
    for name, data in sorted(job.notebooks.items()):
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            nbformat.validate(nb)
        except Exception as exc:
            problems.append(f"{name}.ipynb is not a valid notebook ({type(exc).__name__}); "
                            "it was scored as missing (0 points). The file is kept unchanged.")
            graded.append(GradedNotebook(name, None))
            continue
        truth = job.truth.get(name, [])
        notes = rebuild(nb, truth, job.file_notes.get(name))
        problems += notes
        cells, exercises, load_notes = grade_notebook(nb, truth, job.keys.get(name, {}), job.seeds, job.timeout)
        record["exercises"] += exercises
        record["notes"] += notes + load_notes
        graded.append(GradedNotebook(name, nbformat.writes(nb).encode("utf-8"), cells))
    return GradedSubmission(job.assignment, job.student, graded, problems, record,
                            time.perf_counter() - start, f"{socket.gethostname()}:{os.getpid()}")
