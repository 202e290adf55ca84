"""The course as a learner and an instructor see it: JupyterLab in Chromium, driven by Playwright.

One JupyterLab server (started through `backprop_lab.coursekit.lab.lab_command`, on a free localhost port, with
temporary settings and workspace directories) serves a temporary copy of solutions/, course/ and
autograder/nbgrader_config.py, so nothing is written into the working tree. For each notebook below:

* the solution copy (01 and 06): Run > Run All Cells, wait until every code cell has a numbered prompt
  and the kernel is idle; no error or stderr output; the plots rendered (decoded <img> elements);
* the release copy of EVERY notebook in course/ (a fresh release, nothing written): Run All reaches the
  end: every code cell runs (JupyterLab stops Run All at the first cell that raises), no error output
  (no raw traceback, e.g. a demo cell's NotImplementedError), every check cell says "not attempted
  yet", and the demo cells that need an exercise say what to finish first;
* nbgrader's Validate button on a solution notebook reports success.

Each release's Run-All result is recorded in test-output/browser/run_all.json.

Screenshots go to test-output/browser/ (git-ignored); their paths are printed (pytest -s).
Run: python -m pytest -q -m browser tests/test_browser.py -s
Skips with the reason when Chromium or the playwright package is missing.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import browser_helpers as bh  # tests/ is on sys.path (rootdir-relative test modules)
import pytest

pytestmark = pytest.mark.browser

_MISSING = bh.missing_requirement()
if _MISSING:
    pytestmark = [pytest.mark.browser, pytest.mark.skip(reason=f"browser test skipped: {_MISSING}")]


@dataclass(frozen=True)
class Notebook:
    assignment: str         # folder under solutions/ and course/
    validate: bool = False  # click nbgrader's Validate on the solution copy too
    run_timeout_s: float = 150.0

    def path(self, folder: str) -> Path | None:
        found = sorted((bh.ROOT / folder / self.assignment).glob("*.ipynb"))
        return found[0] if found else None


# 01 from part 1 and 06 from part 2 (plots); a notebook is skipped while its files do not exist.
# The expected plots are read from the notebook: every code cell that calls plt.show().
NOTEBOOKS = [
    Notebook("01_chain_rule", validate=True),
    Notebook("06_vanishing_exploding"),
]
IDS = [nb.assignment for nb in NOTEBOOKS]
# Every release notebook: Run All on a fresh copy must reach the end.
RELEASES = [Notebook(p.name) for p in sorted((bh.ROOT / "course").iterdir()) if p.is_dir()]
RELEASE_IDS = [nb.assignment for nb in RELEASES]


def _require(nb: Notebook, folder: str) -> Path:
    path = nb.path(folder)
    if path is None:
        how = ("its source notebook has not been written yet" if folder == "solutions"
               else "no student release yet (run `backprop-lab release`)")
        pytest.skip(f"{folder}/{nb.assignment}/*.ipynb does not exist: {how}")
    return path


def _code_sources(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _check_cells(path: Path) -> list[int]:
    """Indices (among the code cells) of the self-check cells, `check("...")`."""
    return [i for i, src in enumerate(_code_sources(path)) if src.lstrip().startswith("check(")]


def _plot_cells(path: Path) -> list[int]:
    """Indices (among the code cells) of the cells that draw a figure, i.e. call plt.show()."""
    return [i for i, src in enumerate(_code_sources(path)) if "plt.show()" in src]


# ----------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lab():
    tmp = Path(tempfile.mkdtemp(prefix="backprop-lab-browser-"))
    root = bh.copy_course(tmp / "course")
    server = bh.LabServer(root, log_path=bh.SCREENSHOTS / "jupyterlab.log")
    start = time.perf_counter()
    server.start()
    print(f"\nJupyterLab (pid {server.proc.pid}) on {server.base_url}, root {root}, "
          f"up in {time.perf_counter() - start:.1f} s")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = bh.launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def lab_page(browser, lab):
    """One JupyterLab page for the module: loading the app costs ~10 s, opening a notebook in it ~3 s."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    start = time.perf_counter()
    bh.load_lab(page, lab, workspace="browser-test")
    print(f"JupyterLab loaded in Chromium in {time.perf_counter() - start:.1f} s")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(lab_page, lab):
    """The shared page, left with no notebook open and no kernel running after each test."""
    lab_page.console_errors.clear()
    try:
        yield lab_page
    finally:
        start = time.perf_counter()
        try:
            bh.close_dialogs(lab_page)
            bh.close_notebook(lab_page)
        except Exception as exc:  # a failed test may leave the page in any state: start it afresh
            print(f"closing the notebook failed ({exc}); reloading JupyterLab")
            bh.load_lab(lab_page, lab, workspace=f"browser-test-{time.monotonic_ns()}")
        bh.shutdown_kernels(lab)
        print(f"notebook closed in {time.perf_counter() - start:.1f} s")


