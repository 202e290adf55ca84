"""A class on the course hub, end to end: deploy/jupyterhub_config.py runs JupyterHub (configurable-http-
proxy from npm, JupyterLab servers with nbgrader), one instructor and three students share an exchange.

1. the instructor releases 01_chain_rule to the exchange (`nbgrader release_assignment`);
2. alice logs in with Chromium, fetches it from the Assignments tab, answers it (the solution cells
   of solutions/01_chain_rule) and submits it from the tab; her server has no Formgrader;
3. bob (one exercise with a bug) and cyd (blank) fetch and submit with nbgrader in their own homes;
4. the instructor collects from the exchange, runs `backprop-lab autograde` and `backprop-lab feedback`,
   releases the feedback (`nbgrader release_feedback`) and opens Formgrader on the hub;
5. bob and cyd fetch their feedback with nbgrader, alice from the Assignments tab; her browser shows
   the feedback page with full marks.

Each student is asserted graded (an autograded notebook, a gradebook score per graded cell) with
the exact scores. Screenshots and the hub's log go to test-output/hub/; each step's time is printed.
Run: python -m pytest -m hub tests/test_hub.py -s
Skips, with the reason, where node, configurable-http-proxy (`npm ci --prefix deploy`), JupyterHub,
Chromium or playwright is missing.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import browser_helpers as bh  # tests/ is on sys.path (rootdir-relative test modules)
import hub_helpers as hh
import pytest

from backprop_lab.coursekit.lab import write_settings

pytestmark = pytest.mark.hub

_MISSING = hh.missing_requirement()
if _MISSING:
    pytestmark = [pytest.mark.hub, pytest.mark.skip(reason=f"hub test skipped: {_MISSING}")]

A = "01_chain_rule"
SOLUTION = hh.ROOT / "solutions" / A / f"{A}.ipynb"
INSTRUCTOR = "instructor"
# Each student's answers and the exact scores they earn, per graded cell (4 + 4 + 4 points).
# bob's bug: dL/dw1 twice too large in the two-layer exercise (one of its four checks fails).
STUDENTS = {
    "alice": ("correct", None, {"tests_01_local_derivatives": 4.0, "tests_01_two_layer": 4.0,
                                "tests_01_numerical_gradient": 4.0}),
    "bob": ("bug", {"two_layer": ('"w1": d_a * x', '"w1": d_a * x * 2')},
            {"tests_01_local_derivatives": 4.0, "tests_01_two_layer": 3.0, "tests_01_numerical_gradient": 4.0}),
    "cyd": ("blank", None, {"tests_01_local_derivatives": 0.0, "tests_01_two_layer": 0.0,
                            "tests_01_numerical_gradient": 0.0}),
}
BROWSER_STUDENT = "alice"
TIMEOUT_MS = 180_000  # a server start on a busy two-core machine


def _score_text(points: float, out_of: float = 12.0) -> re.Pattern:
    """nbgrader's feedback header, e.g. "01_chain_rule (Score: 12.0 / 12.0)"."""
    return re.compile(rf"{A} \(Score: {points:g}(\.0)? / {out_of:g}(\.0)?\)")


def _shot(page, name: str, **kw) -> Path:
    path = bh.screenshot(page, name, folder=hh.SCREENSHOTS, whole_notebook=False, **kw)
    print(f"screenshot: {path}")
    return path


# ---------------------------------------------------------------------------------- browser steps


def _log_in(page, hub: hh.Hub, user: str, shot: str | None = None) -> None:
    """Log in on the hub's page, wait until the user's server is up and JupyterLab has loaded."""
    page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded")
    page.fill("#username_input", user)
    page.fill("#password_input", hh.PASSWORD)
    if shot:
        _shot(page, shot)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{user}/lab"), timeout=TIMEOUT_MS)
    page.locator(".lm-MenuBar-itemLabel").first.wait_for(timeout=TIMEOUT_MS)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=TIMEOUT_MS)


def _open_assignments(page) -> None:
    """Nbgrader > Assignment List, as a student would."""
    page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(r"^Nbgrader$")).click()
    page.locator('li[data-command="nbgrader:open-assignment-list"]').click()
    page.locator("#released_assignments_list").wait_for(timeout=60_000)


def _validate(page) -> str:
    """Expand the downloaded assignment, click its notebook's Validate; the text of nbgrader's answer."""
    fetched = page.locator("#fetched_assignments_list")
    fetched.locator("a", has_text=A).first.click()
    fetched.locator(".item_status button", has_text="Validate").first.click()
    dialog = page.locator(".nbgrader-SuccessDialog, .nbgrader-ErrorDialog").first
    dialog.wait_for(timeout=TIMEOUT_MS)
    return dialog.inner_text()


