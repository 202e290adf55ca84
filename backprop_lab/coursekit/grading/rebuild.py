"""Rebuild a submitted notebook against the gradebook's record of its source, before nbgrader sees it.

`cell_metadata_truth` reads what the gradebook recorded at release time; `rebuild` makes a
submission agree with it. Both are pure with respect to the course folder once the truth is read:
grading tasks get the truth as data.
"""
from __future__ import annotations

from pathlib import Path


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


def rebuild(nb, truth: dict) -> list[str]:
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
    return []
