"""The instructor's workflow: collect -> autograde -> feedback -> export, on nbgrader's gradebook.

Submitted files are never modified: `collect` copies them into ``autograder/submitted/``, and
`autograde` grades a *staged copy* of each submission (a notebook that cannot be read is left out
of the copy, so nbgrader scores it 0 as missing, and the report says why).
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm import tqdm

from ..release import CourseError, api_call, assignments, check_assignment, nbgrader_api

SUBMITTED = Path("autograder") / "submitted"


# ------------------------------------------------------------------------------------- collect
@dataclass
class CollectReport:
    imported: list = field(default_factory=list)     # (student, assignment, destination)
    unmatched: list = field(default_factory=list)    # (file name, why)
    kept: list = field(default_factory=list)         # earlier copies renamed instead of overwritten


def _student_from(name: str, assignment: str) -> str:
    stem = Path(name).stem.replace(assignment, " ")
    stem = re.sub(r"[^A-Za-z0-9_\-]+", " ", stem).strip(" _-")
    parts = [p for p in re.split(r"[ _]+", stem) if p]
    return parts[0] if parts else ""


def collect(root: Path, path: str | Path, assignment: str | None = None) -> CollectReport:
    """Import a folder or zip of submitted notebooks (one file per student, e.g. an LMS download).

    A file is matched to an assignment by its name (``alice_01_chain_rule.ipynb``,
    ``01_chain_rule-bob.ipynb``; or any name when `assignment` is given), and the student id is
    the first word of the file name that is not the assignment. It lands in
    ``autograder/submitted/<student>/<assignment>/<assignment>.ipynb``; an existing copy there is
    renamed with a timestamp, never overwritten.
    """
    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path}: no such file or folder; give the folder or .zip of submissions")
    names = assignments(root)
    if assignment:
        check_assignment(root, assignment)
    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="bpl-collect-") as tmp:
        if path.is_file():
            if not zipfile.is_zipfile(path):
                raise CourseError(f"{path}: not a folder or a .zip file")
            with zipfile.ZipFile(path) as zf:
                for member in zf.infolist():
                    target = Path(tmp) / Path(member.filename).name  # flatten; no path traversal
                    if not member.is_dir() and target.name:
                        target.write_bytes(zf.read(member))
            files = sorted(Path(tmp).iterdir())
        else:
            files = sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            if f.name.startswith(".") or "__MACOSX" in f.parts:
                continue
            if f.suffix != ".ipynb":
                report.unmatched.append((f.name, "not a .ipynb file"))
                continue
            match = assignment or next((a for a in sorted(names, key=len, reverse=True) if a in f.name), None)
            if match is None:
                report.unmatched.append((f.name, f"no assignment name in the file name (known: {', '.join(names)})"))
                continue
            student = _student_from(f.name, match)
            if not student:
                report.unmatched.append((f.name, "no student id in the file name"))
                continue
            dest = root / SUBMITTED / student / match / f"{match}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                if dest.read_bytes() == f.read_bytes():
                    continue
                kept = dest.with_name(f"{match}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb.bak")
                dest.rename(kept)
                report.kept.append(str(kept))
            shutil.copy2(f, dest)
            report.imported.append((student, match, str(dest)))
    return report


# ----------------------------------------------------------------------------------- autograde
@dataclass
class GradeResult:
    student: str
    ok: bool
    seconds: float
    problems: list = field(default_factory=list)


def submitted_students(root: Path, assignment: str) -> list[str]:
    base = root / SUBMITTED
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []


def cell_metadata_truth(root: Path, assignment: str) -> dict:
    """{notebook: {grade_id: nbgrader metadata}} as recorded in the gradebook at release time."""
    from nbgrader.api import Gradebook

    truth: dict = {}
    with Gradebook("sqlite:///" + str(root / "autograder" / "gradebook.db")) as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            cells = truth[nb.name] = {}
            for c in nb.source_cells:
                cells[c.name] = {"grade": False, "solution": False, "task": False, "locked": bool(c.locked),
                                 "grade_id": c.name, "schema_version": 3, "cell_type": c.cell_type,
                                 "checksum": c.checksum}
            for c in nb.grade_cells:
                cells[c.name].update(grade=True, points=float(c.max_score))
            for c in nb.solution_cells:
                cells[c.name]["solution"] = True
            for c in nb.task_cells:
                cells[c.name].update(task=True, points=float(c.max_score))
    return truth


def _normalize(nb, truth: dict) -> None:
    """Give every known cell the metadata the gradebook recorded; strip it from all others.

    nbgrader trusts a submission's cell metadata more than it should (tampered flags make it raise
    "Inconsistent checksums", a foreign notebook makes it crash), so a student could stop their own
    grading; after this step each grade id appears once, with its true flags and points.
    """
    seen = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if gid in truth and gid not in seen:
            seen.add(gid)
            cell.metadata["nbgrader"] = dict(truth[gid])
        else:
            cell.metadata.pop("nbgrader", None)


def _stage(root: Path, staging: Path, assignment: str, student: str, truth: dict | None = None) -> list[str]:
    """Copy one submission into the staging area; leave out notebooks nbformat cannot read."""
    src = root / SUBMITTED / student / assignment
    dst = staging / student / assignment
    if dst.exists():
        shutil.rmtree(dst)
    problems = []
    for f in src.rglob("*"):
        if f.is_dir() or f.suffix == ".bak":
            continue
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix == ".ipynb":
            try:
                nb = nbformat.read(str(f), as_version=4)
                nbformat.validate(nb)
            except Exception as exc:
                problems.append(f"{f.name} is not a valid notebook ({type(exc).__name__}); "
                                "it was scored as missing (0 points). The file is kept unchanged.")
                continue
            if truth is not None:
                _normalize(nb, truth.get(f.stem, {}))
            nbformat.write(nb, str(target))
            shutil.copystat(f, target)
            continue
        shutil.copy2(f, target)
    dst.mkdir(parents=True, exist_ok=True)
    return problems


_API = None
_TRUTH: dict = {}
_INIT_KEY = None


def _worker_init(root: str, staging: str, assignment: str):
    global _API, _TRUTH, _INIT_KEY
    if _INIT_KEY == (root, staging, assignment):
        return
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's session use, harmless
    _API = nbgrader_api(Path(root), CourseDirectory__submitted_directory=staging)
    _TRUTH = cell_metadata_truth(Path(root), assignment)
    _INIT_KEY = (root, staging, assignment)


def _record_zero(root: Path, assignment: str, student: str) -> None:
    """No readable notebook at all: nbgrader refuses to run, so record 0 for every cell ourselves."""
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(root / "autograder" / "gradebook.db")) as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                grade.auto_score, grade.needs_manual_grade = 0, False
        gb.db.commit()


def _grade_one(args) -> GradeResult:
    root, staging, assignment, student = args
    _worker_init(root, staging, assignment)  # no-op after the first job of this process
    start = time.perf_counter()  # grading time only: the one-off imports of a worker are not counted
    problems = _stage(Path(root), Path(staging), assignment, student, _TRUTH)
    if not any((Path(staging) / student / assignment).glob("*.ipynb")):
        _record_zero(Path(root), assignment, student)
        return GradeResult(student, True, time.perf_counter() - start, problems)
    result = _API.autograde(assignment, student, force=True, create=True)
    if not result.get("success"):
        tail = (result.get("log", "") + (result.get("error") or "")).strip().splitlines()[-3:]
        problems.append("nbgrader autograde failed: " + " | ".join(tail))
    return GradeResult(student, bool(result.get("success")), time.perf_counter() - start, problems)


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


def _dask_client(scheduler: str | None, workers: int):
    """A Dask client: the given scheduler, or an in-process LocalCluster of `workers` processes.

    Returns None when Dask is not installed and no scheduler was asked for (then a local process
    pool is used). Install it with ``pip install -e ".[scale]"``.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        if scheduler:
            raise CourseError("--scheduler needs Dask: pip install -e \".[scale]\"") from None
        return None
    if scheduler:
        return Client(scheduler)
    import dask

    warm_imports()
    # Fork the workers from this process: they start with nbgrader, torch and the exercise
    # registry already imported (spawned workers spend ~5 s each importing them again).
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)


