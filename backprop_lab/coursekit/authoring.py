"""Helpers for instructors who write course notebooks in the backprop_lab exercise format.

A source notebook (``solutions/<NN_topic>/<NN_topic>.ipynb``) is built from these cells::

    cells = [
        md("# 03 · Vectorized layers ..."),
        setup(),                                   # read-only imports, incl. check/grade
        md("## Exercise 3.1 — linear layer ..."),
        solution("linear_solution", '''
            def linear_forward(x, weight, bias):
                ### BEGIN SOLUTION
                ...
                ### END SOLUTION
            '''),
        self_check("03.linear"),                   # visible: prints pass / diagnosis / not attempted
        hidden_tests("03.linear", points=4),       # autograded; stripped from the release
    ]
    write_notebook("solutions/03_vectorized_layers/03_vectorized_layers.ipynb", cells)

The points of a hidden test cell must equal the exercise's points in the registry
(`backprop_lab.coursekit.exercises`); a test checks it.
"""
from __future__ import annotations

import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SETUP_SOURCE = """\
%matplotlib inline
import math
import numpy as np
import matplotlib.pyplot as plt
from backprop_lab.coursekit.checking import check, grade  # check: your self-check; grade: the autograder's cells
"""


def _meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str):
    """A prose cell (markdown, LaTeX with $...$)."""
    return new_markdown_cell(_src(text))


def code(text: str):
    """A plain code cell: demos and plots the learner runs (not graded, not locked)."""
    return new_code_cell(_src(text))


def setup(extra: str = "", grade_id: str = "setup"):
    """The read-only first code cell: imports, `check` and `grade`."""
    return new_code_cell(SETUP_SOURCE + _src(extra), metadata=_meta(grade_id, locked=True))


def solution(grade_id: str, text: str):
    """A cell the learner completes. Mark the answer with ``### BEGIN SOLUTION`` /
    ``### END SOLUTION``; the release replaces it with ``raise NotImplementedError()``.
    Keep it self-contained apart from ``np`` and ``math``: the grader runs exercise cells only."""
    return new_code_cell(_src(text), metadata=_meta(grade_id, solution=True))


def written_answer(grade_id: str, text: str, points: float):
    """A manually graded markdown answer (the learner replaces the text)."""
    return new_markdown_cell(_src(text), metadata=_meta(grade_id, grade=True, solution=True, points=points))


def self_check(key: str, grade_id: str | None = None):
    """The visible check of exercise `key` (read-only)."""
    return new_code_cell(f'check("{key}")', metadata=_meta(grade_id or f"check_{key.replace('.', '_')}", locked=True))


def hidden_tests(key: str, points: float, grade_id: str | None = None):
    """The autograded cell of exercise `key`; its body is removed from the release."""
    body = f'### BEGIN HIDDEN TESTS\ngrade("{key}")\n### END HIDDEN TESTS'
    return new_code_cell(body, metadata=_meta(grade_id or f"tests_{key.replace('.', '_')}", grade=True, locked=True,
                                              points=points))


def write_notebook(path: str, cells) -> None:
    """Write a source notebook without outputs, with the python3 kernelspec."""
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    nbformat.write(nb, path)