def _row(page, listing: str):
    """The assignment's row in the Assignments tab's `listing` (released, fetched, submitted)."""
    return page.locator(f"#{listing}_assignments_list > .list_item").filter(has_text=A)


# ------------------------------------------------------------------------------------------- test


def test_a_class_on_the_hub():
    from playwright.sync_api import sync_playwright

    steps = hh.Steps()
    tmp = Path(tempfile.mkdtemp(prefix="backprop-lab-hub-"))
    shutil.rmtree(hh.SCREENSHOTS, ignore_errors=True)
    try:
        course = hh.Course(tmp, INSTRUCTOR, list(STUDENTS))
        hub = hh.Hub(course, tmp / "hub", log_path=hh.SCREENSHOTS / "jupyterhub.log")
        with steps("hub: start JupyterHub and configurable-http-proxy"):
            hub.start()
        print(f"hub at {hub.url}, course {course.root}, exchange {course.exchange}, log {hub.log_path}")
        try:
            with sync_playwright() as playwright:
                browser = bh.launch_chromium(playwright)
                try:
                    _class(course, hub, browser, steps)
                finally:
                    browser.close()
        except BaseException:
            print(f"the end of the hub's log ({hub.log_path}):\n{hub.log_tail()}")
            raise
        finally:
            with steps("hub: stop (servers, kernels, proxy)"):
                hub.stop()
    finally:
        print("\nhub round trip, step by step:\n" + steps.table())
        hh.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (hh.SCREENSHOTS / "timings.txt").write_text(steps.table() + "\n")
        shutil.rmtree(tmp, ignore_errors=True)


def _class(course: hh.Course, hub: hh.Hub, browser, steps: hh.Steps) -> None:
    with steps("instructor: nbgrader release_assignment"):
        out = course.nbgrader(INSTRUCTOR, "release_assignment", A)
    assert (course.exchange / hh.COURSE_ID / "outbound" / A / f"{A}.ipynb").is_file(), out.stderr

    # ---- alice, in Chromium: log in, Assignments tab, fetch, answer, submit
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    write_settings(course.home(BROWSER_STUDENT) / ".jupyter" / "lab" / "user-settings")  # no news pop-up
    with steps(f"{BROWSER_STUDENT}: log in, server starts, JupyterLab loads"):
        _log_in(page, hub, BROWSER_STUDENT, shot="01-hub-login")
    with steps(f"{BROWSER_STUDENT}: Assignments tab lists the release"):
        _open_assignments(page)
        released = _row(page, "released")
        released.wait_for(timeout=60_000)
        assert hh.COURSE_ID in released.inner_text()
    _shot(page, "02-assignments-released")
    with steps(f"{BROWSER_STUDENT}: Fetch"):
        released.locator(".item_status button").click()
        _row(page, "fetched").wait_for(timeout=60_000)
    fetched = course.home(BROWSER_STUDENT) / A / f"{A}.ipynb"
    assert fetched.is_file(), f"the Assignments tab's Fetch did not write {fetched}"
    hh.fill(fetched, SOLUTION)  # her answers, saved in her home
    with steps(f"{BROWSER_STUDENT}: Validate (runs her notebook in a kernel on her server)"):
        verdict = _validate(page)
    _shot(page, "03-assignments-validated")
    page.locator(".nbgrader-SuccessDialog button.jp-Dialog-button, "
                 ".nbgrader-ErrorDialog button.jp-Dialog-button").first.click()
    assert "Success" in verdict, f"Validate did not pass alice's correct notebook:\n{verdict}"
    with steps(f"{BROWSER_STUDENT}: Submit"):
        _row(page, "fetched").locator(".item_status button", has_text="Submit").click()
        _row(page, "submitted").wait_for(timeout=60_000)
    _shot(page, "04-assignments-submitted")
    response = page.request.get(f"{hub.url}/user/{BROWSER_STUDENT}/formgrader")
    assert response.status == 404, f"a student's server serves Formgrader (HTTP {response.status})"

    # ---- bob and cyd, in their own homes with nbgrader's exchange (at the same time, as a class does)
    def by_cli(student: str) -> None:
        kind, edits, _ = STUDENTS[student]
        course.nbgrader(student, "fetch_assignment", A)
        if kind != "blank":
            hh.fill(course.home(student) / A / f"{A}.ipynb", SOLUTION, edits)
        course.nbgrader(student, "submit", A)

    others = [s for s in STUDENTS if s != BROWSER_STUDENT]
    with steps(f"{', '.join(others)}: nbgrader fetch_assignment, answer, submit"), ThreadPoolExecutor(2) as pool:
        list(pool.map(by_cli, others))
    inbound = sorted(p.name.split("+")[0] for p in (course.exchange / hh.COURSE_ID / "inbound").iterdir())
    assert inbound == sorted(STUDENTS), f"the exchange's inbound holds {inbound}"

    # ---- the instructor: collect, autograde, feedback, release the feedback
    with steps("instructor: nbgrader collect"):
        course.nbgrader(INSTRUCTOR, "collect", A)
    submitted = course.root / "autograder" / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)
    with steps("instructor: backprop-lab autograde"):
        graded = course.backprop_lab(INSTRUCTOR, "autograde", A)
    print(graded.stdout)
    _assert_graded(course)
    with steps("instructor: backprop-lab feedback"):
        course.backprop_lab(INSTRUCTOR, "feedback", A)
    with steps("instructor: nbgrader release_feedback"):
        course.nbgrader(INSTRUCTOR, "release_feedback", A)
    released_feedback = list((course.exchange / hh.COURSE_ID / "feedback").glob("*.html"))
    assert len(released_feedback) == len(STUDENTS), released_feedback
    _formgrader(course, hub, browser, steps)

    # ---- the students read their feedback
    with steps(f"{', '.join(others)}: nbgrader fetch_feedback"), ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: course.nbgrader(s, "fetch_feedback", A), others))
    for student in others:
        total = sum(STUDENTS[student][2].values())
        text = _feedback_file(course, student).read_text()
        assert _score_text(total).search(text), f"{student}'s feedback does not say {total:g} / 12"
    with steps(f"{BROWSER_STUDENT}: Fetch Feedback in the Assignments tab"):
        page.locator("#refresh_assignments_list").click()
        _row(page, "submitted").locator(".item_status button", has_text="Fetch Feedback").click()
        page.locator("#submitted_assignments_list").get_by_text("(view feedback)").wait_for(timeout=60_000)
    _shot(page, "05-assignments-feedback-fetched")
    feedback = _feedback_file(course, BROWSER_STUDENT)
    relpath = urllib.parse.quote(feedback.relative_to(course.home(BROWSER_STUDENT)).as_posix())
    with steps(f"{BROWSER_STUDENT}: open the feedback page"):
        page.goto(f"{hub.url}/user/{BROWSER_STUDENT}/files/{relpath}", wait_until="load")
    _shot(page, "06-feedback-page")  # the whole page
    page.screenshot(path=str(hh.SCREENSHOTS / "06-feedback-page-top.png"))  # the score, readable
    shown = page.locator("body").inner_text()
    assert _score_text(12.0).search(shown), f"alice's feedback page does not show 12 / 12:\n{shown[:600]}"
    context.close()


