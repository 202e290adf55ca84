"""`backprop-lab check` and `progress`: a learner's visible checks, run the way the grader runs them."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from ..checking.core import ExerciseReport, run_exercise
from ..checking.registry import get_exercise
from .sandbox import SandboxRunner

_KEY = re.compile(r"""(?:check|grade)\(\s*["']([\w.\-]+)["']""")


from ..release import NotebookError  # noqa: E402 - re-exported for callers


def read_notebook(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such file; give the path of a course notebook "
                            "(course/NN_topic/NN_topic.ipynb)")
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:
        raise NotebookError(f"{path}: not a readable notebook ({type(exc).__name__}: {str(exc)[:200]}); "
                            "re-download it from the course or restore it from a checkpoint") from None


def exercise_keys(nb) -> list[str]:
    """Exercise keys named by the notebook's check/grade cells, in order, without repeats."""
    keys: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for key in _KEY.findall(cell.source):
                if key not in keys:
                    keys.append(key)
    return keys


def solution_cells(nb) -> list[tuple[str, str]]:
    """(grade_id, source) of the notebook's exercise cells, in order."""
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade", False):
            out.append((meta.get("grade_id", f"cell{len(out)}"), cell.source))
    return out


def check_notebook(path: str | Path, hidden: bool = False, timeout: float = 10.0,
                   seed: int | None = None) -> tuple[list[ExerciseReport], list[str]]:
    """Run the checks of every exercise in the notebook at `path` in the sandbox.

    Returns the reports and the notes from loading the cells (errors, skipped cells).
    """
    nb = read_notebook(path)
    keys = exercise_keys(nb)
    if not keys:
        raise NotebookError(f"{path}: no exercises found (no check(\"...\") cells); is this a course notebook?")
    with SandboxRunner(solution_cells(nb), timeout=timeout) as runner:
        reports = [run_exercise(get_exercise(k), runner, hidden=hidden, seed=seed) for k in keys]
        return reports, list(runner.notes)


def summary_table(rows: list[tuple[str, ExerciseReport]]) -> str:
    """A plain-text table: notebook, exercise, status, points, first problem."""
    lines = [f"{'notebook':<28} {'exercise':<48} {'status':<14} {'points':>9}  note",
             "-" * 120]
    for notebook, rep in rows:
        status = {"pass": "passed", "fail": "wrong", "not_attempted": "not attempted"}[rep.status]
        note = "" if rep.status == "pass" else rep.first_problem()[:70]
        lines.append(f"{notebook:<28} {rep.exercise.title[:48]:<48} {status:<14} "
                     f"{rep.earned:>4g}/{rep.points:<4g}  {note}")
    return "\n".join(lines)


def plot_progress(rows: list[tuple[str, ExerciseReport]], path: str) -> None:
    """Save the progress table as a picture: one row per exercise, coloured by status."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    colours = {"pass": "#b7e4c7", "fail": "#f8c7c7", "not_attempted": "#e9ecef"}
    labels = {"pass": "passed", "fail": "wrong", "not_attempted": "not attempted"}
    fig, ax = plt.subplots(figsize=(12, 0.25 * len(rows) + 0.6))
    ax.axis("off")
    cells = [[nb, rep.exercise.title, labels[rep.status], f"{rep.earned:g}/{rep.points:g}",
              ("" if rep.status == "pass" else rep.first_problem())[:48]] for nb, rep in rows]
    table = ax.table(cellText=cells, colLabels=["notebook", "exercise", "status", "points", "note"],
                     loc="upper center", cellLoc="left", colWidths=[0.17, 0.36, 0.1, 0.07, 0.3])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for i, (_, rep) in enumerate(rows, start=1):
        for j in range(5):
            table[i, j].set_facecolor(colours[rep.status])
    done = sum(rep.status == "pass" for _, rep in rows)
    ax.set_title(f"backprop_lab progress: {done} of {len(rows)} exercises pass", fontsize=11)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