def warm_imports() -> None:
    """Import what every grading job needs, once, before worker processes are forked."""
    import nbgrader.apps  # noqa: F401
    import torch  # noqa: F401

    from ..checking.registry import load_all

    load_all()


def autograde(root: Path, assignment: str, students: list[str] | None = None, workers: int = 1,
              progress: bool = True, scheduler: str | None = None) -> list[GradeResult]:
    """Grade every submission of `assignment` (or `students`) into autograder/gradebook.db.

    One process grades all when ``workers == 1``; otherwise jobs go to a Dask cluster (`scheduler`,
    or a local one with `workers` processes when Dask is installed) or to a local process pool.
    Dask workers must see the same course folder (a shared file system) and gradebook.
    """
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
    ensure_in_gradebook(root, assignment)
    staging = root / "autograder" / ".staging"
    jobs = [(str(root), str(staging), assignment, s) for s in students]
    bar = tqdm(total=len(jobs), desc=f"autograde {assignment}", unit="student", disable=not progress)
    results = []
    client = _dask_client(scheduler, workers) if (scheduler or workers > 1) else None
    if client is not None:
        try:
            from distributed import as_completed

            for future in as_completed(client.map(_grade_one, jobs, pure=False)):
                results.append(future.result())
                bar.update()
        finally:
            cluster = client.cluster
            client.close()
            if cluster is not None and not scheduler:
                cluster.close()
        results.sort(key=lambda r: r.student)
    elif workers <= 1:
        for job in jobs:
            results.append(_grade_one(job))
            bar.update()
    else:
        warm_imports()  # forked workers inherit the imports
        with ProcessPoolExecutor(workers, initializer=_worker_init,
                                 initargs=(str(root), str(staging), assignment)) as pool:
            for res in pool.map(_grade_one, jobs):
                results.append(res)
                bar.update()
    bar.close()
    return results


