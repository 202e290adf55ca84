"""`backprop-lab collect`: import a folder or .zip of submitted notebooks into autograder/submitted/.

Nothing a student submitted is ever overwritten or lost:

* each submission lands as nbgrader expects it, ``autograder/submitted/<student>/<assignment>/<assignment>.ipynb``
  with nbgrader's ``timestamp.txt`` (the submission time, which nbgrader compares with the due date);
* the **latest** submission (by its time, whatever order files are collected in) is the one graded;
  every earlier one is kept in ``autograder/history/<student>/<assignment>/<time>/`` (notebook and
  timestamp), and collecting the same file twice stores it once.

A submission's time is, in this order: a ``timestamp.txt`` beside the file (the layout of
``nbgrader collect`` and of ``autograder/submitted/``), the time stored for it in the .zip, or the
file's modification time.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..release import CourseError, assignments, check_assignment

SUBMITTED = Path("autograder") / "submitted"
HISTORY = Path("autograder") / "history"
# Moodle names downloads "Firstname Lastname_<participant id>_assignsubmission_file_<original name>".
MOODLE = re.compile(r"^(?P<name>.+?)_\d+_assignsubmission_file_")


@dataclass
class CollectReport:
    imported: list = field(default_factory=list)     # (student, assignment, destination)
    unmatched: list = field(default_factory=list)    # (file name, why)
    kept: list = field(default_factory=list)         # earlier submissions kept in the history (paths)


def _student_from(name: str, assignment: str, folder: Path | None = None) -> str:
    """The student id of a file: a Moodle name, else the first word of the file name that is not the
    assignment (letters of any alphabet), else the folder two levels up (``<student>/<assignment>/``)."""
    moodle = MOODLE.match(name)
    if moodle:
        return moodle["name"].strip()
    stem = re.sub(re.escape(assignment), " ", Path(name).stem, flags=re.IGNORECASE)
    stem = re.sub(r"[^\w\-]+", " ", stem).strip(" _-")
    parts = [p for p in re.split(r"[ _]+", stem) if p]
    if parts:
        return parts[0]
    if folder is not None and folder.name == assignment and folder.parent.name:
        return folder.parent.name
    return ""


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)


def _history_dir(root: Path, student: str, assignment: str, when: datetime) -> Path:
    base = root / HISTORY / student / assignment / when.strftime("%Y-%m-%dT%H%M%S.%f")
    path, k = base, 1
    while path.exists():
        path, k = base.with_name(f"{base.name}-{k}"), k + 1
    return path


def _in_history(root: Path, student: str, assignment: str, data: bytes) -> bool:
    folder = root / HISTORY / student / assignment
    return folder.is_dir() and any(p.read_bytes() == data for p in folder.glob(f"*/{assignment}.ipynb"))


def place_submission(root: Path, student: str, assignment: str, data: bytes, when: datetime,
                     report: CollectReport) -> None:
    """Put one submission (notebook bytes, submitted at naive-UTC `when`) where it belongs: graded if it
    is the latest, kept in the history otherwise; an earlier graded one moves to the history."""
    from .lateness import read_timestamp, timestamp_text  # nbgrader, imported when needed (see _files)

    current = root / SUBMITTED / student / assignment
    dest = current / f"{assignment}.ipynb"
    if (dest.exists() and dest.read_bytes() == data) or _in_history(root, student, assignment, data):
        return  # collected before
    if dest.exists():
        now = read_timestamp(current) or _utc(dest.stat().st_mtime)
        if when <= now:  # an older submission than the one graded: keep it, do not grade it
            old = _history_dir(root, student, assignment, when)
            old.mkdir(parents=True)
            (old / dest.name).write_bytes(data)
            (old / "timestamp.txt").write_text(timestamp_text(when) + "\n")
            report.kept.append(str(old))
            return
        old = _history_dir(root, student, assignment, now)
        old.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(current), str(old))
        if not (old / "timestamp.txt").exists():
            (old / "timestamp.txt").write_text(timestamp_text(now) + "\n")
        report.kept.append(str(old))
    current.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    (current / "timestamp.txt").write_text(timestamp_text(when) + "\n")
    report.imported.append((student, assignment, str(dest)))


def _files(path: Path, tmp: str) -> list[tuple[Path, datetime | None]]:
    """(file, submission time or None) of a folder or a zip (unpacked flat into `tmp`)."""
    # lateness imports nbgrader (~0.7 s): not at this module's import, which `autograde` does for SUBMITTED
    # before its worker processes start importing.
    from .lateness import read_timestamp

    if path.is_dir():
        return [(p, read_timestamp(p.parent)) for p in sorted(path.rglob("*")) if p.is_file()]
    if not zipfile.is_zipfile(path):
        raise CourseError(f"{path}: not a folder or a .zip file")
    out = []
    with zipfile.ZipFile(path) as zf:
        for member in zf.infolist():
            target = Path(tmp) / Path(member.filename).name  # flatten; no path traversal
            if member.is_dir() or not target.name:
                continue
            target.write_bytes(zf.read(member))
            local = datetime(*member.date_time).astimezone()  # zip times are local, without a zone
            out.append((target, local.astimezone(timezone.utc).replace(tzinfo=None)))
    return sorted(out)


def collect(root: Path, path: str | Path, assignment: str | None = None) -> CollectReport:
    """Import a folder or zip of submitted notebooks (one file per student, e.g. an LMS download).

    A file is matched to an assignment by its name (``alice_01_chain_rule.ipynb``,
    ``01_chain_rule-bob.ipynb``; or any name when `assignment` is given); the student id is a Moodle
    download's name, or the first word of the file name that is not the assignment, or (for
    ``<student>/<assignment>/<assignment>.ipynb``) the folder's name. See the module docstring for
    where it lands and how resubmissions are kept.
    """
    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path}: no such file or folder; give the folder or .zip of submissions")
    names = assignments(root)
    if assignment:
        check_assignment(root, assignment)
    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="bpl-collect-") as tmp:
        for f, when in _files(path, tmp):
            if f.name.startswith(".") or "__MACOSX" in f.parts or f.name == "timestamp.txt":
                continue
            if f.suffix != ".ipynb":
                report.unmatched.append((f.name, "not a .ipynb file"))
                continue
            match = assignment or next((a for a in sorted(names, key=len, reverse=True)
                                        if a.lower() in f.name.lower()), None)
            if match is None:
                report.unmatched.append((f.name, f"no assignment name in the file name (known: {', '.join(names)})"))
                continue
            student = _student_from(f.name, match, f.parent)
            if not student:
                report.unmatched.append((f.name, "no student id in the file name"))
                continue
            place_submission(root, student, match, f.read_bytes(), when or _utc(f.stat().st_mtime), report)
    return report
