"""A graded cell's outputs: the exercise's checks as a readable block, and the points for nbgrader.

`report_outputs` gives three outputs:

1. ``display_data`` with ``text/html`` (a heading with the points, one line per check with ✓ or ✗ and
   its points, the diagnosis wrapped beneath a failed check, notes from loading the cells) and a
   ``text/plain`` fallback with the same content (`ExerciseReport.text`);
2. the points as an ``execute_result`` (nbgrader's `SaveAutoGrades` reads it as partial credit), or an
   ``error`` when no point was earned (nbgrader gives such a cell 0).

Everything from a check or a student's traceback is HTML-escaped; long lines wrap (no sideways
scrolling). Styles are inline, so the block reads the same in the feedback page, Formgrader and
JupyterLab (whose sanitizer drops ``<style>`` elements but keeps simple inline styles).
"""
from __future__ import annotations

import textwrap
from functools import partial
from html import escape as html_escape

from nbformat.v4 import new_output

from ..checking.core import ExerciseReport

PASS, FAIL = "#1a7f37", "#cf222e"
_BOX = ("font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 14px; line-height: 1.45; "
        "border-left: 4px solid {color}; padding: 6px 12px; margin: 4px 0; background: #f6f8fa; "
        "max-width: 100%; box-sizing: border-box; white-space: normal;")
escape = partial(html_escape, quote=False)  # text, not attribute values: quotes stay readable
_WRAP = "white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;"


def _points(value: float) -> str:
    return f"{round(value, 2):g}"


def _check_html(outcome, scale: float) -> str:
    ok = outcome.status == "pass"
    mark = f'<span style="color: {PASS if ok else FAIL}; font-weight: bold;">{"✓" if ok else "✗"}</span>'
    pts = f"{_points(outcome.earned * scale)}/{_points(outcome.points * scale)} pt"
    detail = ""
    if ok:
        errors = [r.max_rel_error for r in outcome.results if r.max_rel_error == r.max_rel_error]  # not NaN
        if errors and max(errors) != float("inf"):
            detail = f' <span style="color: #57606a;">max. relative error {max(errors):.1e}</span>'
    html = (f'<li style="margin: 3px 0; list-style: none;">{mark} {escape(outcome.check)} '
            f'<span style="color: #57606a;">({pts})</span>{detail}')
    if not ok and outcome.message:
        html += (f'<div style="margin: 2px 0 6px 1.4em; color: #24292f; {_WRAP}">'
                 f"{escape(textwrap.dedent(outcome.message).strip())}</div>")
    return html + "</li>"


def report_html(report: ExerciseReport, earned: float, max_score: float, notes=()) -> str:
    """The HTML block of one graded exercise (see the module docstring)."""
    scale = max_score / report.points if report.points else 0.0
    color = PASS if report.status == "pass" else FAIL
    head = (f'<div style="font-weight: 600; margin-bottom: 4px;">{escape(report.exercise.title)}: '
            f'{_points(earned)} / {_points(max_score)} points</div>')
    if report.status == "not_attempted":
        names = ", ".join(f"<code>{escape(f)}</code>" for f in report.exercise.functions)
        body = (f'<div style="{_WRAP}">This exercise is not attempted yet: write {names} in '
                f"{escape(report.exercise.where)} (replace <code>raise NotImplementedError()</code>).</div>")
    else:
        body = ('<ul style="padding-left: 0; margin: 0;">'
                + "".join(_check_html(o, scale) for o in report.outcomes) + "</ul>")
    if notes:
        body += ('<div style="margin-top: 6px; color: #57606a;">While loading your exercise cells:<ul '
                 'style="margin: 2px 0; padding-left: 1.4em;">'
                 + "".join(f'<li style="{_WRAP}">{escape(str(n))}</li>' for n in notes) + "</ul></div>")
    return f'<div class="bpl-report" style="{_BOX.format(color=color)}">{head}{body}</div>'


def report_text(report: ExerciseReport, notes=()) -> str:
    """The plain-text fallback (what a terminal or a text-only viewer shows)."""
    text = report.text()
    if notes:
        text += "\nWhile loading your exercise cells:\n" + "\n".join(f"  - {n}" for n in notes)
    return text


def report_outputs(report: ExerciseReport, earned: float, max_score: float, notes=()) -> list:
    """The outputs of a graded test cell: the report (HTML + text) and the points (see the module docstring).

    Args:
        report: the exercise's checks as run by the grader.
        earned: points earned in this cell (already scaled to the cell's `max_score`).
        max_score: the cell's points in the gradebook.
        notes: lines about loading the student's cells (a syntax error, a forbidden import...).
    """
    outputs = [new_output("display_data", data={"text/html": report_html(report, earned, max_score, notes),
                                                "text/plain": report_text(report, notes)})]
    if earned <= 0:
        outputs.append(new_output("error", ename="NoPoints", evalue=f"0 / {max_score:g} points", traceback=[]))
    else:
        outputs.append(new_output("execute_result", data={"text/plain": f"{round(earned, 6)}"},
                                  execution_count=None))
    return outputs
