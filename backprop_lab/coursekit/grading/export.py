"""`backprop-lab export`: the gradebook as a table, one row per student."""
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
