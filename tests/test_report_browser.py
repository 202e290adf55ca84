"""The class report renders in Chromium with every figure, from the file alone (no network).

Builds the report of the synthetic class (tests/report_kit.py), opens report.html from disk in
headless Chromium with every non-file request refused, and checks that each figure decoded and
has a size, and that the sections are there. A screenshot goes to test-output/browser/report.png.
Skips with the reason when Chromium or playwright is missing.
"""
from __future__ import annotations

import browser_helpers as bh  # tests/ is on sys.path (rootdir-relative test modules)
import pytest
import report_kit as rk

from backprop_lab.coursekit.report.build import write_report

pytestmark = pytest.mark.browser

_MISSING = bh.missing_requirement()
if _MISSING:
    pytestmark = [pytest.mark.browser, pytest.mark.skip(reason=f"browser test skipped: {_MISSING}")]


def test_report_page_renders_with_its_figures(tmp_path):
    from playwright.sync_api import sync_playwright

    root = rk.demo_class(tmp_path / "class")
    _, html_path, _ = write_report(root, rk.A)
    expected_figures = html_path.read_text().count("<img ")
    requests = []
    with sync_playwright() as playwright:
        browser = bh.launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                       else (requests.append(route.request.url), route.abort()))
            page.goto(html_path.as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate("""() => Array.from(document.images).map(i => ({
                alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
                shown: i.getBoundingClientRect().width}))""")
            headings = page.locator("h2").all_inner_texts()
            flagged = page.locator("table", has_text="fay & gus").count()
            bh.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = bh.SCREENSHOTS / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        finally:
            browser.close()
    assert requests == []  # self-contained: nothing fetched from anywhere
    assert len(images) == expected_figures >= 11  # scores, checks, 4 misconception bars, 4 histograms, reference
    for img in images:
        assert img["complete"] and img["width"] > 100 and img["height"] > 50 and img["shown"] > 100, img
    assert [h.split(". ", 1)[1] for h in headings] == [
        "Scores and checks", "Misconceptions", "Students", "Similar submissions", "Copied from the reference"]
    assert flagged >= 1