def _run_all(page, path: Path, timeout_s: float, record: str = "") -> list[dict]:
    """Open `path` (a file of the repository, served from the temporary copy), Run > Run All Cells,
    wait for the end; the code cells as the page shows them."""
    relpath = path.relative_to(bh.ROOT).as_posix()
    sources = _code_sources(path)
    start = time.perf_counter()
    bh.open_notebook(page, relpath)
    opened = time.perf_counter()
    bh.run_all_from_menu(page)
    empty = frozenset(i for i, src in enumerate(sources) if not src.strip())
    bh.wait_for_run_all(page, timeout_s, skip=empty)
    print(f"{relpath}: opened (kernel idle) in {opened - start:.1f} s, "
          f"Run All done in {time.perf_counter() - opened:.1f} s")
    cells = bh.code_cells(page)
    assert len(cells) == len(sources), f"the page shows {len(cells)} code cells, {relpath} has {len(sources)}"
    for cell, src in zip(cells, sources):
        cell["source"] = src.strip().splitlines()[0][:80] if src.strip() else ""
    if record:
        entry = bh.record_run_all(path.parent.name, record, cells, time.perf_counter() - opened)
        print(f"Run-All result: {json.dumps(entry)}")
    return cells


def _screenshot(page, name: str, **kw) -> None:
    start = time.perf_counter()
    path = bh.screenshot(page, name, **kw)
    print(f"screenshot ({time.perf_counter() - start:.1f} s): {path}")


def _problems(cells: list[dict]) -> list[str]:
    out = []
    for c in cells:
        if c["source"] and not bh.numbered(c["prompt"]):
            out.append(f"code cell {c['index']} did not run (prompt {c['prompt']!r}): {c['source']!r}")
        for err in c["errors"]:
            out.append(f"code cell {c['index']} ({c['source']!r}) shows an error/stderr output:\n{err}")
    return out


# -------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_solution_runs_clean_with_plots(nb, page):
    path = _require(nb, "solutions")
    cells = _run_all(page, path, nb.run_timeout_s, record="solutions")
    _screenshot(page, f"{nb.assignment}-solution")

    problems = _problems(cells)
    assert not problems, "\n".join(problems)
    passes = [c for c in cells if "not attempted" in c["text"] or "FAIL" in c["text"]]
    assert not passes, f"a self-check did not pass in the solution: {passes[0]['text'][:300]}"

    images = bh.output_images(page)
    print(f"{len(images)} output image(s): " + ", ".join(f"{i['width']}x{i['height']}" for i in images))
    broken = [img for img in images if not img["decoded"]]
    assert not broken, f"{len(broken)} of {len(images)} output images did not decode: {broken}"
    plotted = {img["cell"] for img in images}
    missing = [i for i in _plot_cells(path) if i not in plotted]
    assert not missing, "no rendered plot under: " + "; ".join(
        f"code cell {i} ({cells[i]['source']!r})" for i in missing)
    assert not page.console_errors, f"JavaScript errors in the page: {page.console_errors}"

    if nb.validate:
        start = time.perf_counter()
        message = bh.validate(page)
        print(f"Validate answered in {time.perf_counter() - start:.1f} s: {message!r}")
        _screenshot(page, f"{nb.assignment}-validate", whole_notebook=False)
        bh.close_dialogs(page)
        assert "Success! Your notebook passes all the tests." in message, message


@pytest.mark.parametrize("nb", RELEASES, ids=RELEASE_IDS)
def test_run_all_on_a_fresh_release_reaches_the_end(nb, page):
    _require(nb, "solutions")
    path = _require(nb, "course")
    expected = _check_cells(path)
    assert expected, f"{path.name} has no check(...) cells"
    cells = _run_all(page, path, nb.run_timeout_s, record="course")
    _screenshot(page, f"{nb.assignment}-release")

    # A learner who runs the fresh release top to bottom sees friendly messages, not tracebacks.
    problems = _problems(cells)
    assert not problems, "\n".join(problems)
    raw = [c for c in cells if "Traceback" in c["text"]]
    assert not raw, "raw traceback in the output of: " + "; ".join(f"code cell {c['index']} ({c['source']!r})"
                                                                   for c in raw)
    unfriendly = [cells[i] for i in expected if "not attempted yet" not in cells[i]["text"]]
    assert not unfriendly, "check cells without a 'not attempted yet' message:\n" + "\n".join(
        f"code cell {c['index']} ({c['source']!r}): {c['text'][:300]!r}" for c in unfriendly)
    print(f"{len(expected)} check cell(s) say 'not attempted yet'")
    assert not page.console_errors, f"JavaScript errors in the page: {page.console_errors}"
