"""`backprop-lab export`: the gradebook as a table, one row per student.

Columns: ``student``, one per graded cell (``<assignment>/<grade id>``), for an assignment with a due
date its ``<assignment>/late_penalty`` (nbgrader's, points taken off), and the ``total`` after penalties.
`backprop-lab export --canvas` (`lms.py`) turns the same scores into a Canvas gradebook import.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..release import CourseError


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
        due = {a.name for a in gb.assignments if a.duedate is not None}
        for a in names:
            for nb in gb.find_assignment(a).notebooks:
                columns += [f"{a}/{c.name}" for c in nb.grade_cells]
            columns += [f"{a}/late_penalty"] if a in due else []
        for student in sorted(s.id for s in gb.students):
            row, total = {"student": student}, 0.0
            for a in names:
                try:
                    sub = gb.find_submission(a, student)
                except Exception:
                    continue
                for nb in sub.notebooks:
                    for g in nb.grades:
                        row[f"{a}/{g.name}"] = g.score
                        total += g.score or 0.0
                if a in due:
                    row[f"{a}/late_penalty"] = round(sub.late_submission_penalty or 0.0, 6)
                    total -= row[f"{a}/late_penalty"]
            if len(row) > 1:
                row["total"] = round(total, 6)
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


def assignment_totals(root: Path, assignment: str | None = None) -> tuple[dict, dict]:
    """Each assignment's score per student, after nbgrader's late penalty.

    Returns ``({assignment: points possible}, {student: {assignment: score}})``; a student appears
    under an assignment only when the gradebook has a submission of it.
    """
    from nbgrader.api import Gradebook

    db = root / "autograder" / "gradebook.db"
    if not db.exists():
        raise CourseError(f"no gradebook at {db}: run `backprop-lab autograde ASSIGNMENT` first")
    possible, totals = {}, {}
    with Gradebook("sqlite:///" + str(db)) as gb:
        for a in gb.assignments:
            if assignment not in (None, a.name):
                continue
            possible[a.name] = float(a.max_score)
            for sub in a.submissions:
                score = float(sub.score or 0.0) - float(sub.late_submission_penalty or 0.0)
                totals.setdefault(sub.student.id, {})[a.name] = round(max(score, 0.0), 6)
    if assignment and not possible:
        raise CourseError(f"the gradebook has no assignment {assignment!r}")
    return possible, totals