# ------------------------------------------------------------------------------------ feedback
def feedback(root: Path, assignment: str, progress: bool = True) -> list[Path]:
    """Per-student HTML feedback in autograder/feedback/<student>/<assignment>/ (hidden tests removed)."""
    check_assignment(root, assignment)
    api = nbgrader_api(root)
    students = [s for s in submitted_students(root, assignment)
                if (root / "autograder" / "autograded" / s / assignment).is_dir()]
    if not students:
        raise CourseError(f"nothing autograded for {assignment} yet: run `backprop-lab autograde {assignment}` first")
    out = []
    for s in tqdm(students, desc=f"feedback {assignment}", unit="student", disable=not progress):
        api_call(api.generate_feedback(assignment, s, force=True), f"generate_feedback {assignment} {s}")
        out += sorted((root / "autograder" / "feedback" / s / assignment).glob("*.html"))
    return out


# -------------------------------------------------------------------------------------- export
def scores(root: Path, assignment: str | None = None) -> tuple[list[str], list[dict]]:
    """One row per student: a column per exercise (``<assignment>/<grade id>``) and the total."""
    from nbgrader.api import Gradebook

    db = root / "autograder" / "gradebook.db"
    if not db.exists():
        raise CourseError(f"no gradebook at {db}: run `backprop-lab autograde ASSIGNMENT` first")
    columns, rows = [], []
    with Gradebook("sqlite:///" + str(db)) as gb:
        names = [a.name for a in gb.assignments if assignment in (None, a.name)]
        if assignment and not names:
            raise CourseError(f"the gradebook has no assignment {assignment!r}")
        for a in names:
            for nb in gb.find_assignment(a).notebooks:
                columns += [f"{a}/{c.name}" for c in nb.grade_cells]
        for student in sorted(s.id for s in gb.students):
            row = {"student": student}
            for a in names:
                try:
                    sub = gb.find_submission(a, student)
                except Exception:
                    continue
                for nb in sub.notebooks:
                    for g in nb.grades:
                        row[f"{a}/{g.name}"] = g.score
            if len(row) > 1:
                row["total"] = round(sum(v for k, v in row.items() if k != "student" and v is not None), 6)
                rows.append(row)
    return ["student", *columns, "total"], rows


def export_csv(root: Path, path: str | None = None, assignment: str | None = None) -> str:
    columns, rows = scores(root, assignment)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    if path:
        Path(path).write_text(buf.getvalue())
    return buf.getvalue()


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
