"""Demo cells that need an unfinished exercise say what to finish first (`finish_first`), so that Run All
on a fresh release reaches the end of every notebook (JupyterLab stops Run All at the first cell that
raises). The browser test (tests/test_browser.py) does the same through JupyterLab's Run menu.
"""
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

from backprop_lab.coursekit.checking import finish_first

ROOT = Path(__file__).resolve().parents[1]
RELEASES = sorted((ROOT / "course").glob("*/*.ipynb"))


def _stub():
    raise NotImplementedError()


def test_an_unfinished_exercise_becomes_a_note(capsys):
    with finish_first("Exercise 4.1", "Exercise 4.3"):
        _stub()
        raise AssertionError("not reached")
    out = capsys.readouterr().out
    assert out.startswith("Finish Exercise 4.1 and Exercise 4.3 first")


def test_a_name_an_earlier_demo_did_not_define_becomes_a_note(capsys):
    cell = 'with finish_first("Exercise 2.3"):\n    print(len(curve_from_the_cell_above))\n'
    exec(compile(cell, "<cell demo>", "exec"), {"finish_first": finish_first})
    out = capsys.readouterr().out
    assert "Finish Exercise 2.3 first" in out and "`curve_from_the_cell_above`" in out


def test_real_errors_still_show():
    def buggy():
        return undefined_inside_a_function  # noqa: F821 - the bug under test

    with pytest.raises(NameError), finish_first("Exercise 1.2"):
        buggy()
    with pytest.raises(ValueError), finish_first("Exercise 1.2"):
        raise ValueError("a real bug")


def test_a_half_drawn_figure_is_closed(capsys):
    before = plt.get_fignums()
    with finish_first("Exercise 4.1"):
        plt.subplots()
        _stub()
    assert plt.get_fignums() == before
    assert "Finish Exercise 4.1 first" in capsys.readouterr().out


@pytest.mark.notebooks
@pytest.mark.parametrize("path", RELEASES, ids=[p.parent.name for p in RELEASES])
def test_run_all_on_a_fresh_release_reaches_the_end(path, tmp_path):
    """Every cell of the untouched release runs without an error (nbclient stops at the first one, as
    Run All does); every self-check says "not attempted yet"."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as exc:
        pytest.fail(f"Run All on {path.parent.name} stops with a traceback:\n{str(exc)[:1500]}")
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")]
    quiet = [c.source for c in checks
             if "not attempted yet" not in "".join(o.get("text", "") for o in c.outputs)]
    assert checks and not quiet, f"self-checks without 'not attempted yet': {quiet}"


@pytest.mark.parametrize("path", RELEASES, ids=[p.parent.name for p in RELEASES])
def test_stub_cells_only_define_functions(path):
    """The release's `raise NotImplementedError()` stubs sit inside function bodies: running a stub
    cell defines functions and raises nothing, so Run All never stops on one."""
    nb = nbformat.read(str(path), as_version=4)
    stubs = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    assert stubs
    top_level = [c.metadata["nbgrader"]["grade_id"] for c in stubs
                 if any(line.startswith("raise NotImplementedError") for line in c.source.splitlines())]
    assert not top_level, f"stub at the top level of a cell (Run All would stop there): {top_level}"
