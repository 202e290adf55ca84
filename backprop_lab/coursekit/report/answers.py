"""The answer cells a class handed in, and the release's stubs they started from (for `similarity`).

Cells are matched by their nbgrader grade id (the release's solution cells); a cell the student
left as the stub, deleted or cannot be read is no answer. Nothing is run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from ..checking.registry import get_exercise
from ..grading.collect import SUBMITTED
from ..grading.selfcheck import exercise_keys, solution_cells


def release_cells(root: Path, assignment: str) -> dict[str, str]:
    """{grade_id: stub source} of the release's exercise cells, in notebook order."""
    path = Path(root) / "course" / assignment / f"{assignment}.ipynb"
    return dict(solution_cells(nbformat.read(str(path), as_version=4)))


def cell_exercises(root: Path, assignment: str, stubs: dict[str, str]) -> dict[str, str]:
    """{grade_id: exercise key} ("linear" -> "03.linear"): the exercise whose functions the cell defines.

    A cell that defines none of an exercise's functions keeps its grade id as its label.
    """
    path = Path(root) / "course" / assignment / f"{assignment}.ipynb"
    keys = exercise_keys(nbformat.read(str(path), as_version=4))
    functions = {}
    for key in keys:
        try:
            functions[key] = {f.split(".")[0] for f in get_exercise(key).functions}
        except KeyError:
            continue
    out = {}
    for gid, source in stubs.items():
        try:
            defined = {n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        except SyntaxError:
            defined = set()
        out[gid] = next((k for k, names in functions.items() if names & defined), gid)
    return out


def submitted_answers(root: Path, assignment: str, stubs: dict[str, str]) -> tuple[dict, list[str]]:
    """({student: {grade_id: source}}, notes) of every submission in autograder/submitted/.

    Only cells that differ from the stub count as answers. Notes name the notebooks that could not
    be read (they are left out, never changed).
    """
    base = Path(root) / SUBMITTED
    answers: dict[str, dict[str, str]] = {}
    notes = []
    for folder in sorted(base.glob(f"*/{assignment}")) if base.is_dir() else []:
        student = folder.parent.name
        cells: dict[str, str] = {}
        for path in sorted(folder.glob("*.ipynb")):
            try:
                nb = nbformat.read(str(path), as_version=4)
            except Exception as exc:
                notes.append(f"{student}: {path.name} is not a readable notebook ({type(exc).__name__}); left out")
                continue
            for gid, source in solution_cells(nb):
                if gid in stubs and gid not in cells and source.strip() != stubs[gid].strip():
                    cells[gid] = source
        answers[student] = cells
    return answers, notes
