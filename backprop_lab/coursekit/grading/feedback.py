"""`backprop-lab feedback`: per-student HTML feedback in autograder/feedback/ (hidden tests removed)."""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..release import CourseError, api_call, check_assignment, nbgrader_api
from .autograde import submitted_students


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