def _feedback_file(course: hh.Course, student: str) -> Path:
    """The feedback the student fetched: ~/01_chain_rule/feedback/<timestamp>/01_chain_rule.html."""
    found = sorted((course.home(student) / A / "feedback").glob(f"*/{A}.html"))
    assert len(found) == 1, f"{student} has {len(found)} feedback file(s) in {course.home(student) / A}"
    return found[0]


def _assert_graded(course: hh.Course) -> None:
    """Each student was graded: an autograded notebook, a score per graded cell, the exact scores."""
    cells, scores = hh.gradebook_scores(course.root, A)
    assert len(cells) == 3, cells
    for student, (_, _, expected) in STUDENTS.items():
        autograded = course.root / "autograder" / "autograded" / student / A / f"{A}.ipynb"
        assert autograded.is_file(), f"{student} was not autograded: no {autograded}"
        got = scores.get(student)
        assert got is not None, f"the gradebook has no submission of {student}"
        assert sorted(got) == sorted(cells), f"{student}: graded cells {sorted(got)}, expected {sorted(cells)}"
        assert None not in got.values(), f"{student}: a graded cell has no score: {got}"
        assert got == pytest.approx(expected), f"{student}: {got}, expected {expected}"


def _formgrader(course: hh.Course, hub: hh.Hub, browser, steps: hh.Steps) -> None:
    """The instructor logs in; Formgrader (opened in a tab of its own, as nbgrader's documentation says
    for JupyterHub >= 4.1) lists the assignment with its three submissions."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    write_settings(course.home(INSTRUCTOR) / ".jupyter" / "lab" / "user-settings")
    with steps("instructor: log in, server starts, JupyterLab loads"):
        _log_in(page, hub, INSTRUCTOR)
    with steps("instructor: Formgrader lists the assignment"):
        page.goto(f"{hub.url}/user/{INSTRUCTOR}/formgrader", wait_until="domcontentloaded")
        row = page.locator("tbody tr").filter(has=page.locator("td", has_text=re.compile(rf"^{A}$"))).first
        row.wait_for(timeout=60_000)
    _shot(page, "07-instructor-formgrader")
    headers = [" ".join(h.split()) for h in page.locator("thead th").all_inner_texts()]
    cells = dict(zip(headers, (" ".join(c.split()) for c in row.locator("td").all_inner_texts())))
    assert cells.get("Status") == "released", cells
    assert cells.get("# Submissions") == str(len(STUDENTS)), cells
    context.close()
