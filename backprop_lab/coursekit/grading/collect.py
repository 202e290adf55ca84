"""`backprop-lab collect`: import a folder or .zip of submitted notebooks into autograder/submitted/.

Submitted files are never modified or overwritten: an earlier copy is renamed, not replaced.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..release import CourseError, assignments, check_assignment

SUBMITTED = Path("autograder") / "submitted"


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
