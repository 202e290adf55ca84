"""`backprop-lab autograde`: grade every submission of an assignment into nbgrader's gradebook.

Submitted files are never modified: each submission is graded from a *staged copy* (a notebook that
cannot be read is left out of the copy, so nbgrader scores it 0 as missing, and the report says why).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm import tqdm

from ..release import CourseError, check_assignment, nbgrader_api
from .collect import SUBMITTED
from .rebuild import cell_metadata_truth, match_notebooks, rebuild


@dataclass
class GradeResult:
    student: str
    ok: bool
    seconds: float
    problems: list = field(default_factory=list)


def submitted_students(root: Path, assignment: str) -> list[str]:
    base = root / SUBMITTED
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []


def _stage(root: Path, staging: Path, assignment: str, student: str, truth: dict | None = None) -> list[str]:
    """Copy one submission into the staging area; leave out notebooks nbformat cannot read."""
    src = root / SUBMITTED / student / assignment
    dst = staging / student / assignment
    if dst.exists():
        shutil.rmtree(dst)
    problems = []
    names = match_notebooks([f.name for f in src.glob("*.ipynb")], list(truth or {}),
                            {f.name: f.stat().st_mtime for f in src.glob("*.ipynb")})
    for f in src.rglob("*"):
        if f.is_dir() or f.suffix == ".bak":
            continue
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        stem, note = names.get(f.name, (f.stem, None)) if f.parent == src else (f.stem, None)
        if stem is None:  # a renamed notebook is matched (with a note); a foreign one is left out
            problems.append(note)
            continue
        target = target.with_name(f"{stem}{f.suffix}")
        if f.suffix == ".ipynb":
            try:
                nb = nbformat.read(str(f), as_version=4)
                nbformat.validate(nb)
            except Exception as exc:
                problems.append(f"{f.name} is not a valid notebook ({type(exc).__name__}); "
                                "it was scored as missing (0 points). The file is kept unchanged.")
                continue
            if truth is not None:
                problems += rebuild(nb, truth.get(stem), [note] if note else [])
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
