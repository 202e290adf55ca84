"""The graded cell's outputs (grading/render.py): readable HTML per check, a text fallback, the points
nbgrader reads, everything from student code escaped; and the feedback page's math renders offline."""
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from nbformat.v4 import new_code_cell
from nbgrader.utils import determine_grade

from backprop_lab.coursekit.checking.core import LocalRunner, Outcome, run_exercise
from backprop_lab.coursekit.checking.registry import get_exercise
from backprop_lab.coursekit.grading.render import report_outputs

ROOT = Path(__file__).resolve().parents[1]


def _two_layer(factor=1.0):
    def two_layer_grads(x, y, w1, b1, w2, b2):
        a = w1 * x + b1
        h = math.tanh(a)
        out = w2 * h + b2
        d_out = out - y
        d_a = d_out * w2 * (1 - h * h)
        return {"w1": d_a * x * factor, "b1": d_a, "w2": d_out * h, "b2": d_out}
    return {"np": np, "math": math, "two_layer_grads": two_layer_grads}


def _graded_cell(outputs, points):
    cell = new_code_cell("", metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                    "grade_id": "t", "points": points}})
    cell.outputs = outputs
    return cell


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.parts.append(data)


def _parse(html):
    p = _Text()
    p.feed(html)
    return "".join(p.parts), p.tags


def test_failed_check_shows_cross_points_and_wrapped_diagnosis():
    ex = get_exercise("01.two_layer")
    report = run_exercise(ex, LocalRunner(_two_layer(factor=2.0)), hidden=True, seed=3)
    earned = report.earned * 4 / report.points
    outputs = report_outputs(report, earned, 4.0)
    assert [o.output_type for o in outputs] == ["display_data", "execute_result"]
    html, plain = outputs[0].data["text/html"], outputs[0].data["text/plain"]
    text, tags = _parse(html)
    assert f"{earned:g} / 4 points" in text and "✓" in text and "✗" in text
    assert "twice the expected value" in text and "pre-wrap" in html  # the diagnosis wraps, never scrolls
    assert text.count("✗") == sum(o.status != "pass" for o in report.outcomes)
    assert "script" not in tags and "twice the expected value" in plain
    assert determine_grade(_graded_cell(outputs, 4.0)) == (pytest.approx(earned), 4.0)


def test_all_pass_gives_full_points_and_no_cross():
    report = run_exercise(get_exercise("01.two_layer"), LocalRunner(_two_layer()), hidden=True, seed=3)
    outputs = report_outputs(report, 4.0, 4.0)
    text, _ = _parse(outputs[0].data["text/html"])
    assert "✗" not in text and "4 / 4 points" in text and "max. relative error" in text
    assert determine_grade(_graded_cell(outputs, 4.0)) == (4.0, 4.0)


def test_zero_points_is_an_error_output_and_student_text_is_escaped():
    ex = get_exercise("01.two_layer")
    report = run_exercise(ex, LocalRunner({"np": np}), hidden=True, seed=3)  # not attempted
    bad = Outcome("<img src=x onerror=alert(1)>", 1.0, 0.0, "error", message="raised <script>alert(1)</script>")
    report.outcomes.append(bad)
    outputs = report_outputs(report, 0.0, 4.0, notes=["cell `two_layer`: SyntaxError <b>"])
    html = outputs[0].data["text/html"]
    _, tags = _parse(html)
    assert not {"img", "script", "b"} & set(tags), tags
    assert "&lt;script&gt;" in html and "SyntaxError &lt;b&gt;" in html
    assert outputs[-1].output_type == "error" and determine_grade(_graded_cell(outputs, 4.0)) == (0, 4.0)


@pytest.mark.browser
def test_feedback_math_renders_offline_in_chromium(tmp_path):
    """A feedback page from nbgrader with the course config: MathJax typesets with every http(s) request
    refused (the page's MathJax is this machine's jupyter-server-mathjax copy)."""
    from browser_helpers import CHROMIUM_ARGS, chromium_path
    from nbconvert import HTMLExporter
    from traitlets.config.loader import PyFileConfigLoader

    if chromium_path() is None:
        pytest.skip("Chromium not found (/usr/bin/chromium); install Debian's chromium")
    pytest.importorskip("playwright")
    pytest.importorskip("jupyter_server_mathjax", reason="pip install jupyter-server-mathjax (the course extra)")
    import nbformat
    import nbgrader
    from playwright.sync_api import sync_playwright

    from backprop_lab.coursekit.grading.feedback import FEEDBACK_TEMPLATES, local_mathjax_url

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()  # the course's
    config.HTMLExporter.template_name = "feedback"  # as nbgrader's GenerateFeedback sets it, with its css
    config.HTMLExporter.extra_template_paths = [str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
                                                    / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    assert str(FEEDBACK_TEMPLATES) in config.HTMLExporter.extra_template_basedirs and local_mathjax_url()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "Inline $\\frac{\\partial L}{\\partial w} = x\\,\\delta$ and\n\n$$\\sigma'(z) = \\sigma(z)(1-\\sigma(z))$$\n\n"
        "| f | f' |\n|---|---|\n| $x^2$ | $2x$ |")])
    resources = {"nbgrader": {"notebook": "demo", "score": 1, "max_score": 1, "late_penalty": 0}}
    html, _ = HTMLExporter(config=config).from_notebook_node(nb, resources=resources)
    assert "cdnjs" not in html.split("jupyter_server_mathjax")[0]  # the local copies come first
    page = tmp_path / "feedback.html"
    page.write_text(html)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            refused = []
            tab.route(re.compile(r"^https?://"), lambda route: (refused.append(route.request.url), route.abort()))
            tab.goto(page.as_uri())
            tab.wait_for_function("document.querySelectorAll('.MathJax, .MathJax_Display').length >= 4",
                                  timeout=30000)
            text = tab.inner_text("body")
        finally:
            browser.close()
    assert "$" not in text and not refused, (text[:300], refused)
