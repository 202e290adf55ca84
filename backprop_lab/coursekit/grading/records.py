"""Each student's check results, stored when grading: the class report and later reports need no re-run.

One JSON file per student and assignment, beside the gradebook:
``autograder/results/<assignment>/<student>.json``::

    {"student": "ada", "assignment": "01_chain_rule", "graded_at": "2026-12-07T06:00:00+00:00",
     "exercises": [{"cell": "check_...", "exercise": "01.local_derivatives", "title": ..., "points": 4.0,
                    "earned": 3.0, "status": "fail", "checks": [Outcome.to_dict(), ...]}, ...],
     "notes": ["one line per thing the grader noticed (a deleted cell restored, a duplicate, ...)"]}

`checks` entries are `backprop_lab.coursekit.checking.core.Outcome.to_dict()`: check name, points,
earned, status, diagnosis `code`, message, and each comparison's result.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path("autograder") / "results"


def record_path(root: Path, assignment: str, student: str) -> Path:
    return Path(root) / RESULTS / assignment / f"{student}.json"


def new_record(assignment: str, student: str) -> dict:
    return {"student": student, "assignment": assignment,
            "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "exercises": [], "notes": []}


def write_record(root: Path, record: dict) -> Path:
    """Write (atomically: a reader never sees half a file) and return the record's path."""
    path = record_path(root, record["assignment"], record["student"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=1, allow_nan=False)
    os.replace(tmp, path)
    return path


def read_records(root: Path, assignment: str) -> dict[str, dict]:
    """{student: record} of every graded student of `assignment` (empty when nothing was graded)."""
    folder = Path(root) / RESULTS / assignment
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
