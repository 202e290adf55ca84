"""The notebook builders of `coursekit.authoring` make a source notebook that real nbgrader turns into
a release: stubs for solutions, no hidden tests, and a manually graded written answer with its points."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from backprop_lab.coursekit import authoring as A
from backprop_lab.coursekit.release import generate_release

ROOT = Path(__file__).resolve().parents[1]
NAME = "99_demo"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with the repository's nbgrader config and one notebook built with authoring."""
    root = tmp_path_factory.mktemp("course")
    (root / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", root / "autograder")
    (root / "solutions" / NAME).mkdir(parents=True)
    A.write_notebook(root / "solutions" / NAME / f"{NAME}.ipynb", [
        A.md("# 99 · Demo"),
        A.setup(),
        A.solution("linear_solution", '''
            def linear_forward(x, weight, bias):
                ### BEGIN SOLUTION
                return x @ weight.T + bias, (x, weight, True)
                ### END SOLUTION
            '''),
        A.self_check("03.linear"),
        A.hidden_tests("03.linear", points=4),
        A.written_answer("why_sum", "Why is dweight a sum over the batch?", points=2),
        A.code("print('a demo cell')"),
    ])
    db = root / "gradebook.db"
    [release] = generate_release(root, [NAME], dest=root / "course", db_url=f"sqlite:///{db}")
    return root, nbformat.read(release, as_version=4), f"sqlite:///{db}"


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_solution_becomes_a_stub_and_hidden_tests_go(course):
    _, nb, _ = course
    stub = cell(nb, "linear_solution").source
    assert "raise NotImplementedError()" in stub and "x @ weight.T" not in stub
    tests = cell(nb, "tests_03_linear")
    assert 'grade("03.linear")' not in tests.source and tests.metadata.nbgrader["points"] == 4
    assert cell(nb, "check_03_linear").source == 'check("03.linear")'
    assert cell(nb, "setup").metadata.nbgrader["locked"]


def test_written_answer_is_a_manually_graded_markdown_cell(course):
    _, nb, _ = course
    answer = cell(nb, "why_sum")
    assert answer.cell_type == "markdown" and answer.source == "YOUR ANSWER HERE"  # the course's text stub
    meta = answer.metadata.nbgrader
    assert meta["grade"] and meta["solution"] and meta["points"] == 2


def test_nbgrader_records_every_graded_cell_with_its_points(course):
    from nbgrader.api import Gradebook

    _, _, db_url = course
    with Gradebook(db_url) as gb:
        notebook = gb.find_notebook(NAME, NAME)
        graded = {c.name: (c.cell_type, c.max_score) for c in notebook.grade_cells}
    assert graded == {"tests_03_linear": ("code", 4.0), "why_sum": ("markdown", 2.0)}
